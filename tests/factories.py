"""Building blocks for tests: staff with roles, and participants taken through the real
services (so tests exercise the same rules users meet). The builders the benchmarks share
(ELIGIBLE_ANSWERS, make_staff, complete_baseline) are demo.builders'."""

from __future__ import annotations

import itertools
from datetime import date, datetime, time, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.test import APIClient

from demo import builders
from demo.builders import ELIGIBLE_ANSWERS as ELIGIBLE_ANSWERS
from demo.builders import complete_baseline as complete_baseline
from participants import services
from participants.models import Participant
from trial.roles import Role

_counter = itertools.count(1)


def make_staff(username: str | None = None, *roles: str, sites: list[str] | None = None) -> Any:
    """A user holding `roles`; site-scoped roles at `sites` (None: every site)."""
    return builders.make_staff(username or f"staff{next(_counter)}", *roles, sites=sites)


def api_client(user: Any | None = None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def unique_cpr(*, born: date | None = None, sex: str = "female") -> str:
    """A valid, unique CPR number (born in the 1900s: seventh digit 0–3) whose last digit
    agrees with `sex` (even: female), so that a registration page raises no sex warning."""
    n = next(_counter)
    birth = born or date(1960, 1, 1) + timedelta(days=(n * 37) % 12000)
    serial = f"{(n // 500) % 4}{(n % 500) * 2 + (sex == 'male'):03d}"
    return f"{birth:%d%m%y}-{serial}"


def coordinator_for(site_code: str) -> Any:
    user = get_user_model().objects.filter(username=f"coordinator-{site_code}").first()
    return user or make_staff(f"coordinator-{site_code}", Role.COORDINATOR, sites=[site_code])


def make_participant(
    site: str = "BAL", *, stage: str = "consented", sex: str = "female", user: Any | None = None
) -> Participant:
    """A participant registered at `site` and taken to `stage`: registered, eligible,
    ineligible or consented."""
    coordinator = user or coordinator_for(site)
    participant = services.participant_register(
        user=coordinator, site_code=site, cpr=unique_cpr(sex=sex), sex=sex
    )
    if stage == "registered":
        return participant
    answers = dict(ELIGIBLE_ANSWERS)
    if stage == "ineligible":
        answers["danish_fluent"] = False
    services.participant_screen(user=coordinator, participant=participant, answers=answers)
    if stage in ("eligible", "ineligible"):
        return participant
    services.participant_record_consent(
        user=coordinator, participant=participant, consent_date=timezone.localdate()
    )
    return participant


def allocate(
    participant: Participant,
    arm: str,
    *,
    user: Any | None = None,
    randomized_at: datetime | None = None,
) -> Any:
    """Bind a participant to an arm directly, bypassing the concealed list: for tests of what
    happens after randomisation (groups, blinding of later pages). Tests of randomisation
    itself use randomization.services. `randomized_at` (default now) dates the randomisation
    in the past for tests of windows and exposure: the allocation is written with that time
    (an allocation can never be changed afterwards, and no test needs to)."""
    import secrets as _secrets

    from participants.services import participant_mark_randomized
    from randomization.models import Allocation, AllocationList, AllocationSlot
    from trial.sealing import seal

    site = participant.site
    version = AllocationList.objects.filter(site=site).count() + 1
    sequence = AllocationSlot.objects.filter(site=site).count() + 1
    allocation_list = AllocationList.objects.create(
        site=site,
        version=version,
        source=AllocationList.Source.IMPORTED,
        first_sequence=sequence,
        length=1,
        sha256="0" * 64,
    )
    slot = AllocationSlot.objects.create(
        allocation_list=allocation_list,
        site=site,
        sequence=sequence,
        block=sequence,
        block_size=6,
        arm_sealed=seal("arm", arm),
    )
    allocation = Allocation.objects.create(
        participant=participant,
        slot=slot,
        arm=arm,
        randomization_code=_secrets.token_hex(4).upper(),
        randomized_at=randomized_at or timezone.now(),
        randomized_by=user or coordinator_for(site.code),
    )
    participant_mark_randomized(participant=participant, randomized_at=allocation.randomized_at)
    participant.refresh_from_db()
    return allocation


# --- IMR delivery (fidelity) -------------------------------------------------------------


def imr_participant(
    site: str = "BAL", *, arm: str = "IMR", randomized_on: date | None = None
) -> Any:
    """A consented participant at `site` bound to `arm` (IMR by default), optionally
    randomised on an earlier day (exposure counts days from randomisation)."""
    participant = make_participant(site)
    when = None
    if randomized_on is not None:
        when = timezone.make_aware(datetime.combine(randomized_on, time(10, 0)))
    allocate(participant, arm, randomized_at=when)
    participant.refresh_from_db()
    return participant


def make_imr_group(
    site: str = "BAL",
    *,
    name: str | None = None,
    start_date: date | None = None,
    user: Any | None = None,
    instructors: list[Any] | None = None,
    capacity: int | None = None,
) -> Any:
    """An IMR group created through the service by a coordinator of `site`."""
    from fidelity import services as fidelity_services

    return fidelity_services.group_create(
        user=user or coordinator_for(site),
        site_code=site,
        name=name or f"Group {next(_counter)}",
        start_date=start_date or timezone.localdate(),
        capacity=capacity,
        instructors=[u.pk for u in instructors or []],
    )


# --- accounts (issue 2) -------------------------------------------------------------------

TEST_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
PASSWORD = "Recovery-2026!"


def give_password(user: Any, password: str = PASSWORD) -> Any:
    user.set_password(password)
    user.save(update_fields=["password"])
    return user


def enrol_totp(user: Any, secret: str = TEST_TOTP_SECRET) -> Any:
    """A confirmed TOTP device with a known secret (see `totp_code`)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from trial.services import totp_key_hex

    TOTPDevice.objects.filter(user=user).delete()
    return TOTPDevice.objects.create(
        user=user, name="Authenticator", key=totp_key_hex(secret), confirmed=True
    )


def totp_code(device: Any, *, offset_steps: int = 0) -> str:
    """The device's code now (or `offset_steps` periods away), as an authenticator shows it."""
    import time

    from django_otp.oath import TOTP

    generator = TOTP(device.bin_key, device.step, device.t0, device.digits)
    generator.time = time.time() + offset_steps * device.step
    return f"{generator.token():0{device.digits}d}"


def verify_session(client: Any, user: Any) -> None:
    """Mark a logged-in test client's session as having passed the second factor, for the
    roles that need one (as django_otp.login does after a correct code)."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from trial.access import needs_two_factor

    if not needs_two_factor(user):
        return
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first() or enrol_totp(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()


def page_client(user: Any | None = None, *, enforce_csrf_checks: bool = False) -> Any:
    """A browser-like test client logged in as `user`; for the roles that need a second factor
    the session is verified as if the code had been typed."""
    from django.test import Client

    client = Client(enforce_csrf_checks=enforce_csrf_checks)
    if user is not None:
        client.force_login(user)
        verify_session(client, user)
    return client


def wrong_code(device: Any) -> str:
    """A six-digit code the device refuses now (none of the codes it would accept)."""
    accepted = {totp_code(device, offset_steps=step) for step in (-1, 0, 1)}
    return next(f"{n:06d}" for n in range(1_000_000) if f"{n:06d}" not in accepted)


def make_allocation_lists(*, per_site: int = 30, seed: int = 0x0123456789ABCDEF) -> list[Any]:
    """Real, concealed allocation lists for every site from a fixed seed (tests only; production
    draws the seed with secrets.randbits(128))."""
    from randomization.services import allocation_lists_generate

    return allocation_lists_generate(
        per_site=per_site, user=None, channel="cli", randbits=lambda bits: seed
    )


def randomize(participant: Participant, *, user: Any | None = None) -> Any:
    """Randomise through the real service (the participant must be consented, and have a
    complete baseline unless RANDOMIZATION_REQUIRES_BASELINE is off); returns the Allocation."""
    from randomization.services import participant_randomize

    return participant_randomize(
        participant=participant, user=user or coordinator_for(participant.site.code)
    )
