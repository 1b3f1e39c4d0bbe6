"""The audit trail of the exported form values, for ODM's AuditRecord (export option
`odm_audit_records`): for every item and score of every complete form, who last set the value,
when, and the reason given. Read from the forms' audit events (pghistory rows written by the
database triggers), in the export's snapshot.

A value's record is the event that last changed it (its value or its missing-data reason);
a score's is the event that last changed the score; the assessment day's (ASSESS_DAY) the
event that last changed the interview date, and VERIFIED's the one that last changed the
form's status. Users are named by their number only
(ODM User OIDs, nothing that identifies a person); reasons lose anything shaped like a CPR
number, as every exported text does."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.apps import apps

from assessments.models import InstrumentResponse
from datasets.base import redact_cpr
from datasets.instruments import TIMEPOINT_NUMBERS
from datasets.responses import DONE_STATUSES


@dataclass(frozen=True)
class ChangeRecord:
    """One audit event of a form: who (user number, or None for the system), when, why."""

    user_id: int | None
    at: datetime
    reason: str


# (study ID, instrument code, timepoint number) -> variable code -> its last change
FormAudit = dict[tuple[str, str, int], dict[str, ChangeRecord]]


def _event_model() -> Any:
    for model in apps.get_models():
        if getattr(model, "pgh_tracked_model", None) is InstrumentResponse:
            return model
    raise LookupError("InstrumentResponse has no audit event model.")


def _as_dict(value: Any) -> dict[str, Any]:
    if isinstance(value, str | bytes):
        value = json.loads(value)
    return value if isinstance(value, dict) else {}


def form_audit(instruments: Iterable[str]) -> FormAudit:
    """The last change of every item and score of the complete forms of `instruments`."""
    wanted = set(instruments)
    forms = {
        pk: (study_id, code, TIMEPOINT_NUMBERS[timepoint])
        for pk, study_id, code, timepoint in InstrumentResponse.objects.filter(
            status__in=DONE_STATUSES, instrument__in=wanted
        ).values_list("pk", "participant__study_id", "instrument", "timepoint")
    }
    result: FormAudit = {}
    events = (
        _event_model()
        .objects.filter(pgh_obj_id__in=list(forms))
        .order_by("pgh_obj_id", "pgh_id")
        .values_list(
            "pgh_obj_id",
            "items",
            "missing",
            "scores",
            "interview_date",
            "status",
            "pgh_created_at",
            "pgh_context",
        )
        .iterator(chunk_size=2000)
    )
    current: int | None = None
    empty: tuple[dict[str, Any], ...] = ({}, {}, {}, {})
    before = empty
    for pk, items, missing, scores, interview_date, status, at, context in events:
        if pk != current:
            current, before = pk, empty
        # The form's own fields, under the names of the variables they become.
        form = {"ASSESS_DAY": interview_date, "VERIFIED": status == "verified"}
        now = (_as_dict(items), _as_dict(missing), _as_dict(scores), form)
        changed = {
            code
            for old, new in zip(before, now, strict=True)
            for code in old.keys() | new.keys()
            if old.get(code) != new.get(code)
        }
        if changed:
            meta = _as_dict(context)
            reason, _ = redact_cpr(str(meta.get("reason") or ""))
            record = ChangeRecord(meta.get("user"), at, reason)
            per_item = result.setdefault(forms[pk], {})
            for code in changed:
                per_item[code] = record
        before = now
    return result
