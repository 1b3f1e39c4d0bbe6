"""Asking a logged-in user for their credentials again before an electronic signature
(21 CFR Part 11 §11.200: a signing outside one continuous session, or each signing, uses both
components). The password is checked through `django.contrib.auth.authenticate`, so django-axes
counts a wrong one exactly as it counts a wrong password on the login page; a wrong second
factor is reported through the same signal (accounts.lockout). A locked-out account cannot
sign, whatever it types."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate
from django.http import HttpRequest
from django.utils.translation import gettext as _

from accounts import backoff, lockout, twofactor
from trial import access
from trial.errors import Invalid, TrialError


class LockedOut(TrialError):
    """Too many failures: the account is locked (429, as the login answers)."""

    status = 429


def reauthenticate(*, request: HttpRequest, user: Any, password: str, otp: str = "") -> None:
    """Return when `password` (and, for the two-factor roles, `otp`) are the user's own and
    current; raise Invalid (400, field errors) or LockedOut (429) otherwise. Every failure is
    counted towards the lockout; a success forgives nothing (a signature is not a login)."""
    username = user.get_username()
    if lockout.is_locked_out(request, username):
        raise LockedOut(lockout.lockout_message(request))
    wait = backoff.wait_seconds(request, username)
    if wait:
        raise LockedOut(backoff.message(wait))
    checked = authenticate(request=request, username=username, password=password or "")
    if getattr(request, "axes_locked_out", False):
        raise LockedOut(lockout.lockout_message(request))
    if checked is None or checked.pk != user.pk:
        raise Invalid(
            _("The password is wrong."),
            fields={"password": [str(_("The password is wrong."))]},
        )
    if not access.needs_two_factor(user):
        return
    device = twofactor.confirmed_device(user)
    if device is not None and twofactor.code_is_valid(device, otp):
        return
    detail = "signature refused: wrong or missing code"
    if lockout.second_factor_failed(request, username, detail):
        raise LockedOut(lockout.lockout_message(request))
    message = str(
        _("Your role signs with a second factor: type the current code of your authenticator app.")
        if not twofactor.clean_code(otp)
        else _("The code is wrong, expired or already used.")
    )
    raise Invalid(message, fields={"otp": [message]})
