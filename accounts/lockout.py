"""Lockout after repeated failures (django-axes, per username: staff at one hospital share an
IP address). Password failures on the login page and on the token endpoint are counted by
axes through `django.contrib.auth.authenticate`; failures of the second factor are reported
here through the same signal, so all of them count towards one limit."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from axes.backends import AxesStandaloneBackend
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_cool_off
from axes.utils import reset
from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.core.mail import send_mail
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import formats, timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


def lockout_message(request: HttpRequest | None = None) -> str | Promise:
    cool_off = get_cool_off(request)
    minutes = int(cool_off.total_seconds() // 60) if cool_off else None
    if minutes:
        return _(
            "Too many failed logins for this account: it is locked for {minutes} minutes. "
            "The trial administrator can unlock it sooner."
        ).format(minutes=minutes)
    return _(
        "Too many failed logins for this account: it is locked until an administrator unlocks it."
    )


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    """axes' AXES_LOCKOUT_CALLABLE: JSON for API clients, the lockout page for browsers; 429
    with Retry-After on both."""
    cool_off = get_cool_off(request)
    return too_many_failures(
        request, lockout_message(request), int(cool_off.total_seconds()) if cool_off else None
    )


def too_many_failures(
    request: HttpRequest, message: str | Promise, retry_after: int | None
) -> HttpResponse:
    """429 for a lockout or a back-off (accounts.backoff): JSON for API clients, the lockout
    page for browsers, with Retry-After when the wait is known."""
    response: HttpResponse
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": message}, status=429)
    else:
        response = render(request, "registration/locked_out.html", {"message": message}, status=429)
    if retry_after:
        response["Retry-After"] = str(retry_after)
    return response


def is_locked_out(request: HttpRequest, username: str) -> bool:
    return AxesProxyHandler.is_locked(request, {"username": username})


def second_factor_failed(request: HttpRequest, username: str, detail: str) -> bool:
    """Count a wrong second-factor code like a wrong password. True when this failure has
    locked the account out."""
    user_login_failed.send(
        sender=__name__,
        credentials={"username": username, "factor": "otp", "detail": detail},
        request=request,
    )
    return bool(getattr(request, "axes_locked_out", False))


def failures_reset(username: str) -> None:
    """After a complete login (every factor the role needs), earlier failures are forgiven.
    Not after the password alone: otherwise someone who knows a password could guess codes
    for ever, logging in again before each fifth wrong code."""
    reset(username=username)


class TrialAxesBackend(AxesStandaloneBackend):
    """axes' lockout check for every authentication that comes with a request (the login page,
    the token endpoint, the admin). Without a request there is nothing to lock out or count
    (Django's test client `login()`, a shell): the stock backend would raise instead."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> None:
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def notify_owner(user: Any, *, ip_address: str | None) -> None:
    """Tell the account's owner that it was locked out (once per lockout): someone may be
    trying their password, or trying to lock them out; an administrator can lift it sooner."""
    address = getattr(user, "email", "")
    if not address:
        return
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    send_mail(
        subject=str(_("IMR trial EDC: your account was locked after failed logins")),
        message=str(
            _(
                "Your account %(username)s was locked at %(when)s UTC after repeated failed "
                "logins (last from %(ip)s). It opens again by itself after %(minutes)s "
                "minutes, or sooner if the trial administrator lifts the lockout. If this was "
                "not you, tell the trial administrator."
            )
        )
        % {
            "username": user.get_username(),
            "when": formats.date_format(timezone.now().astimezone(UTC), "SHORT_DATETIME_FORMAT"),
            "ip": ip_address or "?",
            "minutes": minutes,
        },
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[address],
        # A mail server that does not answer must not turn the lockout into a server error.
        fail_silently=True,
    )
