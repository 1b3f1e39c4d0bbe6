"""What the analysis datasets must contain, computed here straight from the database and the
trial's rules, independently of the export code."""

from __future__ import annotations

from datetime import date
from typing import Any

from dateutil.relativedelta import relativedelta
from django.utils import timezone

from assessments.models import InstrumentResponse
from participants.models import Participant

STATUS_NUMBER = {
    "registered": 1, "eligible": 2, "ineligible": 3, "consented": 4, "randomized": 5,
    "withdrawn": 6, "lost_to_follow_up": 7, "deceased": 8,
}  # fmt: skip
NA = -995


def randomised_on(participant: Participant) -> date | None:
    allocation = getattr(participant, "allocation", None)
    return timezone.localtime(allocation.randomized_at).date() if allocation else None


def group_code(participant: Participant, masking: dict[str, str] | None) -> int:
    allocation = getattr(participant, "allocation", None)
    if allocation is None:
        return NA
    if masking is None:
        return {"IMR": 1, "TAU": 0}[allocation.arm]
    return {"A": 1, "B": 2}[masking[allocation.arm]]


def participants_rows(masking: dict[str, str] | None) -> list[dict[str, Any]]:
    rows = []
    for p in sorted(Participant.objects.select_related("site"), key=lambda p: p.study_id):
        day0 = randomised_on(p)
        screening = p.screenings.filter(eligible=True).order_by("-screened_at").first()
        row: dict[str, Any] = {
            "STUDY_ID": p.study_id,
            "SITE": p.site.number,
            "SEX": {"male": 1, "female": 2}[p.sex],
            "AGE": relativedelta(day0, p.date_of_birth).years if day0 else NA,
            "DX_GROUP": {"F20": 1, "F31": 2}[screening.diagnosis] if screening else NA,
            "STATUS": STATUS_NUMBER[p.status],
            "RANDOMISED": int(day0 is not None),
            "GROUP" if masking is not None else "ARM": group_code(p, masking),
        }
        if masking is None:
            allocation = getattr(p, "allocation", None)
            row["RAND_CODE"] = allocation.randomization_code if allocation else ""
        registered = timezone.localtime(p.registered_at).date()
        row["REG_DAY"] = (registered - day0).days if day0 else NA
        row["CONSENT_DAY"] = (p.consent_date - day0).days if day0 and p.consent_date else NA
        closed = p.status in ("withdrawn", "lost_to_follow_up", "deceased")
        row["STATUS_DAY"] = (p.status_date - day0).days if day0 and closed else NA
        rows.append(row)
    return rows


def response_rows(instrument: str, masking: dict[str, str] | None) -> list[dict[str, Any]]:
    """Keys and the stored values (as stored: the export's own variable names are checked
    separately), one row per participant and timepoint."""
    order = {"baseline": 0, "post": 1, "followup": 2}
    rows = []
    responses = InstrumentResponse.objects.filter(instrument=instrument).select_related(
        "participant__site", "participant__allocation"
    )
    for r in sorted(responses, key=lambda r: (r.participant.study_id, order[r.timepoint])):
        day0 = randomised_on(r.participant)
        rows.append(
            {
                "STUDY_ID": r.participant.study_id,
                "SITE": r.participant.site.number,
                "GROUP" if masking is not None else "ARM": group_code(r.participant, masking),
                "TIMEPOINT": order[r.timepoint],
                "FORM_STATUS": {"draft": 1, "complete": 2, "verified": 3}[r.status],
                "ASSESS_DAY": (r.interview_date - day0).days if r.interview_date else None,
                "_items": r.items,
                "_missing": r.missing,
                "_scores": r.scores,
                "_day0": day0,
            }
        )
    return rows
