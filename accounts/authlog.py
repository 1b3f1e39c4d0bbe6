"""Security events from Django's and django-axes' signals into accounts.AuthEvent."""

from __future__ import annotations

from typing import Any

from axes.signals import user_locked_out
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import lockout
from accounts.models import AuthEvent
from trial.access import needs_two_factor


def client_ip(request: Any) -> str | None:
    return request.META.get("REMOTE_ADDR") if request is not None else None


def _channel(request: Any) -> str:
    path = getattr(request, "path", "") or ""
    if path.startswith("/api/"):
        return "api"
    if path.startswith("/admin/"):
        return "admin"
    return "web"


def record(
    kind: str, *, username: str, request: Any = None, user: Any = None, detail: str = ""
) -> AuthEvent:
    return AuthEvent.objects.create(
        kind=kind,
        username=username[:150],
        user=user if user is not None and getattr(user, "pk", None) else None,
        ip_address=client_ip(request),
        channel=_channel(request),
        detail=detail[:200],
    )


@receiver(user_logged_in)
def _logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    record(
        AuthEvent.Kind.LOGIN,
        username=user.get_username(),
        request=request,
        user=user,
        detail=_login_detail(user),
    )


def _login_detail(user: Any) -> str:
    if not needs_two_factor(user):
        return ""
    # The login page checks the code with the password (accounts.forms.LoginForm); without an
    # authenticator the user enrols one next.
    if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        return "password and second factor accepted"
    return "password accepted; authenticator enrolment next"


@receiver(user_logged_out)
def _logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        record(AuthEvent.Kind.LOGOUT, username=user.get_username(), request=request, user=user)


@receiver(user_login_failed)
def _login_failed(
    sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any
) -> None:
    username = str(credentials.get("username", ""))
    user = get_user_model().objects.filter(username=username).first()
    if credentials.get("factor") == "otp":
        # Reported by accounts.lockout.second_factor_failed.
        kind, detail = AuthEvent.Kind.OTP_FAILED, str(credentials.get("detail", ""))
    elif getattr(request, "axes_locked_out", False) and (
        getattr(request, "axes_failures_since_start", None) is None
    ):
        # The axes backend refused the attempt before the password was even checked.
        kind, detail = AuthEvent.Kind.LOGIN_FAILED, "refused: the account is locked out"
    else:
        kind, detail = AuthEvent.Kind.LOGIN_FAILED, ""
    record(kind, username=username, request=request, user=user, detail=detail)


@receiver(user_locked_out)
def _locked_out(sender: Any, request: Any, username: str | None = None, **kwargs: Any) -> None:
    name = username or ""
    user = get_user_model().objects.filter(username=name).first()
    # axes signals a lockout when it happens and again for every attempt while it lasts; the
    # second kind leaves `axes_failures_since_start` unset.
    first = getattr(request, "axes_failures_since_start", None) is not None
    record(
        AuthEvent.Kind.LOCKED_OUT,
        username=name,
        request=request,
        user=user,
        detail="Too many failed logins" if first else "Attempt while locked out",
    )
    if first and user is not None:
        lockout.notify_owner(user, ip_address=client_ip(request))
