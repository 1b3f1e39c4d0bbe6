"""A per-address back-off before the per-username lockout, so that the lockout cannot be used
to lock someone out at will (the trial's only statistician, say) from one computer.

django-axes locks an account after AXES_FAILURE_LIMIT (5) failures from anywhere. Before that,
an address that has failed AXES_FAILURE_LIMIT - 1 times for one account must wait before it
may try that account again: first a little longer than the lockout's cool-off (by then axes
has forgotten that address's failures), doubling with every further failure, at most a day.
So one address can never make the failure that locks the account; the owner, from another
address, still logs in, and only failures from two or more addresses lock the account. The
back-off is per address *and* account: colleagues behind the same hospital address are not
held up by one person's typing.

The failures are those of the security log (accounts.AuthEvent: wrong passwords and wrong
codes on the login page, the token endpoint, the code page and signatures) since the later of
a day ago and the account's last complete login or unlock. A refused attempt is logged, and is
not counted again."""

from __future__ import annotations

import math
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Max, Q
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import lockout
from accounts.authlog import client_ip, record
from accounts.models import AuthEvent

WINDOW = timedelta(days=1)
MAX_WAIT = timedelta(days=1)
REFUSED_DETAIL = "refused: back-off of this address for this account"
FAILURE_KINDS = (AuthEvent.Kind.LOGIN_FAILED, AuthEvent.Kind.OTP_FAILED)
# What forgives earlier failures (as accounts.lockout.failures_reset does for axes).
COMPLETE_KINDS = (
    AuthEvent.Kind.OTP_VERIFIED,
    AuthEvent.Kind.OTP_DEVICE_ADDED,
    AuthEvent.Kind.TOKEN_ISSUED,
    AuthEvent.Kind.UNLOCKED,
)


def free_failures() -> int:
    return int(settings.AXES_FAILURE_LIMIT) - 1


def first_wait() -> timedelta:
    return settings.AXES_COOLOFF_TIME + timedelta(minutes=1)


def wait_seconds(request: HttpRequest, username: str) -> int:
    """How long this address must still wait before trying `username` again (0: it may)."""
    address = client_ip(request)
    if not address or not username or "\x00" in username:
        return 0  # nothing to look up (the form refuses a NUL character itself)
    now = timezone.now()
    name = username[:150]
    since = now - WINDOW
    complete = (
        AuthEvent.objects.filter(username=name, at__gte=since)
        .filter(Q(kind__in=COMPLETE_KINDS) | Q(kind=AuthEvent.Kind.LOGIN, detail=""))
        .aggregate(last=Max("at"))["last"]
    )
    failures = (
        AuthEvent.objects.filter(
            username=name, ip_address=address, kind__in=FAILURE_KINDS, at__gte=complete or since
        )
        .exclude(detail__startswith="refused:")
        .aggregate(count=Count("id"), last=Max("at"))
    )
    over = failures["count"] - free_failures()
    if over < 0:
        return 0
    wait = min(MAX_WAIT, first_wait() * 2**over)
    remaining = (failures["last"] + wait - now).total_seconds()
    return max(0, math.ceil(remaining))


def message(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return _(
        "Too many failed logins for this account from this computer's network address: try "
        "again in {minutes} minutes. The trial administrator can lift it sooner."
    ).format(minutes=minutes)


def refusal(request: HttpRequest, username: str, seconds: int) -> HttpResponse:
    """The answer while the address waits: 429 with Retry-After, as for a lockout; logged."""
    record(AuthEvent.Kind.LOGIN_FAILED, username=username, request=request, detail=REFUSED_DETAIL)
    return lockout.too_many_failures(request, message(seconds), seconds)
