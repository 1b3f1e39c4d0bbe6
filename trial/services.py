"""Creating and updating staff accounts and their roles (create_staff, demo users)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from trial.access import forget_grants
from trial.audit import audit_context
from trial.errors import Invalid
from trial.models import RoleAssignment, Site
from trial.roles import SITE_SCOPED_ROLES, Role


def totp_key_hex(base32_secret: str) -> str:
    """django-otp stores TOTP keys as hex; authenticator apps show them as base32."""
    cleaned = base32_secret.replace(" ", "").upper()
    try:
        raw = base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))
    except (binascii.Error, ValueError):
        raise Invalid(_("The TOTP secret is not valid base32.")) from None
    if len(raw) < 10:
        raise Invalid(_("The TOTP secret must be at least 80 bits (16 base32 characters)."))
    return raw.hex()


def staff_save(
    *,
    username: str,
    roles: Sequence[str],
    site_codes: Sequence[str],
    password: str,
    totp_secret: str | None = None,
    email: str = "",
    actor: Any = None,
    reason: str = "",
) -> Any:
    """Create or update a user with exactly these roles. No sites means every site. The
    account and role changes are audited with `actor` (when a person acts) and `reason`."""
    unknown_roles = [r for r in roles if r not in Role.values]
    if not roles or unknown_roles:
        raise Invalid(
            _("Unknown role(s): {join}; use {join2}.").format(
                join=", ".join(unknown_roles) or "(none given)", join2=", ".join(Role.values)
            )
        )
    sites = list(Site.objects.filter(code__in=[c.upper() for c in site_codes]))
    missing = sorted({c.upper() for c in site_codes} - {s.code for s in sites})
    if missing:
        raise Invalid(
            _("Unknown site(s): {join}. Run setup_trial first?").format(
                join=", ".join(missing),
            )
        )
    User = get_user_model()
    user = User.objects.filter(username=username).first() or User(username=username)
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise Invalid("Password refused: " + " ".join(exc.messages)) from None
    key = totp_key_hex(totp_secret) if totp_secret else None

    with transaction.atomic(), audit_context(user=actor, reason=reason or None):
        user.set_password(password)
        if email:
            user.email = email
        user.is_active = True
        user.is_staff = user.is_superuser = Role.ADMIN in roles
        user.save()
        wanted: set[tuple[str, int | None]] = set()
        for role in roles:
            if role in SITE_SCOPED_ROLES and sites:
                wanted.update((role, site.pk) for site in sites)
            else:
                wanted.add((role, None))
        current = {(a.role, a.site_id): a for a in user.role_assignments.all()}
        for pair, assignment in current.items():
            if pair not in wanted:
                assignment.delete()
        for role, site_id in sorted(wanted - current.keys(), key=lambda p: (p[0], p[1] or 0)):
            RoleAssignment.objects.create(user=user, role=role, site_id=site_id)
        if key is not None:
            TOTPDevice.objects.filter(user=user).delete()
            TOTPDevice.objects.create(user=user, name="Authenticator", key=key, confirmed=True)
    forget_grants(user)
    return user
