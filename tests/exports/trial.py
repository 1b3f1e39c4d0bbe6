"""A small trial with every case the exports must handle, on fixed calendar dates so that the
figures can be worked out by hand (tests/exports/test_export_hand_checked.py does):

| who  | site | sex | arm | randomised | notes                                              |
|------|------|-----|-----|------------|----------------------------------------------------|
| BAL1 | BAL  | m   | IMR | 2023-03-15 | group BAL-A, 12 of 14 sessions; register data in   |
|      |      |     |     |            | every window; PANSS P7 refused; IMRS_C item 13 n/a |
| BAL2 | BAL  | f   | TAU | 2023-03-20 | GAF-F at T1 insufficient information; a register   |
|      |      |     |     |            | period across W1/W2                                |
| BAL3 | BAL  | m   | TAU | 2023-03-27 | withdrew 2023-10-12 (the reason holds a CPR        |
|      |      |     |     |            | number); not in the register file                  |
| BAL4 | BAL  | f   | IMR | 2023-04-03 | never placed in a group                            |
| FRB1 | FRB  | f   | IMR | 2023-04-03 | group FRB-A, 3 of 4 sessions                       |
| FRB2 | FRB  | m   | IMR | 2023-04-10 | group FRB-A, no session; died 2023-07-19           |
| GLA ineligible, GLA registered only: never randomised |

Forms are stored as the services store them (scores computed by the instrument modules), with
a missing reason, a structural "not applicable" (IMRS_C item 13), half points (YMRS), a draft
(not exported) and free text holding CPR numbers where only staff write free text (comments, the
withdrawal reason, a query message). The assessor at BAL reported an unblinding on 2023-11-20."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.utils import timezone

from assessments.models import InstrumentResponse, Query, QueryKind, ResponseStatus
from assessments.services import queries as query_services
from assessments.services.register import register_import
from casebooks import canonical
from casebooks.models import Meaning, Signature, Subject
from exports.assembly.runner import run_job
from exports.models import ExportJob
from fidelity.models import (
    Attendance,
    FidelityRating,
    GroupMembership,
    GroupSession,
    ImrGroup,
    SessionStatus,
)
from instruments import registry
from participants import services as participant_services
from participants.cpr import decrypt
from participants.models import Participant
from randomization.models import BlindingGuess, UnblindingIncident
from tests.factories import allocate, coordinator_for, make_participant, make_staff
from trial.roles import Role

BASELINE_OFFSET = -7
POST_OFFSET = 270
FOLLOWUP_OFFSET = 630

RANDOMIZED = {
    "BAL1": ("BAL", "male", "IMR", date(2023, 3, 15)),
    "BAL2": ("BAL", "female", "TAU", date(2023, 3, 20)),
    "BAL3": ("BAL", "male", "TAU", date(2023, 3, 27)),
    "BAL4": ("BAL", "female", "IMR", date(2023, 4, 3)),
    "FRB1": ("FRB", "female", "IMR", date(2023, 4, 3)),
    "FRB2": ("FRB", "male", "IMR", date(2023, 4, 10)),
}
WITHDRAWN_ON = date(2023, 10, 12)
DIED_ON = date(2023, 7, 19)
UNBLINDED_ON = date(2023, 11, 20)
# BAL-A: 14 held sessions weekly from 2023-04-14 (and one cancelled); BAL1 misses the 2nd and
# the 5th. FRB-A: 4 held sessions weekly from 2023-04-20; FRB1 misses the 1st, FRB2 all.
BAL_A_FIRST = date(2023, 4, 14)
FRB_A_FIRST = date(2023, 4, 20)


@dataclass
class Trial:
    randomized: dict[str, Participant] = field(default_factory=dict)
    others: dict[str, Participant] = field(default_factory=dict)
    staff: dict[str, Any] = field(default_factory=dict)
    groups: dict[str, ImrGroup] = field(default_factory=dict)

    @property
    def everyone(self) -> list[Participant]:
        return [*self.randomized.values(), *self.others.values()]

    def cpr_numbers(self) -> list[str]:
        return [decrypt(p.cpr_ciphertext) for p in self.everyone]

    def cpr_of(self, key: str) -> str:
        return decrypt(self.randomized[key].cpr_ciphertext)


def moment(day: date, hour: int = 12) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour, 0)))


def respond(
    participant: Participant,
    timepoint: str,
    code: str,
    items: dict[str, Any],
    missing: dict[str, str] | None = None,
    *,
    day: date | None = None,
    status: str = ResponseStatus.COMPLETE,
    rater: Any = None,
    comments: dict[str, str] | None = None,
    scores: dict[str, Any] | None = None,
) -> InstrumentResponse:
    """A form as the services store it: the scores computed by the instrument module."""
    missing = missing or {}
    return InstrumentResponse.objects.create(
        participant=participant,
        timepoint=timepoint,
        instrument=code,
        items=items,
        missing=missing,
        comments=comments or {},
        scores=scores if scores is not None else registry.get(code).compute_scores(items, missing),
        status=status,
        interview_date=day,
        rater=rater,
        rater_role="assessor" if rater is not None else "",
        first_completed_at=moment(day) if day and status != ResponseStatus.DRAFT else None,
    )


def randomize_on(participant: Participant, arm: str, day: date) -> Participant:
    allocate(participant, arm, randomized_at=moment(day, 10))
    Participant.objects.filter(pk=participant.pk).update(
        registered_at=moment(day - timedelta(days=14), 9), consent_date=day - timedelta(days=7)
    )
    participant.refresh_from_db()
    return participant


def panss(base: int, **override: int) -> dict[str, int]:
    codes = [f"P{i}" for i in range(1, 8)] + [f"N{i}" for i in range(1, 8)]
    codes += [f"G{i}" for i in range(1, 17)]
    values = {code: 1 + (base + n) % 7 for n, code in enumerate(codes)}
    values.update(override)
    return values


def imrs(prefix: str, value: int) -> dict[str, int]:
    return {f"{prefix}_{n}": 1 + (value + n) % 5 for n in range(1, 16)}


def valid_items(code: str, seed: int, *, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """A plausible complete form of any instrument: for every entered item that applies, one of
    its allowed values (chosen by `seed`), as the form would store it."""
    values: dict[str, Any] = {}
    for n, item in enumerate(registry.get(code).entered_items):
        if item.code in skip or item.is_relevant(values) is False:
            continue
        if item.type == "text":
            values[item.code] = "F20.0"
            continue
        allowed = item.allowed_values() or [v for v in (item.min, item.max) if v is not None]
        values[item.code] = allowed[(seed * 7 + n * 3) % len(allowed)]
    return values


def build_trial() -> Trial:
    trial = Trial()
    trial.staff["dm"] = make_staff("trial-dm", Role.DATA_MANAGER)
    trial.staff["assessor_bal"] = make_staff("assessor-bal", Role.ASSESSOR, sites=["BAL"])
    trial.staff["assessor_frb"] = make_staff("assessor-frb", Role.ASSESSOR, sites=["FRB"])
    trial.staff["clinician"] = make_staff("clinician-bal", Role.CLINICIAN, sites=["BAL"])
    trial.staff["instructor"] = make_staff("instructor", Role.INSTRUCTOR)
    trial.staff["rater1"] = make_staff("fid-rater-1", Role.FIDELITY_RATER)
    trial.staff["rater2"] = make_staff("fid-rater-2", Role.FIDELITY_RATER)
    for key, (site, sex, arm, day) in RANDOMIZED.items():
        participant = make_participant(site, sex=sex)
        trial.randomized[key] = randomize_on(participant, arm, day)
    trial.others["ineligible"] = make_participant("GLA", stage="ineligible")
    trial.others["registered"] = make_participant("GLA", stage="registered")

    bal3 = trial.randomized["BAL3"]
    participant_services.participant_close(
        user=coordinator_for("BAL"),
        participant=bal3,
        status="withdrawn",
        on=WITHDRAWN_ON,
        reason=f"Moved abroad; relative {trial.cpr_of('BAL3')} called",
    )
    participant_services.participant_close(
        user=coordinator_for("FRB"),
        participant=trial.randomized["FRB2"],
        status="deceased",
        on=DIED_ON,
        reason="Died",
    )
    _forms(trial)
    _signatures(trial)
    _groups(trial)
    _register(trial)
    _queries(trial)
    _blinding(trial)
    for participant in trial.everyone:
        participant.refresh_from_db()
    return trial


def _forms(trial: Trial) -> None:
    staff = trial.staff
    for index, (key, participant) in enumerate(trial.randomized.items(), start=1):
        site, _, _, day0 = RANDOMIZED[key]
        assessor = staff["assessor_bal"] if site == "BAL" else staff["assessor_frb"]
        t0 = day0 + timedelta(days=BASELINE_OFFSET)
        respond(
            participant,
            "baseline",
            "DEMOG",
            {"HOUSING": 9 if index == 1 else index % 4 + 1, "EMPLOYMENT": 1 + index % 3,
             "EDUCATION": 1 + index % 4, "LIVING": 1, "DX_GROUP": 1 + index % 2,
             "DX_ICD10": "F20.0" if index % 2 == 0 else "F31.1", "SUBSTANCE": index % 2},
            day=t0,
            rater=assessor,
            comments={"HOUSING": f"With a friend, CPR {trial.cpr_of(key)}"} if index == 1 else {},
        )  # fmt: skip
        respond(
            participant,
            "baseline",
            "GAF",
            {"GAF_S": 35 + index, "GAF_F": 40 + index},
            day=t0,
            rater=assessor,
        )
    bal1, bal2, frb1 = (trial.randomized[k] for k in ("BAL1", "BAL2", "FRB1"))
    d1, d2, f1 = RANDOMIZED["BAL1"][3], RANDOMIZED["BAL2"][3], RANDOMIZED["FRB1"][3]
    bal = staff["assessor_bal"]
    respond(bal1, "post", "GAF", {"GAF_S": 50, "GAF_F": 51}, day=d1 + timedelta(POST_OFFSET),
            rater=bal)  # fmt: skip
    respond(bal1, "followup", "GAF", {"GAF_S": 55, "GAF_F": 57},
            day=d1 + timedelta(FOLLOWUP_OFFSET), rater=bal)  # fmt: skip
    respond(bal2, "post", "GAF", {"GAF_S": 44}, {"GAF_F": "insufficient_information"},
            day=d2 + timedelta(POST_OFFSET), rater=bal)  # fmt: skip
    respond(frb1, "post", "GAF", {"GAF_S": 61, "GAF_F": 62},
            day=f1 + timedelta(POST_OFFSET), rater=staff["assessor_frb"])  # fmt: skip
    respond(frb1, "followup", "GAF", {"GAF_S": 64, "GAF_F": 66},
            day=f1 + timedelta(FOLLOWUP_OFFSET), rater=staff["assessor_frb"])  # fmt: skip
    p7_missing = panss(2)
    del p7_missing["P7"]
    respond(bal1, "baseline", "PANSS", p7_missing, {"P7": "refused"},
            day=d1 + timedelta(BASELINE_OFFSET), rater=bal)  # fmt: skip
    respond(bal1, "post", "PANSS", panss(4), day=d1 + timedelta(POST_OFFSET), rater=bal)
    respond(bal2, "baseline", "PANSS", panss(5), day=d2 + timedelta(BASELINE_OFFSET), rater=bal,
            status=ResponseStatus.VERIFIED)  # fmt: skip
    ymrs = {f"YMRS_{n}": (1.5 if n in (1, 2) else 1) for n in range(1, 12)}
    respond(bal1, "baseline", "YMRS", ymrs, day=d1 + timedelta(BASELINE_OFFSET), rater=bal)
    csq8 = {f"CSQ8_{n}": 1 + n % 4 for n in range(1, 9)}
    respond(bal1, "post", "CSQ8", csq8, day=d1 + timedelta(POST_OFFSET), rater=bal)
    imrs_c = imrs("IMRS_C", 2)
    del imrs_c["IMRS_C_13"]
    respond(bal1, "baseline", "IMRS_C", imrs_c, {"IMRS_C_13": "not_applicable"},
            day=d1 + timedelta(BASELINE_OFFSET), rater=staff["clinician"])  # fmt: skip
    respond(bal1, "post", "IMRS_C", imrs("IMRS_C", 3), day=d1 + timedelta(POST_OFFSET),
            rater=staff["clinician"])  # fmt: skip
    respond(bal1, "baseline", "PSP", {"PSP_A": 2}, day=d1 + timedelta(BASELINE_OFFSET),
            status=ResponseStatus.DRAFT, rater=bal)  # fmt: skip
    # The other instruments, complete, for BAL2 and FRB1 (one item of the MHRM skipped).
    for seed, (participant, day, assessor) in enumerate(
        [(bal2, d2, bal), (frb1, f1, staff["assessor_frb"])], start=1
    ):
        for code, timepoint, offset in [
            ("PSP", "baseline", BASELINE_OFFSET), ("HAMD6", "baseline", BASELINE_OFFSET),
            ("IMRS_P", "baseline", BASELINE_OFFSET), ("IMRS_P", "post", POST_OFFSET),
            ("MHRM", "baseline", BASELINE_OFFSET), ("SHS", "post", POST_OFFSET),
        ]:  # fmt: skip
            missing = {"MHRM_25": "not_answered"} if code == "MHRM" and seed == 1 else {}
            respond(participant, timepoint, code, valid_items(code, seed, skip=tuple(missing)),
                    missing, day=day + timedelta(offset), rater=assessor)  # fmt: skip


def _signatures(trial: Trial) -> None:
    """The BAL investigator's signature of BAL2's baseline, the day after its forms."""
    investigator = make_staff("investigator-bal", Role.INVESTIGATOR, sites=["BAL"])
    trial.staff["investigator"] = investigator
    bal2 = trial.randomized["BAL2"]
    content = canonical.visit_content(bal2, "baseline")
    Signature.objects.create(
        subject=Subject.VISIT,
        participant=bal2,
        timepoint="baseline",
        signer=investigator,
        signer_name="BAL investigator",
        signer_role=Role.INVESTIGATOR,
        meaning=Meaning.REVIEWED,
        signed_at=moment(RANDOMIZED["BAL2"][3] + timedelta(days=BASELINE_OFFSET + 1)),
        content_sha256=canonical.sha256_of(content),
        manifest={"forms": canonical.visit_manifest(content)},
    )


def _sessions(group: ImrGroup, first: date, count: int, user: Any) -> list[GroupSession]:
    sessions = []
    for n in range(count):
        sessions.append(
            GroupSession.objects.create(
                group=group,
                date=first + timedelta(weeks=n),
                module=1 + n % 11,
                status=SessionStatus.HELD,
                created_by=user,
            )
        )
    return sessions


def _groups(trial: Trial) -> None:
    instructor = trial.staff["instructor"]
    bal_a = ImrGroup.objects.create(
        site=trial.randomized["BAL1"].site, name="BAL-A", start_date=date(2023, 4, 10),
        created_by=instructor,
    )  # fmt: skip
    frb_a = ImrGroup.objects.create(
        site=trial.randomized["FRB1"].site, name="FRB-A", start_date=date(2023, 4, 17),
        created_by=instructor,
    )  # fmt: skip
    trial.groups = {"BAL-A": bal_a, "FRB-A": frb_a}
    bal1, frb1, frb2 = (trial.randomized[k] for k in ("BAL1", "FRB1", "FRB2"))
    GroupMembership.objects.create(group=bal_a, participant=bal1, joined_on=date(2023, 4, 10),
                                   added_by=instructor)  # fmt: skip
    for member in (frb1, frb2):
        GroupMembership.objects.create(
            group=frb_a, participant=member, joined_on=date(2023, 4, 17), added_by=instructor
        )
    for number, session in enumerate(_sessions(bal_a, BAL_A_FIRST, 14, instructor), start=1):
        Attendance.objects.create(session=session, participant=bal1,
                                  present=number not in (2, 5), recorded_by=instructor)  # fmt: skip
    GroupSession.objects.create(group=bal_a, date=BAL_A_FIRST + timedelta(weeks=14, days=1),
                                module=4, status=SessionStatus.CANCELLED,
                                created_by=instructor)  # fmt: skip
    for number, session in enumerate(_sessions(frb_a, FRB_A_FIRST, 4, instructor), start=1):
        Attendance.objects.create(session=session, participant=frb1, present=number != 1,
                                  recorded_by=instructor)  # fmt: skip
        Attendance.objects.create(session=session, participant=frb2, present=False,
                                  recorded_by=instructor)  # fmt: skip
    consensus = {f"FID_{n}": v for n, v in enumerate([4, 4, 4, 4, 4, 3, 3, 3, 3, 3, 5, 5, 5], 1)}
    ratings = [
        ("midway", "rater1", "rater1", dict.fromkeys(consensus, 4), date(2023, 8, 1)),
        ("midway", "rater2", "rater2", dict.fromkeys(consensus, 3), date(2023, 8, 1)),
        ("midway", "consensus", "rater1", consensus, date(2023, 8, 3)),
        ("end", "consensus", "rater2", dict.fromkeys(consensus, 5), date(2024, 1, 5)),
    ]
    for timepoint, kind, rater, items, day in ratings:
        FidelityRating.objects.create(
            group=bal_a, timepoint=timepoint, rater_kind=kind, rater=trial.staff[rater],
            items=items, rated_on=day,
        )  # fmt: skip


# The register periods (hand-checked in test_export_hand_checked.py).
REGISTER_LINES = [
    # BAL1, randomised 2023-03-15: one period in each of W_PRE, W1, W2.
    ("BAL1", "2022-12-05", "2022-12-15", 1, 10, 1, 2),
    ("BAL1", "2023-03-25", "2023-04-24", 0, 0, 2, 5),
    ("BAL1", "2024-01-10", "2024-02-09", 2, 14, 0, 3),
    # BAL2, randomised 2023-03-20 (W2 starts 2023-12-20): a period across W1/W2.
    ("BAL2", "2023-12-01", "2024-01-15", 1, 7, 3, 4),
    # FRB2, randomised 2023-04-10, died 2023-07-19.
    ("FRB2", "2023-04-15", "2023-04-30", 1, 3, 1, 0),
]


def _register(trial: Trial) -> None:
    lines = ["cpr;period_start;period_end;admissions;admission_days;emergency_visits;"
             "outpatient_contacts"]  # fmt: skip
    for key, start, end, *counts in REGISTER_LINES:
        cpr = trial.cpr_of(key)
        lines.append(";".join([f"{cpr[:6]}-{cpr[6:]}", start, end, *map(str, counts)]))
    register_import(user=trial.staff["dm"], content="\n".join(lines).encode(), note="Extraction")


def _queries(trial: Trial) -> None:
    dm, bal = trial.staff["dm"], trial.staff["assessor_bal"]
    bal1, bal2 = trial.randomized["BAL1"], trial.randomized["BAL2"]
    panss_t0 = InstrumentResponse.objects.get(participant=bal1, instrument="PANSS",
                                              timepoint="baseline")  # fmt: skip
    query = query_services.query_raise(
        user=dm, response=panss_t0, item="P7",
        message=f"Refused? The note mentions {trial.cpr_of('BAL1')}",
    )  # fmt: skip
    query_services.query_answer(user=bal, query=query, text="Yes, refused")
    query_services.query_close(user=dm, query=query)
    Query.objects.filter(pk=query.pk).update(
        raised_at=moment(date(2023, 4, 1)), answered_at=moment(date(2023, 4, 3)),
        closed_at=moment(date(2023, 4, 11)),
    )  # fmt: skip
    gaf_t1 = InstrumentResponse.objects.get(participant=bal2, instrument="GAF", timepoint="post")
    Query.objects.create(response=gaf_t1, item="interview_date", kind=QueryKind.AUTOMATIC,
                         edit_check="window", message="Outside the window",
                         raised_at=moment(date(2023, 12, 16)))  # fmt: skip
    imrs_t0 = InstrumentResponse.objects.get(participant=bal1, instrument="IMRS_C",
                                             timepoint="baseline")  # fmt: skip
    query_services.query_raise(user=dm, response=imrs_t0, item="IMRS_C_8", message="Check")


def _blinding(trial: Trial) -> None:
    bal, frb = trial.staff["assessor_bal"], trial.staff["assessor_frb"]
    UnblindingIncident.objects.create(person=bal, participant=trial.randomized["BAL1"],
                                      learned_on=UNBLINDED_ON, how="participant_told",
                                      reported_by=bal)  # fmt: skip
    for key, timepoint, guess, assessor, offset in [
        ("BAL1", "post", "IMR", bal, POST_OFFSET),
        ("BAL2", "post", "IMR", bal, POST_OFFSET),
        ("FRB1", "followup", "dont_know", frb, FOLLOWUP_OFFSET),
    ]:
        day0 = RANDOMIZED[key][3]
        BlindingGuess.objects.create(
            participant=trial.randomized[key], timepoint=timepoint, assessor=assessor,
            guess=guess, recorded_at=moment(day0 + timedelta(days=offset), 15),
        )  # fmt: skip


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


def lock(user: Any) -> None:
    """Lock for the analysis (the trial has open queries: with the override)."""
    from exports import services

    services.dataset_lock(
        user=user, reason="Primary analysis; open queries concern data outside it",
        override_open_queries=True,
    )  # fmt: skip
