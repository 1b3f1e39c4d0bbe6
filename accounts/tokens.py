"""API tokens: issue, look up, revoke; and the DRF authentication classes that use them.

Clients send `Authorization: Token <key>` (API.md). The key is shown once, when it is issued;
the database keeps only its SHA-256 digest (accounts.models.ApiToken)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.authentication import SessionScheme
from rest_framework import exceptions
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.request import Request

from accounts.models import ApiToken
from trial import access
from trial.access import Viewer

# How often the "last used" time is written: often enough for the idle timeout to be exact
# to the minute, rarely enough that a busy script does not write on every call.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def token_issue(*, user: Viewer) -> tuple[str, ApiToken]:
    """A new token for `user`. Returns the key (shown once, never stored) and the row."""
    key = secrets.token_urlsafe(32)
    now = timezone.now()
    token = ApiToken.objects.create(
        user=access.signed_in(user),
        digest=_digest(key),
        prefix=key[:8],
        expires_at=now + settings.API_TOKEN_LIFETIME,
        last_used_at=now,
    )
    return key, token


def token_find(key: str) -> ApiToken | None:
    """The live token with this key, or None when it is unknown, revoked, expired or idle for
    too long. A live token's last-used time moves forward (the idle clock restarts)."""
    now = timezone.now()
    token = (
        ApiToken.objects.select_related("user")
        .filter(
            digest=_digest(key),
            revoked_at__isnull=True,
            expires_at__gt=now,
            last_used_at__gt=now - settings.API_TOKEN_IDLE_TIMEOUT,
        )
        .first()
    )
    if token is None:
        return None
    if now - token.last_used_at >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def token_revoke(*, token: ApiToken) -> None:
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


def tokens_revoke_all(*, user: Viewer) -> int:
    """End every token of `user` (after a password change, or by an administrator)."""
    with transaction.atomic():
        return ApiToken.objects.filter(user=access.signed_in(user), revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )


def live_tokens(user: Viewer) -> list[ApiToken]:
    now = timezone.now()
    return list(
        ApiToken.objects.filter(
            user=access.signed_in(user),
            revoked_at__isnull=True,
            expires_at__gt=now,
            last_used_at__gt=now - settings.API_TOKEN_IDLE_TIMEOUT,
        )
    )


class TrialTokenAuthentication(TokenAuthentication):
    """`Authorization: Token <key>` against hashed, expiring tokens."""

    keyword = "Token"

    def authenticate_credentials(self, key: str) -> tuple[Any, ApiToken]:
        token = token_find(key)
        if token is None or not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("Invalid or expired token; ask for a new one."))
        return token.user, token


class VerifiedSessionAuthentication(SessionAuthentication):
    """The browser session, but only once the user has passed every factor their role needs:
    a statistician who has typed a password but not yet the TOTP code is not logged in as far
    as the API is concerned."""

    def authenticate(self, request: Request) -> tuple[Any, None] | None:
        result = super().authenticate(request)
        if result is None:
            return None
        user = result[0]
        if access.needs_two_factor(user) and not _is_verified(user):
            return None
        return result


def _is_verified(user: Viewer) -> bool:
    check = getattr(user, "is_verified", None)
    return bool(check and check())


class VerifiedSessionScheme(SessionScheme):
    """The OpenAPI description of VerifiedSessionAuthentication: the session cookie."""

    target_class = "accounts.tokens.VerifiedSessionAuthentication"
