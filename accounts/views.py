"""Login (password, then the second factor for the roles that need it), enrolment of an
authenticator, logout, password change and the user's own account page."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.decorators import method_decorator
from django.utils.functional import Promise
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login

from accounts import backoff, language, lockout, tokens, twofactor
from accounts.authlog import record
from accounts.forms import LoginForm, OtpForm
from accounts.models import ApiToken, AuthEvent, Language, PasswordChangeDemand
from trial import access
from trial.access import Viewer
from trial.models import Site
from trial.roles import SITE_SCOPED_ROLES, Role


def _next_url(request: HttpRequest) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse("home")


def _apply_account_language(request: HttpRequest, response: HttpResponse, user: Any) -> None:
    """From login on, the pages speak the account's language; an account that never chose one
    keeps the language of the login page. The cookie keeps it for the login page after
    logout."""
    chosen = language.account_language(user)
    if chosen is None:
        return
    language.remember(request, chosen)
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        chosen,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
    )


def _second_step(user: Viewer, next_url: str) -> str:
    step = "otp_verify" if twofactor.has_confirmed_device(user) else "otp_enrol"
    return f"{reverse(step)}?{urlencode({'next': next_url})}"


class LoginView(auth_views.LoginView):
    """Password and, for the two-factor roles, the code, on one page (accounts.forms.LoginForm).
    A two-factor role without an authenticator is then logged in but not verified, and
    enrols one next: accounts.middleware keeps every other page closed until then."""

    template_name = "registration/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # The address's back-off (accounts.backoff) comes before the password is checked.
        username = str(request.POST.get("username", ""))
        wait = backoff.wait_seconds(request, username)
        if wait:
            return backoff.refusal(request, username, wait)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form: Any) -> HttpResponse:
        user = form.get_user()
        response = super().form_valid(form)
        _apply_account_language(self.request, response, user)
        device = form.verified_device
        if device is not None:
            # The code came with the password (accounts.forms.LoginForm): a complete login.
            otp_login(self.request, device)
            record(
                AuthEvent.Kind.OTP_VERIFIED,
                username=user.get_username(),
                request=self.request,
                user=user,
            )
        elif access.needs_two_factor(user):
            return redirect(_second_step(user, self.get_success_url()))
        lockout.failures_reset(user.get_username())
        return response


@never_cache
@sensitive_post_parameters("otp")
@login_required
@require_http_methods(["GET", "POST"])
def otp_verify(request: HttpRequest) -> HttpResponseBase:
    user = request.user
    next_url = _next_url(request)
    if not access.needs_two_factor(user) or user.is_verified():  # type: ignore[union-attr]
        return redirect(next_url)
    device = twofactor.confirmed_device(user)
    if device is None:
        return redirect(_second_step(user, next_url))
    form = OtpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        username = user.get_username()
        if lockout.is_locked_out(request, username):
            logout(request)
            return lockout.lockout_response(request)
        wait = backoff.wait_seconds(request, username)
        if wait:
            logout(request)
            return backoff.refusal(request, username, wait)
        if twofactor.code_is_valid(device, form.cleaned_data["otp"]):
            otp_login(request, device)
            lockout.failures_reset(username)
            record(AuthEvent.Kind.OTP_VERIFIED, username=username, request=request, user=user)
            return redirect(next_url)
        if lockout.second_factor_failed(request, username, "wrong code on the login page"):
            logout(request)
            return lockout.lockout_response(request)
        form.add_error(
            "otp",
            _("That code is wrong or has already been used. Type the code the app shows now."),
        )
    return render(request, "registration/otp_verify.html", {"form": form, "next": next_url})


@never_cache
@sensitive_post_parameters("otp")
@login_required
@require_http_methods(["GET", "POST"])
def otp_enrol(request: HttpRequest) -> HttpResponseBase:
    """First login of a two-factor role without an authenticator: scan, then confirm with a
    code. Someone who already has a device cannot add another here (that needs the
    administrator), so a stolen password alone cannot replace the second factor."""
    user = request.user
    next_url = _next_url(request)
    if not access.needs_two_factor(user):
        messages.info(request, _("Your role does not use a second factor."))
        return redirect(next_url)
    if twofactor.has_confirmed_device(user):
        return redirect(next_url if user.is_verified() else _second_step(user, next_url))  # type: ignore[union-attr]
    device = twofactor.pending_device(user)
    form = OtpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if twofactor.enrol_confirm(request=request, device=device, code=form.cleaned_data["otp"]):
            lockout.failures_reset(user.get_username())
            messages.success(request, _("Your authenticator is enrolled. Use it at every login."))
            return redirect(next_url)
        form.add_error(
            "otp",
            _(
                "That code does not match. Check that the phone's clock is right and type the "
                "code the app shows now."
            ),
        )
    return render(
        request,
        "registration/otp_enrol.html",
        {
            "form": form,
            "next": next_url,
            "qr_svg": twofactor.qr_svg(device),
            "secret": twofactor.secret_base32(device),
        },
    )


@method_decorator(never_cache, name="dispatch")
class PasswordChangeView(auth_views.PasswordChangeView):
    """Django's password change (old password, the validators of AUTH_PASSWORD_VALIDATORS).
    A new password also ends every API token: whoever knew the old one may have made one."""

    template_name = "registration/password_change_form.html"
    success_url = reverse_lazy("account")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        user = access.signed_in(self.request.user)
        context["demanded"] = PasswordChangeDemand.objects.filter(user=user).exists()
        return context

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        user = form.user
        PasswordChangeDemand.objects.filter(user=user).delete()
        revoked = tokens.tokens_revoke_all(user=user)
        record(
            AuthEvent.Kind.PASSWORD_CHANGED,
            username=user.get_username(),
            request=self.request,
            user=user,
            detail=f"{revoked} API token(s) revoked",
        )
        messages.success(self.request, _("Your password is changed."))
        return response


def _role_rows(user: Viewer) -> list[dict[str, Any]]:
    codes = dict(Site.objects.values_list("id", "code"))
    rows = []
    for role, site_ids in sorted(access.grants(user).sites_by_role.items()):
        if role not in SITE_SCOPED_ROLES or set(site_ids) >= set(codes):
            where: str | Promise = _("all sites")
        else:
            where = ", ".join(sorted(codes[i] for i in site_ids))
        rows.append({"label": Role(role).label, "where": where})
    return rows


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def account(request: HttpRequest) -> HttpResponse:
    """Your roles and sites, your second factor, your API tokens (revocable) and your own
    recent security events, so that a login you did not make stands out."""
    user = access.signed_in(request.user)
    if request.method == "POST" and "language" in request.POST:
        language.language_set(request=request, user=user, language=request.POST["language"])
        response = redirect("account")
        _apply_account_language(request, response, user)
        messages.success(request, _("Your language is saved."))
        return response
    if request.method == "POST":
        token = ApiToken.objects.filter(
            user=user, pk=request.POST.get("revoke") or 0, revoked_at__isnull=True
        ).first()
        if token is not None:
            tokens.token_revoke(token=token)
            record(
                AuthEvent.Kind.TOKEN_REVOKED,
                username=user.get_username(),
                request=request,
                user=user,
                detail=f"token {token.prefix}… revoked on the account page",
            )
            messages.success(
                request, _("API token {prefix}… is revoked.").format(prefix=token.prefix)
            )
        return redirect("account")
    return render(
        request,
        "registration/account.html",
        {
            "role_rows": _role_rows(user),
            "two_factor_required": access.needs_two_factor(user),
            "two_factor_enrolled": twofactor.has_confirmed_device(user),
            "tokens": tokens.live_tokens(user),
            "languages": Language.choices,
            "current_language": language.account_language(user) or request.LANGUAGE_CODE,
            "events": AuthEvent.objects.filter(user=user).order_by("-at", "-id")[:15],
        },
    )
