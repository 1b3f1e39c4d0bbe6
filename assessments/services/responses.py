"""Saving and verifying instrument responses (API.md "Assessments").

`version` is the optimistic-concurrency token: a new response is created with version absent
or 0 (1, the number the new response will get, is accepted too), and becomes version 1; every
change must send the version it was based on and gets the next number. A stale version is a
409, and so is a missing version for a response that exists. Saving identical content again is
not a change: it answers 200 with the same version and needs no reason."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from assessments import permissions, windows
from assessments.models import (
    UNRESOLVED_QUERY_STATUSES,
    InstrumentResponse,
    Query,
    QueryKind,
    ResponseStatus,
    Timepoint,
)
from assessments.selectors import form_instrument
from assessments.services.queries import sync_automatic_queries
from instruments import registry
from instruments.base import Action, CheckContext, Finding, Instrument
from instruments.validation import CleanEntry, EntryErrors, clean_entry
from participants.models import Participant
from trial import access
from trial.access import Viewer
from trial.audit import audit_context
from trial.errors import LOCKED_SQLSTATE, Conflict, Forbidden, Invalid, NotFound, sqlstate_of
from trial.selectors import lock_level

REASON_MAX_LENGTH = 2000
ENTRY_STATUSES = (ResponseStatus.DRAFT, ResponseStatus.COMPLETE)


@dataclass
class SaveResult:
    response: InstrumentResponse
    created: bool
    changed: bool
    queries_opened: list[Finding] = field(default_factory=list)


def require_entry_allowed(user: Viewer, participant: Participant, instrument: Instrument) -> None:
    """404 outside the user's sites; 403 for a role that does not enter this form."""
    if not access.has_role_at(
        user, participant.site_id, *permissions.READERS, *instrument.entered_by
    ):
        raise NotFound(_("No such participant at your sites."))
    if permissions.may_enter(user, participant.site, instrument):
        return
    if not instrument.blinded_readable and access.is_blinded(user):
        raise Forbidden(
            _(
                "{code} is rated by the participant's own clinician, who is not blinded; "
                "blinded staff may neither enter nor read it."
            ).format(
                code=instrument.code,
            )
        )
    roles = ", ".join(str(r) for r in instrument.entered_by)
    raise Forbidden(
        _("{code} is entered by: {roles}. Your role does not allow it.").format(
            code=instrument.code,
            roles=roles,
        )
    )


def require_data_entry_open() -> None:
    level = lock_level()
    if level == "lock":
        raise Conflict(_("The trial database is locked: nothing can be changed."))
    if level == "freeze":
        raise Conflict(_("The trial database is frozen: no data entry (queries can be answered)."))


def _check_participant(
    participant: Participant, timepoint: str, randomized_on: date | None
) -> None:
    if participant.consent_date is None:
        raise Invalid(
            _(
                "No informed consent is recorded for this participant: assessments start "
                "after consent."
            )
        )
    if timepoint != Timepoint.BASELINE and randomized_on is None:
        raise Invalid(
            _(
                "The participant is not randomised: {Timepoint} assessments open after "
                "randomisation."
            ).format(
                Timepoint=Timepoint(timepoint).label.lower(),
            )
        )


def _merge(fields: dict[str, list[str]], findings: list[Finding]) -> dict[str, list[str]]:
    merged = {key: list(messages) for key, messages in fields.items()}
    for finding in findings:
        merged.setdefault(finding.item, []).append(finding.message)
    return merged


