"""A small trial with every case the exports must handle: randomised to both arms, withdrawn,
ineligible, only registered; responses at several timepoints with a missing reason, half
points, scores named like items, a date item, the date of birth and free text holding a CPR
number."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.utils import timezone

from assessments.models import InstrumentResponse, ResponseStatus
from exports.build.runner import run_job
from exports.models import ExportJob
from participants import services as participant_services
from participants.cpr import decrypt
from participants.models import Participant
from tests.factories import allocate, coordinator_for, make_participant


@dataclass
class Trial:
    randomised: dict[str, Participant] = field(default_factory=dict)
    others: dict[str, Participant] = field(default_factory=dict)

    @property
    def everyone(self) -> list[Participant]:
        return [*self.randomised.values(), *self.others.values()]

    def cpr_numbers(self) -> list[str]:
        return [decrypt(p.cpr_ciphertext) for p in self.everyone]


def respond(participant: Participant, timepoint: str, instrument: str, **fields: Any) -> Any:
    return InstrumentResponse.objects.create(
        participant=participant,
        timepoint=timepoint,
        instrument=instrument,
        status=fields.pop("status", ResponseStatus.COMPLETE),
        interview_date=fields.pop("interview_date", timezone.localdate()),
        **fields,
    )


def build_trial() -> Trial:
    trial = Trial()
    arms = {"BAL": ["IMR", "TAU", "TAU"], "FRB": ["IMR"]}
    for site, site_arms in arms.items():
        for number, arm in enumerate(site_arms, start=1):
            participant = make_participant(site, sex="male" if number % 2 else "female")
            allocate(participant, arm)
            trial.randomised[f"{site}{number}"] = participant
    withdrawn = trial.randomised["BAL3"]
    participant_services.participant_close(
        user=coordinator_for("BAL"),
        participant=withdrawn,
        status="withdrawn",
        on=timezone.localdate(),
        reason="Moved abroad",
    )
    trial.others["ineligible"] = make_participant("GLA", stage="ineligible")
    trial.others["registered"] = make_participant("GLA", stage="registered")

    today = timezone.localdate()
    for key, participant in trial.randomised.items():
        offset = int(key[-1])
        respond(
            participant,
            "baseline",
            "PANSS",
            items={"P1": 3, "P2": 2 + offset, "P10x": 1},
            missing={"P7": "refused"},
            scores={"PANSS_P": 20 + offset},
            interview_date=today - timedelta(days=7),
        )
        respond(
            participant,
            "post",
            "PANSS",
            items={"P1": 2, "P2": 1, "P10x": 1, "P7": 4},
            scores={"PANSS_P": 15},
            status=ResponseStatus.DRAFT,
            interview_date=None,
        )
        respond(
            participant,
            "baseline",
            "YMRS",
            items={"YMRS_1": 1.5, "YMRS_5": 3},
            missing={"YMRS_2": "insufficient information"},
            scores={"YMRS_TOTAL": 4.5},
        )
        respond(
            participant,
            "baseline",
            "GAF",
            items={"GAF_S": 40 + offset, "GAF_F": 45},
            scores={"GAF_S": 40 + offset, "GAF_F": 45, "GAF_MIN": 40 + offset},
        )
        respond(
            participant,
            "baseline",
            "DEMOG",
            items={
                "DOB": participant.date_of_birth.isoformat(),
                "DX_ICD10": "F20.0",
                "NOTE": f"Relative's CPR {decrypt(participant.cpr_ciphertext)[:6]}-"
                f"{decrypt(participant.cpr_ciphertext)[6:]} given by mistake",
                "HOUSING": offset % 4 + 1,
                "ONSET": (today - timedelta(days=3650)).isoformat(),
            },
        )
    return trial


def run_inline(job: ExportJob) -> ExportJob:
    """Build the job in this process, exactly as the task does."""
    run_job(str(job.pk), task_id="inline", last_try=True)
    job.refresh_from_db()
    return job


def new_job(user: Any, *, blinded: bool = True, formats: list[str] | None = None) -> ExportJob:
    from exports.services import masking_key_get_or_create

    masking_key_get_or_create()
    return ExportJob.objects.create(
        requested_by=user,
        blinded=blinded,
        formats=formats or ["csv", "sav", "dta", "parquet", "odm"],
    )


def days_between(later: date, earlier: date) -> int:
    return (later - earlier).days
