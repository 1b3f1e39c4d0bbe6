"""The randomise service: the phone call to the trial unit as one web call.

Exactly once under any concurrency (RANDOMISATION.md §4):
1. the participant's row is locked first, so two requests for one person queue up and the
   second sees the first's allocation (a repeat with the same idempotency key gets it back,
   anything else gets 409);
2. `UPDATE randomization_sitesequence ... RETURNING` takes the site's row lock and the next
   position in one statement: randomisations within a site are serialised, and a position is
   never skipped because a failed attempt rolls its increment back;
3. the slot at that position is read; if there is none, the list is exhausted: roll back;
4. the allocation and the participant's new status are written in the same transaction, with
   UNIQUE(participant) and UNIQUE(slot) as the last line of defence.
The arm leaves this module only after commit. Refusals write nothing to trial data; they are
recorded in the randomisation log, and an exhausted list alerts the statisticians."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from assessments.selectors import baseline_missing
from exports.selectors import lock_level
from imrtrial import access
from imrtrial.audit import audit_context
from imrtrial.errors import (
    Conflict,
    Forbidden,
    Invalid,
    TrialError,
    Unavailable,
    from_database_error,
)
from imrtrial.roles import Role
from imrtrial.sealing import unseal
from participants.models import CLOSED_STATUSES, Participant, Status
from randomization.models import Allocation, AllocationList, AllocationSlot, RandomizationLogEntry
from randomization.services.log import Kind, log_event

# Crockford's base32 without I, L, O, U: codes are read aloud and typed.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
IDEMPOTENCY_KEY_MAX = 100
ALERT_INTERVAL = timedelta(hours=1)


@dataclass(frozen=True)
class Outcome:
    allocation: Allocation
    created: bool  # False: a repeated request answered with the existing allocation


def new_randomization_code() -> str:
    """A code that says nothing about arm, site, order or time: 40 random bits."""
    while True:
        raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
        code = f"{raw[:4]}-{raw[4:]}"
        if not Allocation.objects.filter(randomization_code=code).exists():
            return code


def _refusal(error_class: type[TrialError], kind: str, message: str) -> TrialError:
    error = error_class(message)
    error.log_kind = kind  # type: ignore[attr-defined]
    return error


def _check_key(key: str) -> None:
    if len(key) > IDEMPOTENCY_KEY_MAX or not key.isprintable():
        raise _refusal(
            Invalid,
            Kind.REFUSED_INVALID,
            f"The Idempotency-Key must be at most {IDEMPOTENCY_KEY_MAX} printable characters.",
        )


def _require_randomiser(user: Any, participant: Participant) -> None:
    if not access.has_role_at(user, participant.site_id, Role.COORDINATOR):
        raise _refusal(
            Forbidden,
            Kind.REFUSED_NOT_ALLOWED,
            f"Only a coordinator at {participant.site.name} can randomise this participant.",
        )
    if not access.may_see_allocation(user):
        # Whoever randomises sees the arm; a blinded person must never be the one.
        raise _refusal(
            Forbidden,
            Kind.REFUSED_NOT_ALLOWED,
            "You hold a blinded role, so you cannot randomise (the arm would be shown to you).",
        )


def _check_ready(participant: Participant) -> dict[str, Any]:
    """Eligibility, consent and baseline, read under the participant's row lock. Returns what
    was confirmed, for the log."""
    level = lock_level()
    if level != "open":
        state = "locked" if level == "lock" else "frozen"
        raise _refusal(
            Conflict,
            Kind.REFUSED_LOCKED,
            f"The trial database is {state}: nobody can be randomised.",
        )
    if participant.status in CLOSED_STATUSES:
        raise _refusal(
            Conflict,
            Kind.REFUSED_CLOSED,
            f"The participant is {participant.get_status_display().lower()} and cannot be "
            "randomised.",
        )
    screening = participant.screenings.order_by("-screened_at", "-id").first()
    if screening is None:
        raise _refusal(
            Invalid,
            Kind.REFUSED_INELIGIBLE,
            "Not eligible: the participant has not been screened for eligibility.",
        )
    if not screening.eligible:
        reasons = " ".join(screening.reasons) or "the latest screening found them not eligible."
        raise _refusal(Invalid, Kind.REFUSED_INELIGIBLE, f"Not eligible: {reasons}")
    if participant.status != Status.CONSENTED or participant.consent_date is None:
        raise _refusal(
            Invalid,
            Kind.REFUSED_NOT_CONSENTED,
            "Not consented: record the participant's written informed consent first.",
        )
    missing: list[str] = []
    if settings.RANDOMIZATION_REQUIRES_BASELINE:
        missing = baseline_missing(participant)
        if missing:
            raise _refusal(
                Invalid,
                Kind.REFUSED_BASELINE,
                f"Baseline missing: complete the baseline forms first ({', '.join(missing)}).",
            )
    return {
        "screening": screening.pk,
        "screened_at": screening.screened_at.isoformat(),
        "consent_date": participant.consent_date.isoformat(),
        "baseline_required": bool(settings.RANDOMIZATION_REQUIRES_BASELINE),
    }


def _take_next_slot(site_id: int) -> AllocationSlot:
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE randomization_sitesequence SET next_sequence = next_sequence + 1 "
            "WHERE site_id = %s RETURNING next_sequence - 1",
            [site_id],
        )
        row = cursor.fetchone()
    slot = (
        AllocationSlot.objects.select_related("allocation_list")
        .filter(site_id=site_id, sequence=row[0])
        .first()
        if row
        else None
    )
    if slot is None:
        raise _refusal(
            Unavailable,
            Kind.REFUSED_EXHAUSTED,
            "The allocation list of this site is exhausted. Nothing was recorded; the "
            "statisticians have been alerted and will append new blocks. Try again later.",
        )
    return slot


def _is_repeat(allocation: Allocation, user: Any, key: str) -> bool:
    return (
        bool(key) and allocation.idempotency_key == key and allocation.randomized_by_id == user.pk
    )


def _randomize_locked(*, participant: Participant, user: Any, key: str, channel: str) -> Outcome:
    with transaction.atomic(), audit_context(user=user, reason="Randomisation"):
        locked = (
            Participant.objects.select_for_update(of=("self",))
            .select_related("site")
            .get(pk=participant.pk)
        )
        existing = Allocation.objects.filter(participant=locked).first()
        if existing is not None:
            if _is_repeat(existing, user, key):
                return Outcome(existing, created=False)
            raise _refusal(
                Conflict,
                Kind.REFUSED_DUPLICATE,
                f"{locked.study_id} is already randomised; a randomisation can never be repeated.",
            )
        if key and Allocation.objects.filter(randomized_by=user, idempotency_key=key).exists():
            raise _refusal(
                Invalid,
                Kind.REFUSED_INVALID,
                "This Idempotency-Key was already used for another randomisation; "
                "use a new key for each participant.",
            )
        confirmed = _check_ready(locked)
        slot = _take_next_slot(locked.site_id)
        arm = unseal("arm", slot.arm_sealed)
        allocation = Allocation.objects.create(
            participant=locked,
            slot=slot,
            arm=arm,
            randomization_code=new_randomization_code(),
            randomized_at=timezone.now(),
            randomized_by=user,
            idempotency_key=key,
        )
        Participant.objects.filter(pk=locked.pk).update(status=Status.RANDOMIZED)
        log_event(
            Kind.RANDOMIZED,
            user=user,
            channel=channel,
            site=locked.site,
            participant=locked,
            allocation_list=slot.allocation_list,
            message=f"{locked.study_id} randomised ({allocation.randomization_code})",
            detail={
                **confirmed,
                "stratum": locked.site.code,
                "list_version": slot.allocation_list.version,
                "sequence": slot.sequence,
                "slot": slot.pk,
                "arm": arm,
                "randomization_code": allocation.randomization_code,
                "randomized_at": allocation.randomized_at.isoformat(),
            },
        )
        from randomization.tasks import send_randomisation_confirmation

        allocation_id = allocation.pk
        transaction.on_commit(lambda: send_randomisation_confirmation.delay(allocation_id))
        return Outcome(allocation, created=True)


def _should_alert(site_id: int) -> bool:
    """One alert per site per hour while the list stays exhausted; a new list version resets."""
    since = timezone.now() - ALERT_INTERVAL
    latest_list = AllocationList.objects.filter(site_id=site_id).order_by("-created_at").first()
    if latest_list is not None and latest_list.created_at > since:
        since = latest_list.created_at
    return not RandomizationLogEntry.objects.filter(
        kind=Kind.REFUSED_EXHAUSTED, site_id=site_id, at__gte=since, detail__alerted=True
    ).exists()


def _record_refusal(
    error: TrialError, *, participant: Participant, user: Any, key: str, channel: str
) -> None:
    kind = getattr(error, "log_kind", Kind.REFUSED_INVALID)
    alert = kind == Kind.REFUSED_EXHAUSTED and _should_alert(participant.site_id)
    with transaction.atomic():
        entry = log_event(
            kind,
            user=user,
            channel=channel,
            site=participant.site,
            participant=participant,
            message=error.message,
            detail={"idempotency_key": key, "status": error.status, "alerted": alert},
        )
        if alert:
            from randomization.tasks import alert_list_exhausted

            entry_id = entry.pk
            transaction.on_commit(lambda: alert_list_exhausted.delay(entry_id))


def randomize(
    *, participant: Participant, user: Any, idempotency_key: str | None = None, channel: str = "api"
) -> Outcome:
    """Randomise, or answer a repeated request (same user, same key) with its allocation."""
    key = (idempotency_key or "").strip()
    try:
        _check_key(key)
        _require_randomiser(user, participant)
        try:
            outcome = _randomize_locked(
                participant=participant, user=user, key=key, channel=channel
            )
        except IntegrityError as exc:
            # The unique constraints caught what the locks should already have prevented.
            if "participant" in str(exc):
                raise _refusal(
                    Conflict, Kind.REFUSED_DUPLICATE, "The participant is already randomised."
                ) from exc
            if "idempotency" in str(exc):
                raise _refusal(
                    Invalid,
                    Kind.REFUSED_INVALID,
                    "This Idempotency-Key was already used for another randomisation.",
                ) from exc
            raise
        except DatabaseError as exc:
            translated = from_database_error(exc)
            if translated is None:
                raise
            translated.log_kind = Kind.REFUSED_LOCKED  # type: ignore[attr-defined]
            raise translated from exc
    except TrialError as error:
        _record_refusal(error, participant=participant, user=user, key=key, channel=channel)
        raise
    if not outcome.created:
        log_event(
            Kind.REPLAYED,
            user=user,
            channel=channel,
            site=participant.site,
            participant=participant,
            message=f"Repeated request for {participant.study_id} answered with its allocation",
            detail={"idempotency_key": key},
        )
    return outcome


def participant_randomize(
    *, participant: Participant, user: Any, idempotency_key: str | None = None
) -> Allocation:
    """DESIGN.md's service: randomise `participant` (or return the allocation of a repeated
    request with the same idempotency key). Raises Forbidden, Invalid, Conflict, Unavailable."""
    return randomize(participant=participant, user=user, idempotency_key=idempotency_key).allocation
