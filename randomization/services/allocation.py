"""The randomise service: the phone call to the trial unit as one web call.

Exactly once under any concurrency (RANDOMISATION.md §4):
1. the participant's row is locked first, so two requests for one person queue up and the
   second sees the first's allocation (a repeat with the same idempotency key gets it back,
   anything else gets 409);
2. `UPDATE randomization_sitesequence ... RETURNING` takes the site's row lock and the next
   position in one statement: randomisations within a site are serialised, and a position is
   never skipped because a failed attempt rolls its increment back;
3. the slot at that position is read; if there is none, the list is exhausted: roll back;
4. the allocation and the participant's new status and randomisation time (written by the
   participants app, participants.services.participant_mark_randomized) are written in the
   same transaction, with UNIQUE(participant) and UNIQUE(slot) as the last line of defence.
Who may randomise whom, and what must be ready, is randomization.permissions: the same rule
the randomise page shows.
The arm leaves this module only after commit. Refusals write nothing to trial data; they are
recorded in the randomisation log, and an exhausted list alerts the statisticians."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from assessments.selectors import baseline_missing
from participants.models import Participant, Status
from participants.services import LatestScreening, participant_lock, participant_mark_randomized
from randomization import permissions
from randomization.log import Kind, actor_and_context, log_event
from randomization.models import Allocation, AllocationList, RandomizationLogEntry
from randomization.tasks import alert_list_exhausted, send_randomization_confirmation
from trial import access
from trial.access import Viewer
from trial.audit import audit_context
from trial.errors import Conflict, Invalid, TrialError, Unavailable, from_database_error
from trial.lock import is_lock_refusal
from trial.outbox import enqueue
from trial.sealing import unseal
from trial.selectors import lock_level

# Statuses in which a participant cannot have been randomised (the allocation and the status
# `randomized` are written in one transaction).
BEFORE_RANDOMIZATION = frozenset(
    {Status.REGISTERED, Status.ELIGIBLE, Status.INELIGIBLE, Status.CONSENTED}
)


# Crockford's base32 without I, L, O, U: codes are read aloud and typed.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
IDEMPOTENCY_KEY_MAX = 100
ALERT_INTERVAL = timedelta(hours=1)


@dataclass(frozen=True)
class Outcome:
    allocation: Allocation
    created: bool  # False: a repeated request answered with the existing allocation


def new_randomization_code() -> str:
    """A code that says nothing about arm, site, order or time: 40 random bits. Uniqueness is
    the database's job (UNIQUE(randomization_code)); a collision is retried."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


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


def _check_ready(
    participant: Participant, screening: LatestScreening | None, *, already_randomized: bool
) -> dict[str, Any]:
    """Eligibility, consent and baseline, read under the participant's row lock (the rule is
    randomization.permissions'). Returns what was confirmed, for the log. (Whether the
    database is frozen or locked is checked by PostgreSQL itself when the allocation is
    inserted.)"""
    missing = baseline_missing(participant) if settings.RANDOMIZATION_REQUIRES_BASELINE else []
    refusals = permissions.readiness_refusals(
        participant=participant,
        screening=screening,
        already_randomized=already_randomized,
        baseline_missing=missing,
        lock_level=None,
    )
    if refusals:
        raise refusals[0].exception()
    assert screening is not None and participant.consent_date is not None
    return {
        "screening": screening.id,
        "screened_at": screening.screened_at.isoformat(),
        "consent_date": participant.consent_date.isoformat(),
        "baseline_required": bool(settings.RANDOMIZATION_REQUIRES_BASELINE),
    }


@dataclass(frozen=True)
class TakenSlot:
    id: int
    sequence: int
    arm_sealed: str
    allocation_list_id: int
    list_version: int


# Take the site's next position and read its slot in one round trip. The UPDATE takes the
# site's row lock (held to commit: randomisations at a site are serialised); never
# `ORDER BY ... LIMIT 1 FOR UPDATE` on the slots, which PostgreSQL may answer with no row
# after a lock wait (a false "exhausted"), nor SKIP LOCKED, which uses slots out of order.
TAKE_NEXT_SLOT = """
    WITH taken AS (
        UPDATE randomization_sitesequence SET next_sequence = next_sequence + 1
        WHERE site_id = %s
        RETURNING site_id, next_sequence - 1 AS position
    )
    SELECT slot.id, slot.sequence, slot.arm_sealed, list.id, list.version
    FROM taken
    JOIN randomization_allocationslot slot
        ON slot.site_id = taken.site_id AND slot.sequence = taken.position
    JOIN randomization_allocationlist list ON list.id = slot.allocation_list_id
"""

# The allocation and the log row, in one statement (so in one round trip, inside the same
# transaction as the participant's new status). The tables' triggers run as for any other
# write: the audit trail (pghistory), the lock check, the immutability of allocations.
RECORD_RANDOMIZATION = """
    WITH allocation AS (
        INSERT INTO randomization_allocation
            (participant_id, slot_id, arm, randomization_code, randomized_at,
             randomized_by_id, idempotency_key)
        VALUES (%(participant)s, %(slot)s, %(arm)s, %(code)s, %(at)s, %(user)s, %(key)s)
        RETURNING id
    ), logged AS (
        INSERT INTO randomization_randomizationlogentry
            (kind, at, user_id, username, channel, site_id, participant_id,
             allocation_list_id, message, detail, request_id)
        VALUES (%(kind)s, %(at)s, %(user)s, %(username)s, %(channel)s, %(site)s,
                %(participant)s, %(list)s, %(message)s, %(detail)s::jsonb, %(request)s)
        RETURNING id
    )
    SELECT allocation.id FROM allocation, logged
"""


