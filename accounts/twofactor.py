"""The second factor (TOTP, django-otp) for the roles that need it (trial.roles
.TWO_FACTOR_ROLES): enrolment, verification and the enrolment QR code."""

from __future__ import annotations

import base64
import re
from typing import Any

import qrcode
import qrcode.image.svg
from django.db import transaction
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.authlog import record
from accounts.models import AuthEvent
from trial.access import Viewer

CODE_PATTERN = re.compile(r"^\d{6}$")


def confirmed_device(user: Viewer) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("id").first()


def has_confirmed_device(user: Viewer) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def clean_code(raw: Any) -> str:
    """Authenticator apps show codes as '123 456'; accept that, refuse anything else."""
    return re.sub(r"\s+", "", str(raw or ""))


def code_is_valid(device: TOTPDevice, code: str) -> bool:
    """True for a current code that has not been used before (django-otp refuses a code it
    has already accepted, so an observed code cannot be replayed)."""
    code = clean_code(code)
    if not CODE_PATTERN.match(code):
        return False
    with transaction.atomic():
        locked = TOTPDevice.objects.select_for_update().get(pk=device.pk)
        return bool(locked.verify_token(code))


def pending_device(user: Viewer) -> TOTPDevice:
    """The unconfirmed device an enrolling user scans; the same one until it is confirmed."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-id").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Authenticator", confirmed=False)
    return device


def secret_base32(device: TOTPDevice) -> str:
    """The secret as authenticator apps want it typed: base32 in groups of four."""
    text = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def qr_svg(device: TOTPDevice) -> str:
    """The otpauth:// URL as an inline SVG QR code, drawn here: the secret never leaves the
    server for a third-party QR service."""
    image = qrcode.make(
        device.config_url, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2
    )
    svg = image.to_string(encoding="unicode")
    return svg.replace(
        "<svg ", '<svg role="img" aria-label="QR code for your authenticator app" ', 1
    )


def enrol_confirm(*, request: Any, device: TOTPDevice, code: str) -> bool:
    """Confirm the pending device with a code from the app; the session counts as verified."""
    user = request.user
    if device.user_id != user.pk or device.confirmed:
        return False
    if not code_is_valid(device, code):
        return False
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, confirmed=False).exclude(pk=device.pk).delete()
        device.refresh_from_db()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
    otp_login(request, device)
    record(
        AuthEvent.Kind.OTP_DEVICE_ADDED, username=user.get_username(), request=request, user=user
    )
    return True


def devices_reset(*, user: Viewer, request: Any = None) -> int:
    """Remove a user's devices (lost phone): they enrol a new one at their next login."""
    count, _ = TOTPDevice.objects.filter(user=user).delete()
    record(
        AuthEvent.Kind.OTP_DEVICE_RESET,
        username=user.get_username(),
        request=request,
        user=user,
        detail=f"by {request.user.get_username()}" if request is not None else "",
    )
    return count