def response_save(
    *,
    user: Viewer,
    participant: Participant,
    timepoint: str,
    code: str,
    items: Any,
    missing: Any = None,
    comments: Any = None,
    status: str = ResponseStatus.DRAFT,
    version: int | None = None,
    reason: str = "",
    interview_date: date | None = None,
) -> SaveResult:
    """Validate everything first (one message per bad item, nothing written), then create or
    change the response in one transaction, with the reason in the audit context, and open or
    close the automatic queries of the edit checks."""
    instrument = form_instrument(code, timepoint)
    require_entry_allowed(user, participant, instrument)
    reason = (reason or "").strip()
    _check_request(status=status, reason=reason, version=version)
    randomized_on = windows.randomization_date(participant)
    _check_participant(participant, timepoint, randomized_on)
    context = CheckContext(
        participant=participant,
        timepoint=timepoint,
        interview_date=interview_date,
        randomized_on=randomized_on,
        justifications=comments if isinstance(comments, dict) else {},
        reason=reason,
    )
    entry, date_findings = _clean(
        instrument, context, items=items, missing=missing, comments=comments, status=status
    )
    with (
        _database_refusals(),
        transaction.atomic(),
        audit_context(
            user=user, reason=reason or None, instrument=instrument.code, timepoint=timepoint
        ),
    ):
        existing, open_automatic = _locked_response(participant, timepoint, instrument)
        # Without a date, a new form is dated today and an existing one keeps its date.
        interview_day = (
            interview_date
            or (existing.interview_date if existing is not None else None)
            or timezone.localdate()
        )
        if interview_date is None:
            date_findings = _date_findings(context, interview_day)
        findings = entry.findings + [f for f in date_findings if f.action != Action.ERROR]
        response, created = _response_to_change(
            existing, version, participant=participant, timepoint=timepoint, instrument=instrument
        )
        if not created and _unchanged(response, entry, interview_day, status):
            return SaveResult(response=response, created=False, changed=False)
        _require_reason_once_completed(response, reason)
        _fill(response, entry, instrument, user=user, status=status, interview_day=interview_day)
        response.version = 1 if created else response.version + 1
        response.save()
        opened: list[Finding] = []
        if findings or open_automatic:
            opened = sync_automatic_queries(response=response, findings=findings, user=user)
    return SaveResult(response=response, created=created, changed=True, queries_opened=opened)


def _check_request(*, status: str, reason: str, version: Any) -> None:
    """The request's own fields, before anything is read: 400 with every problem."""
    errors: dict[str, list[str | Promise]] = {}
    if status not in ENTRY_STATUSES:
        errors["status"] = [
            _("Use 'draft' or 'complete'; a monitor or data manager marks a form verified.")
            if status == ResponseStatus.VERIFIED
            else _("Use 'draft' or 'complete'.")
        ]
    if len(reason) > REASON_MAX_LENGTH:
        errors["reason"] = [
            _("At most {REASON_MAX_LENGTH} characters.").format(REASON_MAX_LENGTH=REASON_MAX_LENGTH)
        ]
    if version is not None and (
        isinstance(version, bool) or not isinstance(version, int) or version < 0
    ):
        errors["version"] = [_("The version is a whole number (0 or absent for a new form).")]
    if errors:
        raise Invalid(_("The form has errors."), fields=errors)


def _clean(
    instrument: Instrument,
    context: CheckContext,
    *,
    items: Any,
    missing: Any,
    comments: Any,
    status: str,
) -> tuple[CleanEntry, list[Finding]]:
    """The clean entry and the findings of its interview date (when given), or 400 with the
    problems of both."""
    entry: CleanEntry | None = None
    errors: dict[str, list[str]] = {}
    try:
        entry = clean_entry(
            instrument,
            items=items,
            missing=missing,
            comments=comments,
            complete=status == ResponseStatus.COMPLETE,
            context=context,
        )
    except EntryErrors as exc:
        errors = exc.fields
    date_findings: list[Finding] = []
    if context.interview_date is not None:
        date_findings = windows.interview_date_findings(
            context.participant, context.timepoint, context.interview_date, context.randomized_on
        )
        errors = _merge(errors, [f for f in date_findings if f.action == Action.ERROR])
    if errors or entry is None:
        raise Invalid(_("The form has errors."), fields=errors)
    return entry, date_findings


def _date_findings(context: CheckContext, interview_day: date) -> list[Finding]:
    """The findings of the date the form gets when none was sent; 400 on an impossible one."""
    findings = windows.interview_date_findings(
        context.participant, context.timepoint, interview_day, context.randomized_on
    )
    date_errors = [f for f in findings if f.action == Action.ERROR]
    if date_errors:
        raise Invalid(_("The form has errors."), fields=_merge({}, date_errors))
    return findings


def _locked_response(
    participant: Participant, timepoint: str, instrument: Instrument
) -> tuple[InstrumentResponse | None, bool]:
    """The existing response, locked for this transaction, and whether it has open automatic
    queries."""
    row = (
        InstrumentResponse.objects.select_for_update(of=("self",))
        .filter(participant=participant, timepoint=timepoint, instrument=instrument.code)
        .annotate(
            open_automatic=Exists(
                Query.objects.filter(
                    response=OuterRef("pk"),
                    kind=QueryKind.AUTOMATIC,
                    status__in=UNRESOLVED_QUERY_STATUSES,
                )
            )
        )
        .first()
    )
    if row is None:
        return None, False
    return row, bool(vars(row)["open_automatic"])  # the annotation, set on the row


