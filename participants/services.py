"""Writes for participants: registration, screening, consent and the end-of-participation
statuses. Each function checks the caller's role and site, validates everything before it
writes, runs in one transaction and leaves audit events with the user and the reason."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables

from participants import cpr as cpr_module
from participants import eligibility
from participants.models import CLOSED_STATUSES, EligibilityScreening, Participant, Sex, Status
from participants.selectors import columns_sql
from participants.studyid import make_study_id
from trial import access
from trial.access import Viewer
from trial.audit import audit_context
from trial.errors import Conflict, Forbidden, Invalid
from trial.models import Site
from trial.roles import Role

# Statuses from which a person may still be (re-)screened or consented.
OPEN_BEFORE_RANDOMIZATION = frozenset(
    {Status.REGISTERED, Status.ELIGIBLE, Status.INELIGIBLE, Status.CONSENTED}
)


def _require_coordinator_at(user: Viewer, site: Site) -> None:
    if not access.has_role_at(user, site, Role.COORDINATOR):
        raise Forbidden(
            _("Only a coordinator at {name} can do this.").format(
                name=site.name,
            )
        )


def _require_not_future(value: date, field: str, label: str | Promise) -> None:
    if value > timezone.localdate():
        raise Invalid(
            _("{label} cannot be in the future.").format(label=label),
            fields={field: [_("{label} cannot be in the future.").format(label=label)]},
        )


# Error reports (the technical 500 page, mails to administrators) must not show the number.
@sensitive_variables("cpr", "parsed")
def participant_register(*, user: Viewer, site_code: str, cpr: str, sex: str) -> Participant:
    errors: dict[str, list[str | Promise]] = {}
    site = Site.objects.filter(code=(site_code or "").strip().upper()).first()
    if site is None:
        errors["site"] = [
            _("Unknown site {site_code!r}; use BAL, GLA or FRB.").format(
                site_code=site_code,
            )
        ]
    try:
        parsed = cpr_module.parse_cpr(cpr)
    except cpr_module.InvalidCpr as exc:
        errors["cpr"] = [str(exc)]
    if sex not in Sex.values:
        errors["sex"] = [_("Sex must be 'female' or 'male'.")]
    if errors:
        raise Invalid(_("The registration has errors."), fields=errors)
    assert site is not None
    _require_coordinator_at(user, site)

    if Participant.objects.filter(cpr_hash__in=cpr_module.lookup_hashes(parsed)).exists():
        raise Conflict(_("This CPR number is already registered in the trial."))
    try:
        with transaction.atomic(), audit_context(user=user, reason="Registration"):
            locked_site = Site.objects.select_for_update().get(pk=site.pk)
            number = locked_site.next_participant_number
            locked_site.next_participant_number = number + 1
            locked_site.save(update_fields=["next_participant_number"])
            return Participant.objects.create(
                site=locked_site,
                number=number,
                study_id=make_study_id(locked_site.code, number),
                cpr_ciphertext=cpr_module.encrypt(parsed),
                cpr_hash=cpr_module.keyed_hash(parsed),
                date_of_birth=parsed.birth_date,
                sex=sex,
                registered_by=access.signed_in(user),
            )
    except IntegrityError as exc:
        # Two simultaneous registrations of one number: the unique hash lets only one in.
        if "cpr_hash" in str(exc):
            raise Conflict(_("This CPR number is already registered in the trial.")) from None
        raise


def participant_screen(
    *, user: Viewer, participant: Participant, answers: dict[str, Any]
) -> EligibilityScreening:
    """Record a screening. Re-screening is allowed until randomisation; every screening is
    kept and the latest one decides the status."""
    _require_coordinator_at(user, participant.site)
    errors: dict[str, list[str | Promise]] = {}
    if answers.get("diagnosis") not in ("F20", "F31", "other"):
        errors["diagnosis"] = [_("Diagnosis must be 'F20', 'F31' or 'other'.")]
    for field in eligibility.ANSWER_FIELDS[1:]:
        if not isinstance(answers.get(field), bool):
            errors[field] = [_("Answer yes (true) or no (false).")]
    if errors:
        raise Invalid(_("The screening has unanswered questions."), fields=errors)

    with transaction.atomic(), audit_context(user=user, reason="Eligibility screening"):
        locked = Participant.objects.select_for_update().get(pk=participant.pk)
        if locked.status not in OPEN_BEFORE_RANDOMIZATION:
            raise Conflict(
                _(
                    "The participant is {get_status_display}; screening is only possible "
                    "before randomisation."
                ).format(
                    get_status_display=locked.get_status_display().lower(),
                )
            )
        reasons = eligibility.assess(answers)
        screening = EligibilityScreening.objects.create(
            participant=locked,
            **{field: answers[field] for field in eligibility.ANSWER_FIELDS},
            eligible=not reasons,
            reasons=reasons,
            screened_by=access.signed_in(user),
        )
        if reasons:
            new_status = Status.INELIGIBLE
        elif locked.consent_date is not None:
            new_status = Status.CONSENTED
        else:
            new_status = Status.ELIGIBLE
        if locked.status != new_status:
            locked.status = new_status
            locked.save(update_fields=["status"])
    participant.refresh_from_db()
    return screening


def participant_record_consent(
    *, user: Viewer, participant: Participant, consent_date: date, reason: str = ""
) -> Participant:
    _require_coordinator_at(user, participant.site)
    _require_not_future(consent_date, "consent_date", _("The consent date"))
    if consent_date < participant.registered_on:
        raise Invalid(
            _("The consent date is before registration."),
            fields={
                "consent_date": [
                    _(
                        "The consent date cannot be before registration ({registered_on:%Y-%m-%d})."
                    ).format(
                        registered_on=participant.registered_on,
                    )
                ]
            },
        )
    with transaction.atomic(), audit_context(user=user, reason=reason or "Consent recorded"):
        locked = Participant.objects.select_for_update().get(pk=participant.pk)
        if locked.status == Status.RANDOMIZED or locked.status in CLOSED_STATUSES:
            raise Conflict(
                _(
                    "The participant is {get_status_display}; consent can only be recorded "
                    "before randomisation."
                ).format(
                    get_status_display=locked.get_status_display().lower(),
                )
            )
        if locked.status not in (Status.ELIGIBLE, Status.CONSENTED):
            raise Invalid(
                _(
                    "Consent can only be recorded for a participant screened eligible (the "
                    "participant is {get_status_display})."
                ).format(
                    get_status_display=locked.get_status_display().lower(),
                )
            )
        if locked.consent_date and locked.consent_date != consent_date and not reason:
            raise Invalid(
                _("Consent is already recorded; give a reason to correct its date."),
                fields={"reason": [_("A reason is required to change a recorded consent date.")]},
            )
        locked.consent_date = consent_date
        locked.consent_recorded_by = access.signed_in(user)
        locked.status = Status.CONSENTED
        locked.save(update_fields=["consent_date", "consent_recorded_by", "status"])
    participant.refresh_from_db()
    return participant


def participant_close(
    *, user: Viewer, participant: Participant, status: str, on: date, reason: str
) -> Participant:
    """Withdrawal, loss to follow-up or death. The allocation, if any, is kept (ITT)."""
    if status not in CLOSED_STATUSES:
        raise Invalid(
            _("Unknown status."),
            fields={"status": [_("Use withdrawn, lost_to_follow_up or deceased.")]},
        )
    allowed = (
        (Role.COORDINATOR,) if status == Status.WITHDRAWN else (Role.COORDINATOR, Role.DATA_MANAGER)
    )
    if not access.has_role_at(user, participant.site, *allowed):
        raise Forbidden(_("Your role does not allow changing this participant's status."))
    errors: dict[str, list[str | Promise]] = {}
    if not (reason or "").strip():
        errors["reason"] = [_("Give the reason.")]
    if on > timezone.localdate():
        errors["date"] = [_("The date cannot be in the future.")]
    elif on < participant.registered_on:
        errors["date"] = [
            _("The date cannot be before registration ({registered_on:%Y-%m-%d}).").format(
                registered_on=participant.registered_on,
            )
        ]
    if errors:
        raise Invalid(_("The status change has errors."), fields=errors)
    label = Status(status).label.lower()
    with transaction.atomic(), audit_context(user=user, reason=reason.strip()):
        locked = Participant.objects.select_for_update().get(pk=participant.pk)
        if locked.status == status:
            raise Conflict(_("The participant is already {label}.").format(label=label))
        if locked.status == Status.DECEASED:
            raise Conflict(_("The participant is recorded as deceased."))
        if status == Status.LOST_TO_FOLLOW_UP and locked.status != Status.RANDOMIZED:
            raise Invalid(_("Only a randomised participant can be lost to follow-up."))
        locked.status = status
        locked.status_date = on
        locked.status_reason = reason.strip()
        locked.save(update_fields=["status", "status_date", "status_reason"])
    participant.refresh_from_db()
    return participant


# --- randomisation (called by randomization.services, inside its transaction) ------------


@dataclass(frozen=True)
class LatestScreening:
    """The participant's latest eligibility screening, as read under the row lock."""

    id: int
    eligible: bool
    reasons: list[str]
    screened_at: datetime


