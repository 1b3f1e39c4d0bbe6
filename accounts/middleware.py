"""Pages for users whose role needs a second factor stay closed until they have given it."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from accounts import twofactor
from accounts.models import PasswordChangeDemand
from trial import access


class TwoFactorMiddleware:
    """After the password, a statistician, data manager or administrator sees only the pages
    that finish logging in (the code, or enrolling an authenticator) and the logout. The API
    is left to its authentication classes, which ignore such half-logged-in sessions
    (accounts.tokens.VerifiedSessionAuthentication): a JSON client gets 401 there,
    not a redirect to a page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and access.needs_two_factor(user)
            and not user.is_verified()
            and not self._open_path(request.path_info)
        ):
            step = "otp_verify" if twofactor.has_confirmed_device(user) else "otp_enrol"
            return HttpResponseRedirect(
                f"{reverse(step)}?{urlencode({'next': request.get_full_path()})}"
            )
        return self.get_response(request)

    @staticmethod
    def _open_path(path: str) -> bool:
        open_paths = (
            reverse("login"),
            reverse("logout"),
            reverse("otp_verify"),
            reverse("otp_enrol"),
        )
        static = "/" + settings.STATIC_URL.lstrip("/")
        return path in open_paths or path.startswith(("/api/", static))


class PasswordChangeDemandMiddleware:
    """Someone whose password an administrator typed (accounts.models.PasswordChangeDemand)
    sees only the password change page, the second-factor steps and the logout until they
    have chosen their own. The API is left to its own check (a token needs the change done)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and not self._open_path(request.path_info)
            and PasswordChangeDemand.objects.filter(user=user).exists()
        ):
            return HttpResponseRedirect(reverse("password_change"))
        return self.get_response(request)

    @staticmethod
    def _open_path(path: str) -> bool:
        open_paths = (
            reverse("login"),
            reverse("logout"),
            reverse("otp_verify"),
            reverse("otp_enrol"),
            reverse("password_change"),
        )
        static = "/" + settings.STATIC_URL.lstrip("/")
        return path in open_paths or path.startswith(("/api/", static))