def _response_to_change(
    existing: InstrumentResponse | None,
    version: int | None,
    *,
    participant: Participant,
    timepoint: str,
    instrument: Instrument,
) -> tuple[InstrumentResponse, bool]:
    """(the response, whether it is new); 409 when the version sent is not the one to change."""
    if existing is None:
        if version not in (None, 0, 1):
            raise Conflict(
                _(
                    "There is no version {version} of this form yet: send version 0 (or "
                    "leave it out) to create it."
                ).format(
                    version=version,
                )
            )
        new = InstrumentResponse(
            participant=participant, timepoint=timepoint, instrument=instrument.code
        )
        return new, True
    if version is None:
        raise Conflict(
            _(
                "This form exists already (version {version}): send the version you are changing."
            ).format(
                version=existing.version,
            )
        )
    if version != existing.version:
        raise Conflict(
            _(
                "The form was changed since you read it: it is now version {version}, "
                "you sent version {version2}. Reload it and apply your change again."
            ).format(
                version=existing.version,
                version2=version,
            )
        )
    existing.participant = participant  # already loaded: no second read
    return existing, False


def _unchanged(
    response: InstrumentResponse, entry: CleanEntry, interview_day: date, status: str
) -> bool:
    """Saving the same content again is not a change (complete stays verified)."""
    same_status = response.status == status or (
        response.status == ResponseStatus.VERIFIED and status == ResponseStatus.COMPLETE
    )
    return (
        response.items == entry.values
        and response.missing == entry.missing
        and response.comments == entry.comments
        and response.interview_date == interview_day
        and same_status
    )


def _require_reason_once_completed(response: InstrumentResponse, reason: str) -> None:
    if response.first_completed_at is not None and not reason:
        raise Invalid(
            _("A completed form changes only with a reason."),
            fields={
                "reason": [
                    _(
                        "This form was completed on {localtime:%Y-%m-%d}: give the reason for "
                        "the change."
                    ).format(
                        localtime=timezone.localtime(response.first_completed_at),
                    )
                ]
            },
        )


def _fill(
    response: InstrumentResponse,
    entry: CleanEntry,
    instrument: Instrument,
    *,
    user: Viewer,
    status: str,
    interview_day: date,
) -> None:
    """The response's new content, scores and rater; any change clears the verification."""
    response.items = entry.values
    response.missing = entry.missing
    response.comments = entry.comments
    response.scores = instrument.compute_scores(entry.values, entry.missing)
    response.status = status
    response.interview_date = interview_day
    response.rater = access.signed_in(user)
    response.rater_role = permissions.entering_role(user, response.participant.site_id, instrument)
    response.verified_by = None
    response.verified_at = None
    if status == ResponseStatus.COMPLETE and response.first_completed_at is None:
        response.first_completed_at = timezone.now()


@contextmanager
def _database_refusals() -> Iterator[None]:
    """The database's refusals as the API's answers: a duplicate form created at the same
    moment is a 409, and so is a write the lock trigger refused (the trigger is the guard;
    checking the lock first would cost every save a query)."""
    try:
        yield
    except IntegrityError as exc:
        if "one_response_per_instrument_and_timepoint" in str(exc):
            raise Conflict(
                _("Someone else created this form at the same moment: reload it.")
            ) from None
        raise
    except DatabaseError as exc:
        if sqlstate_of(exc) == LOCKED_SQLSTATE:
            require_data_entry_open()
        raise


def response_verify(
    *, user: Viewer, response: InstrumentResponse, version: int | None
) -> InstrumentResponse:
    """Source-data verification of one complete form by a monitor or data manager. Possible
    while the database is frozen; any later change of the form clears it."""
    instrument = registry.get(response.instrument)
    if not permissions.may_verify(user, instrument):
        raise Forbidden(_("Source-data verification is done by monitors and data managers."))
    if lock_level() == "lock":
        raise Conflict(_("The trial database is locked: nothing can be changed."))
    with transaction.atomic(), audit_context(user=user, reason="Source-data verification"):
        locked = InstrumentResponse.objects.select_for_update().get(pk=response.pk)
        if version is None or version != locked.version:
            raise Conflict(
                _("The form is now version {version}; verify the version you checked.").format(
                    version=locked.version,
                )
            )
        if locked.status == ResponseStatus.VERIFIED:
            raise Conflict(_("This version of the form is already verified."))
        if locked.status != ResponseStatus.COMPLETE:
            raise Invalid(
                _("Only a complete form can be verified."),
                fields={"status": [_("The form is a draft.")]},
            )
        locked.status = ResponseStatus.VERIFIED
        locked.verified_by = access.signed_in(user)
        locked.verified_at = timezone.now()
        locked.save(update_fields=["status", "verified_by", "verified_at", "updated_at"])
    return locked