def _take_next_slot(site_id: int) -> TakenSlot:
    with connection.cursor() as cursor:
        cursor.execute(TAKE_NEXT_SLOT, [site_id])
        row = cursor.fetchone()
    if row is None:
        # No slot at that position (or no list at all): the transaction rolls back, and with
        # it the increment, so the next list version starts exactly here.
        raise _refusal(
            Unavailable,
            Kind.REFUSED_EXHAUSTED,
            "The allocation list of this site is exhausted. Nothing was recorded; the "
            "statisticians have been alerted and will append new blocks. Try again later.",
        )
    return TakenSlot(*row)


def _is_repeat(allocation: Allocation, user: Viewer, key: str) -> bool:
    return (
        bool(key) and allocation.idempotency_key == key and allocation.randomized_by_id == user.pk
    )


def _randomize_locked(*, participant: Participant, user: Viewer, key: str, channel: str) -> Outcome:
    with transaction.atomic(), audit_context(user=user, reason="Randomisation"):
        locked, screening = participant_lock(participant=participant)
        existing = (
            None
            if locked.status in BEFORE_RANDOMIZATION
            else Allocation.objects.filter(participant_id=locked.pk).first()
        )
        if existing is not None and _is_repeat(existing, user, key):
            return Outcome(existing, created=False)
        confirmed = _check_ready(locked, screening, already_randomized=existing is not None)
        slot = _take_next_slot(locked.site_id)
        allocation = Allocation(
            participant=locked,
            slot_id=slot.id,
            arm=unseal("arm", slot.arm_sealed),
            randomization_code=new_randomization_code(),
            randomized_at=timezone.now(),
            randomized_by=access.signed_in(user),
            idempotency_key=key,
        )
        _actor, username, request_id = actor_and_context(user, channel)
        detail = {
            **confirmed,
            "stratum": locked.site.code,
            "list_version": slot.list_version,
            "sequence": slot.sequence,
            "slot": slot.id,
            "arm": allocation.arm,
            "randomization_code": allocation.randomization_code,
            "randomized_at": allocation.randomized_at.isoformat(),
        }
        with connection.cursor() as cursor:
            cursor.execute(
                RECORD_RANDOMIZATION,
                {
                    "participant": locked.pk,
                    "slot": slot.id,
                    "arm": allocation.arm,
                    "code": allocation.randomization_code,
                    "at": allocation.randomized_at,
                    "user": user.pk,
                    "key": key,
                    "kind": Kind.RANDOMIZED.value,
                    "username": username,
                    "channel": channel,
                    "site": locked.site_id,
                    "list": slot.allocation_list_id,
                    "message": f"{locked.study_id} randomised ({allocation.randomization_code})",
                    "detail": json.dumps(detail),
                    "request": request_id,
                },
            )
            (allocation.pk,) = cursor.fetchone()
        # The row exists now: the instance is a saved one (as if loaded from the database).
        allocation._state.adding = False
        allocation._state.db = connection.alias
        participant_mark_randomized(participant=locked, randomized_at=allocation.randomized_at)
        allocation_id = allocation.pk
        # In the outbox, in this transaction: sent after the commit, or later by the worker
        # if Redis is down; the request never waits for the broker.
        enqueue(send_randomization_confirmation.name, allocation_id)
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
    error: TrialError, *, participant: Participant, user: Viewer, key: str, channel: str
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
            entry_id = entry.pk
            enqueue(alert_list_exhausted.name, entry_id)


def randomize(
    *,
    participant: Participant,
    user: Viewer,
    idempotency_key: str | None = None,
    channel: str = "api",
) -> Outcome:
    """Randomise, or answer a repeated request (same user, same key) with its allocation."""
    key = (idempotency_key or "").strip()
    try:
        _check_key(key)
        refusal = permissions.randomizer_refusal(user, participant)
        if refusal is not None:
            raise refusal.exception()
        outcome = _randomize_with_retry(
            participant=participant, user=user, key=key, channel=channel
        )
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


def _constraint_of(exc: IntegrityError) -> str:
    cause = exc.__cause__ or exc
    return str(getattr(getattr(cause, "diag", None), "constraint_name", None) or "")


def _randomize_with_retry(
    *, participant: Participant, user: Viewer, key: str, channel: str
) -> Outcome:
    """The database's refusals become trial errors. The only one worth another try is two
    randomisation codes colliding (40 random bits: about once in 10^12 randomisations)."""
    for _attempt in range(3):
        try:
            return _randomize_locked(participant=participant, user=user, key=key, channel=channel)
        except IntegrityError as exc:
            constraint = _constraint_of(exc)
            if "randomization_code" in constraint:
                continue
            if "participant" in constraint:
                # The unique constraint caught what the row lock should already have prevented.
                raise _refusal(
                    Conflict, Kind.REFUSED_DUPLICATE, "The participant is already randomised."
                ) from exc
            if "idempotency" in constraint:
                raise _refusal(
                    Invalid,
                    Kind.REFUSED_INVALID,
                    "This Idempotency-Key was already used for another randomisation; "
                    "use a new key for each participant.",
                ) from exc
            raise
        except DatabaseError as exc:
            if is_lock_refusal(exc):
                raise permissions.lock_refusal(lock_level()).exception() from exc
            translated = from_database_error(exc)
            if translated is None:
                raise
            translated.log_kind = Kind.REFUSED_LOCKED  # type: ignore[attr-defined]
            raise translated from exc
    raise Conflict(_("Randomisation could not be completed; please try again."))


def participant_randomize(
    *, participant: Participant, user: Viewer, idempotency_key: str | None = None
) -> Allocation:
    """DESIGN.md's service: randomise `participant` (or return the allocation of a repeated
    request with the same idempotency key). Raises Forbidden, Invalid, Conflict, Unavailable."""
    return randomize(participant=participant, user=user, idempotency_key=idempotency_key).allocation