# The participant's row, locked, with its latest screening, in one round trip. After waiting
# for the lock, PostgreSQL returns the newest version of the participant's row, but what the
# statement reads from other tables comes from the snapshot taken before the wait: so the
# row's own status is what a decision rests on (the randomise service reads the allocation
# afterwards, in a statement of its own, whenever the status says it may exist).
LOCK_PARTICIPANT = f"""
    SELECT {columns_sql(Participant, "p")},
           s.id, s.eligible, s.reasons, s.screened_at
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
"""  # noqa: S608 (the models' own column names; the value is a parameter)
_PARTICIPANT_FIELDS = [field.attname for field in Participant._meta.concrete_fields]


def participant_lock(*, participant: Participant) -> tuple[Participant, LatestScreening | None]:
    """The participant's row locked until the caller's transaction ends (two randomisations
    of one person queue up here), with its latest screening."""
    if not connection.in_atomic_block:
        raise RuntimeError("participant_lock needs the caller's transaction.")
    # A plain cursor and from_db(), as participants.selectors.participant_get: on the
    # randomise request's path a raw() query set cost more than the statement itself.
    with connection.cursor() as cursor:
        cursor.execute(LOCK_PARTICIPANT, [participant.pk])
        row = cursor.fetchone()
    if row is None:
        raise Participant.DoesNotExist
    split = len(_PARTICIPANT_FIELDS)
    locked = Participant.from_db(connection.alias, _PARTICIPANT_FIELDS, row[:split])
    locked.site = participant.site
    screening_id, eligible, reasons, screened_at = row[split:]
    if screening_id is None:
        return locked, None
    if isinstance(reasons, str):
        reasons = json.loads(reasons)
    screening = LatestScreening(
        id=screening_id,
        eligible=bool(eligible),
        reasons=list(reasons or []),
        screened_at=screened_at,
    )
    return locked, screening


MARK_RANDOMIZED = (
    "UPDATE participants_participant SET status = %s, randomized_at = %s WHERE id = %s"
)


def participant_mark_randomized(*, participant: Participant, randomized_at: datetime) -> None:
    """Status `randomized` and the time of randomisation, written in the randomise service's
    transaction together with the allocation (so both exist or neither). The lock and audit
    triggers run as for any change; the audit context is the caller's."""
    # A plain UPDATE: this is on the randomise request's path, where the ORM's compiling of
    # the statement cost more than PostgreSQL's running it (docs/benchmarks.md).
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        cursor.execute(MARK_RANDOMIZED, [Status.RANDOMIZED.value, randomized_at, participant.pk])
    participant.status = Status.RANDOMIZED
    participant.randomized_at = randomized_at
