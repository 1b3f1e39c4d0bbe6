"""A small trial with every path through the CONSORT flow, built through the services (and
tests.factories.allocate to date randomisations in the past). The expected figures of the
report tests are counted by hand from the list below.

Ballerup (BAL)
  a  registered, never screened                      -> not assessed
  b  not eligible (Danish)                           -> excluded, not eligible
  c  not eligible (Danish), re-screened eligible,
     consented                                        -> assessed once; pending
  d  eligible, withdrew before consent                -> excluded, declined
  e  consented, died before randomisation            -> excluded, other
  r1 IMR, randomised 12 months ago, baseline complete, GAF post complete, attended a session
  r2 IMR, randomised 6 months ago, withdrew today    -> withdrawn at post and follow-up
  r3 TAU, randomised 12 months ago, lost today       -> post missing (window closed), lost
  r4 TAU, randomised 20 months ago, GAF post verified, died today -> deceased at follow-up
  r5 TAU, randomised today                           -> not yet due
Gladsaxe (GLA)
  g1 not eligible (Danish and under 18)
  g2 TAU, randomised 10 months ago, HAM-D6 post complete
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from django.utils import timezone

from assessments.models import InstrumentResponse, ResponseStatus
from assessments.windows import add_months
from exports import services as export_services
from fidelity import services as fidelity_services
from participants import services
from participants.models import Participant
from tests.factories import (
    ELIGIBLE_ANSWERS,
    allocate,
    complete_baseline,
    coordinator_for,
    make_imr_group,
    make_participant,
    make_staff,
)
from trial.roles import Role

DANISH = "Does not speak and understand Danish well enough to take part."
UNDER_18 = "Younger than 18."


@dataclass
class ReportTrial:
    people: dict[str, Participant]
    today: date

    def month(self, months_ago: int) -> str:
        return f"{add_months(self.today, -months_ago):%Y-%m}"


def randomized(site: str, arm: str, months_ago: int, today: date) -> Participant:
    participant = make_participant(site)
    day = add_months(today, -months_ago)
    allocate(participant, arm, randomized_at=timezone.make_aware(datetime.combine(day, time(10))))
    participant.refresh_from_db()
    return participant


def form(participant: Participant, timepoint: str, code: str, status: str) -> None:
    InstrumentResponse.objects.create(
        participant=participant,
        timepoint=timepoint,
        instrument=code,
        status=status,
        interview_date=timezone.localdate(),
        first_completed_at=timezone.now(),
    )


def close(participant: Participant, status: str) -> None:
    coordinator = coordinator_for(participant.site.code)
    services.participant_close(
        user=coordinator,
        participant=participant,
        status=status,
        on=timezone.localdate(),
        reason=f"Test: {status}",
    )


def build() -> ReportTrial:
    today = timezone.localdate()
    people: dict[str, Participant] = {}
    people["a"] = make_participant("BAL", stage="registered")
    people["b"] = make_participant("BAL", stage="ineligible")
    c = make_participant("BAL", stage="ineligible")
    coordinator = coordinator_for("BAL")
    services.participant_screen(user=coordinator, participant=c, answers=dict(ELIGIBLE_ANSWERS))
    services.participant_record_consent(user=coordinator, participant=c, consent_date=today)
    people["c"] = c
    people["d"] = make_participant("BAL", stage="eligible")
    close(people["d"], "withdrawn")
    people["e"] = make_participant("BAL", stage="consented")
    close(people["e"], "deceased")

    people["r1"] = randomized("BAL", "IMR", 12, today)
    complete_baseline(people["r1"])
    form(people["r1"], "post", "GAF", ResponseStatus.COMPLETE)
    people["r2"] = randomized("BAL", "IMR", 6, today)
    people["r3"] = randomized("BAL", "TAU", 12, today)
    people["r4"] = randomized("BAL", "TAU", 20, today)
    form(people["r4"], "post", "GAF", ResponseStatus.VERIFIED)
    people["r5"] = randomized("BAL", "TAU", 0, today)

    instructors = [
        make_staff(f"report-instructor-{n}", Role.INSTRUCTOR, sites=["BAL"]) for n in (1, 2)
    ]
    group = make_imr_group("BAL", name="Report group", start_date=today, instructors=instructors)
    fidelity_services.membership_add(user=coordinator, group=group, participant_id=people["r1"].pk)
    fidelity_services.membership_add(user=coordinator, group=group, participant_id=people["r2"].pk)
    sessions = fidelity_services.schedule_generate(user=instructors[0], group=group, weeks=2)
    fidelity_services.attendance_record(
        user=instructors[0], session=sessions[0], present=[people["r1"].pk]
    )

    close(people["r2"], "withdrawn")
    close(people["r3"], "lost_to_follow_up")
    close(people["r4"], "deceased")

    g1 = make_participant("GLA", stage="registered")
    answers = dict(ELIGIBLE_ANSWERS, danish_fluent=False, age_18_or_over=False)
    services.participant_screen(user=coordinator_for("GLA"), participant=g1, answers=answers)
    people["g1"] = g1
    people["g2"] = randomized("GLA", "TAU", 10, today)
    form(people["g2"], "post", "HAMD6", ResponseStatus.COMPLETE)
    for participant in people.values():
        participant.refresh_from_db()
    return ReportTrial(people=people, today=today)


def lock(user: Any = None) -> None:
    export_services.dataset_lock(
        user=user or make_staff("report-locker", Role.DATA_MANAGER),
        reason="Analysis",
        override_open_queries=True,
    )
