"""`manage.py demo_data` (run by `make run`, DEBUG only): the demo users and a small, believable
trial made through the real services, with consistent dates, visible to the demo users;
running it again changes nothing."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from assessments import selectors as assessment_selectors
from assessments.models import InstrumentResponse, Query
from assessments.windows import add_months
from fidelity.models import Attendance, FidelityRating, GroupMembership, GroupSession, ImrGroup
from participants.models import Participant, Status
from participants.selectors import participants_visible_to
from randomization.models import Allocation, AllocationList, BlindingGuess, UnblindingIncident
from tests.factories import page_client

TABLES = (
    Participant,
    InstrumentResponse,
    Query,
    Allocation,
    AllocationList,
    ImrGroup,
    GroupMembership,
    GroupSession,
    Attendance,
    FidelityRating,
    UnblindingIncident,
    BlindingGuess,
)


def run(settings: Any) -> str:
    settings.DEBUG = True
    out = StringIO()
    call_command("demo_data", stdout=out)
    return out.getvalue()


@pytest.fixture
def demo(sites: dict, settings: Any) -> str:
    return run(settings)


def test_it_refuses_to_run_without_debug(sites: dict, settings: Any) -> None:
    settings.DEBUG = False
    with pytest.raises(CommandError):
        call_command("demo_data", stdout=StringIO())
    assert not Participant.objects.exists()


def test_it_makes_a_believable_trial_the_demo_users_see(demo: str) -> None:
    """One build, every check (building the trial takes a few seconds)."""
    check_every_status_and_both_arms_at_every_site(demo)
    check_the_dates_are_those_of_a_trial_that_has_run_for_a_year(demo)
    check_the_baseline_forms_hold_valid_scored_values(demo)
    check_groups_meet_weekly_with_attendance_and_one_has_a_fidelity_consensus(demo)
    check_queries_an_unblinding_report_and_blinding_guesses_are_there(demo)
    check_the_demo_users_see_the_demo_trial(demo)
    check_it_prints_the_demo_users_and_a_summary_of_the_trial(demo)


def test_running_it_twice_duplicates_nothing(demo: str, settings: Any) -> None:
    counts = {model.__name__: model.objects.count() for model in TABLES}
    users = get_user_model().objects.count()
    again = run(settings)
    assert {model.__name__: model.objects.count() for model in TABLES} == counts
    assert get_user_model().objects.count() == users
    assert "already holds 30 participants" in again
    assert "demo-coordinator" in again and "demo_totp demo-data-manager" in again


def check_every_status_and_both_arms_at_every_site(demo: str) -> None:
    statuses = Counter(Participant.objects.values_list("status", flat=True))
    assert set(statuses) == set(Status.values) - {Status.DECEASED}
    assert sum(statuses.values()) == 30
    assert Counter(Participant.objects.values_list("site__code", flat=True)) == {
        "BAL": 10,
        "GLA": 10,
        "FRB": 10,
    }
    for site in ("BAL", "GLA", "FRB"):
        arms = set(
            Allocation.objects.filter(participant__site__code=site).values_list("arm", flat=True)
        )
        assert arms == {"IMR", "TAU"}, site
        assert AllocationList.objects.filter(site__code=site).exists()
    ineligible = Participant.objects.filter(status=Status.INELIGIBLE)
    for participant in ineligible:
        assert participant.screenings.get().reasons  # reasons in words
    # The randomisations were made by the service (one log entry each, from the real lists).
    assert Allocation.objects.filter(randomized_by__username="demo-coordinator").count() == 18


def check_the_dates_are_those_of_a_trial_that_has_run_for_a_year(demo: str) -> None:
    today = timezone.localdate()
    for participant in Participant.objects.all():
        if participant.consent_date:
            assert participant.registered_on <= participant.consent_date <= today
        allocation = Allocation.objects.filter(participant=participant).first()
        if allocation is not None:
            randomized_on = timezone.localdate(allocation.randomized_at)
            assert participant.consent_date is not None
            assert participant.consent_date < randomized_on < today
            assert assessment_selectors.baseline_missing(participant) == []
            baseline_days = set(
                participant.responses.filter(timepoint="baseline").values_list(
                    "interview_date", flat=True
                )
            )
            consented = participant.consent_date
            assert all(d is not None and consented <= d <= randomized_on for d in baseline_days)
            for post in participant.responses.filter(timepoint="post"):
                assert post.interview_date is not None
                assert add_months(randomized_on, 8) <= post.interview_date
                assert post.interview_date <= add_months(randomized_on, 11)
                assert post.status in ("complete", "verified")
        if participant.status_date:
            assert participant.status_date <= today
    randomized = Allocation.objects.values_list("randomized_at", flat=True)
    assert min(randomized) < timezone.now() - timedelta(days=365)  # post windows closed
    assert (
        InstrumentResponse.objects.filter(timepoint="post").values("participant").distinct().count()
        == 5
    )


def check_the_baseline_forms_hold_valid_scored_values(demo: str) -> None:
    for response in InstrumentResponse.objects.filter(status__in=("complete", "verified")):
        assert response.items and not response.missing, response
        if response.instrument != "DEMOG":  # (demographics have no scores)
            assert response.scores and None not in response.scores.values(), response
    drafts = InstrumentResponse.objects.filter(status="draft")
    assert drafts.count() == 2  # the baseline PANSS in progress at GLA and FRB


def check_groups_meet_weekly_with_attendance_and_one_has_a_fidelity_consensus(demo: str) -> None:
    today = timezone.localdate()
    groups = ImrGroup.objects.order_by("site__number")
    assert [g.site.code for g in groups] == ["BAL", "GLA", "FRB"]
    for group in groups:
        sessions = list(group.sessions.order_by("date"))
        gaps = {(b.date - a.date).days for a, b in itertools.pairwise(sessions)}
        assert gaps == {7}
        held = [s for s in sessions if s.status == "held"]
        assert held and all(s.date <= today for s in held)
        members = set(group.memberships.values_list("participant_id", flat=True))
        assert members and set(
            Allocation.objects.filter(participant_id__in=members).values_list("arm", flat=True)
        ) == {"IMR"}
        for session in held:
            assert set(session.attendance.values_list("participant_id", flat=True)) <= members
        assert Attendance.objects.filter(session__group=group, present=True).exists()
    kinds = set(FidelityRating.objects.values_list("group__site__code", "rater_kind"))
    assert kinds == {("BAL", "rater1"), ("BAL", "rater2"), ("BAL", "consensus")}


def check_queries_an_unblinding_report_and_blinding_guesses_are_there(demo: str) -> None:
    assert Query.objects.filter(status="open").count() == 2
    assert UnblindingIncident.objects.get().person.username == "demo-assessor"
    assert BlindingGuess.objects.count() == 5  # one per post-intervention interview


def check_the_demo_users_see_the_demo_trial(demo: str) -> None:
    users = {u.username: u for u in get_user_model().objects.filter(username__startswith="demo-")}
    for name in ("demo-coordinator", "demo-assessor", "demo-clinician", "demo-data-manager"):
        assert participants_visible_to(users[name]).count() == 30, name
    worklist = assessment_selectors.worklist(user=users["demo-assessor"])
    assert {row.state for row in worklist} >= {"open", "completed", "due"}
    groups = page_client(users["demo-instructor"]).get("/imr/").content.decode()
    assert all(name in groups for name in ("Ballerup", "Gladsaxe", "Frederiksberg"))


def check_it_prints_the_demo_users_and_a_summary_of_the_trial(demo: str) -> None:
    assert "demo-coordinator" in demo and "Recovery-2026!" in demo
    assert "Participants: 30 at BAL, GLA and FRB" in demo
    assert "Queries: 2 open" in demo
    # Someone a new user can randomise straight away.
    ready = Participant.objects.get(site__code="BAL", status=Status.CONSENTED)
    assert assessment_selectors.baseline_missing(ready) == []
    assert f"Ready to randomise (consented, baseline complete): {ready.study_id}" in demo
    assert "IMR" not in demo.split("Demo trial created")[1].replace("IMR group", "")  # no arms
