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

import json
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
    LOCKED_SQLSTATE,
    Conflict,
    Forbidden,
    Invalid,
    TrialError,
    Unavailable,
    from_database_error,
    sqlstate_of,
)
from imrtrial.queue import send_after_commit
from imrtrial.roles import Role
from imrtrial.sealing import unseal
from participants.models import CLOSED_STATUSES, Participant, Status
from randomization.models import Allocation, AllocationList, RandomizationLogEntry
from randomization.services.log import Kind, actor_and_context, log_event

# Statuses in which a participant cannot have been randomised (the allocation and the status
# `randomized` are written in one transaction).
BEFORE_RANDOMISATION = frozenset(
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
    if access.has_role(user, Role.STATISTICIAN):
        # RANDOMISATION.md §4: the list custodian does not enrol (whoever can read the list
        # could choose whom to randomise next).
        raise _refusal(
            Forbidden,
            Kind.REFUSED_NOT_ALLOWED,
            "You hold the statistician role and can read the allocation lists, so you cannot "
            "randomise.",
        )


# The participant's row, locked, with its latest screening, in one round trip. After waiting
# for the lock, PostgreSQL returns the newest version of the participant's row, but what the
# statement reads from other tables comes from the snapshot taken before the wait: so the
# row's own status is what the decision rests on, and the allocation is read afterwards, in a
# statement of its own, whenever the status says randomisation may already have happened.
LOCK_PARTICIPANT = """
    SELECT p.*, s.id AS screening_id, s.eligible AS screening_eligible,
           s.reasons AS screening_reasons, s.screened_at AS screened_at
    FROM participants_participant p
    LEFT JOIN LATERAL (
        SELECT id, eligible, reasons, screened_at
        FROM participants_eligibilityscreening
        WHERE participant_id = p.id
        ORDER BY screened_at DESC, id DESC
        LIMIT 1
    ) s ON TRUE
    WHERE p.id = %s
    FOR UPDATE OF p
"""


def _lock_participant(participant: Participant) -> Any:
    (locked,) = Participant.objects.raw(LOCK_PARTICIPANT, [participant.pk])
    locked.site = participant.site
    return locked


def _check_ready(participant: Any) -> dict[str, Any]:
    """Eligibility, consent and baseline, read under the participant's row lock. Returns what
    was confirmed, for the log. (Whether the database is frozen or locked is checked by
    PostgreSQL itself when the allocation is inserted.)"""
    if participant.status in CLOSED_STATUSES:
        raise _refusal(
            Conflict,
            Kind.REFUSED_CLOSED,
            f"The participant is {participant.get_status_display().lower()} and cannot be "
            "randomised.",
        )
    if participant.screening_id is None:
        raise _refusal(
            Invalid,
            Kind.REFUSED_INELIGIBLE,
            "Not eligible: the participant has not been screened for eligibility.",
        )
    if not participant.screening_eligible:
        reasons = participant.screening_reasons
        if isinstance(reasons, str):
            reasons = json.loads(reasons)
        text = " ".join(reasons or []) or "the latest screening found them not eligible."
        raise _refusal(Invalid, Kind.REFUSED_INELIGIBLE, f"Not eligible: {text}")
    if participant.status != Status.CONSENTED or participant.consent_date is None:
        raise _refusal(
            Invalid,
            Kind.REFUSED_NOT_CONSENTED,
            "Not consented: record the participant's written informed consent first.",
        )
    if settings.RANDOMIZATION_REQUIRES_BASELINE:
        missing = baseline_missing(participant)
        if missing:
            raise _refusal(
                Invalid,
                Kind.REFUSED_BASELINE,
                f"Baseline missing: complete the baseline forms first ({', '.join(missing)}).",
            )
    return {
        "screening": participant.screening_id,
        "screened_at": participant.screened_at.isoformat(),
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

# The allocation, the participant's new status and the log row, in one statement (so in one
# round trip, inside the same transaction). The tables' triggers run as for any other write:
# the audit trail (pghistory), the lock check, the immutability of allocations.
RECORD_RANDOMISATION = """
    WITH allocation AS (
        INSERT INTO randomization_allocation
            (participant_id, slot_id, arm, randomization_code, randomized_at,
             randomized_by_id, idempotency_key)
        VALUES (%(participant)s, %(slot)s, %(arm)s, %(code)s, %(at)s, %(user)s, %(key)s)
        RETURNING id
    ), randomised AS (
        UPDATE participants_participant SET status = %(status)s
        WHERE id = %(participant)s
        RETURNING id
    ), logged AS (
        INSERT INTO randomization_randomizationlogentry
            (kind, at, user_id, username, channel, site_id, participant_id,
             allocation_list_id, message, detail, request_id)
        SELECT %(kind)s, %(at)s, %(user)s, %(username)s, %(channel)s, %(site)s,
               randomised.id, %(list)s, %(message)s, %(detail)s::jsonb, %(request)s
        FROM randomised
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


def _is_repeat(allocation: Allocation, user: Any, key: str) -> bool:
    return (
        bool(key) and allocation.idempotency_key == key and allocation.randomized_by_id == user.pk
    )


def _randomize_locked(*, participant: Participant, user: Any, key: str, channel: str) -> Outcome:
    with transaction.atomic(), audit_context(user=user, reason="Randomisation"):
        locked = _lock_participant(participant)
        existing = (
            None
            if locked.status in BEFORE_RANDOMISATION
            else Allocation.objects.filter(participant_id=locked.pk).first()
        )
        if existing is not None:
            if _is_repeat(existing, user, key):
                return Outcome(existing, created=False)
            raise _refusal(
                Conflict,
                Kind.REFUSED_DUPLICATE,
                f"{locked.study_id} is already randomised; a randomisation can never be repeated.",
            )
        confirmed = _check_ready(locked)
        slot = _take_next_slot(locked.site_id)
        allocation = Allocation(
            participant=locked,
            slot_id=slot.id,
            arm=unseal("arm", slot.arm_sealed),
            randomization_code=new_randomization_code(),
            randomized_at=timezone.now(),
            randomized_by=user,
            idempotency_key=key,
        )
        _, username, request_id = actor_and_context(user, channel)
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
                RECORD_RANDOMISATION,
                {
                    "participant": locked.pk,
                    "slot": slot.id,
                    "arm": allocation.arm,
                    "code": allocation.randomization_code,
                    "at": allocation.randomized_at,
                    "user": user.pk,
                    "key": key,
                    "status": Status.RANDOMIZED.value,
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
        locked.status = Status.RANDOMIZED
        from randomization.tasks import send_randomisation_confirmation

        allocation_id = allocation.pk
        send_after_commit(send_randomisation_confirmation, allocation_id)
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
            send_after_commit(alert_list_exhausted, entry_id)


def randomize(
    *, participant: Participant, user: Any, idempotency_key: str | None = None, channel: str = "api"
) -> Outcome:
    """Randomise, or answer a repeated request (same user, same key) with its allocation."""
    key = (idempotency_key or "").strip()
    try:
        _check_key(key)
        _require_randomiser(user, participant)
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
    *, participant: Participant, user: Any, key: str, channel: str
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
            if sqlstate_of(exc) == LOCKED_SQLSTATE:
                level = lock_level()
                state = "locked" if level == "lock" else "frozen"
                raise _refusal(
                    Conflict,
                    Kind.REFUSED_LOCKED,
                    f"The trial database is {state}: nobody can be randomised.",
                ) from exc
            translated = from_database_error(exc)
            if translated is None:
                raise
            translated.log_kind = Kind.REFUSED_LOCKED  # type: ignore[attr-defined]
            raise translated from exc
    raise Conflict("Randomisation could not be completed; please try again.")


def participant_randomize(
    *, participant: Participant, user: Any, idempotency_key: str | None = None
) -> Allocation:
    """DESIGN.md's service: randomise `participant` (or return the allocation of a repeated
    request with the same idempotency key). Raises Forbidden, Invalid, Conflict, Unavailable."""
    return randomize(participant=participant, user=user, idempotency_key=idempotency_key).allocation
