"""Assessments made by someone who had reported being unblinded are flagged for the trial
managers (data managers and statisticians) in the API and on the pages, in one query for a
whole list; monitors, assessors and site staff never see the flag."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from assessments import permissions, services
from participants.models import Participant
from randomization import services as randomization_services
from randomization.services.blinding import TRIAL_MANAGERS
from tests.assessments.helpers import typical_items
from tests.factories import api_client, make_participant, make_staff, page_client
from trial.roles import Role

TODAY = timezone.localdate


@pytest.fixture
def people(sites: dict) -> dict[str, Any]:
    return {
        "reported": make_staff("assessor-told", Role.ASSESSOR, sites=["BAL"]),
        "blinded": make_staff("assessor-blind", Role.ASSESSOR, sites=["BAL"]),
        "data_manager": make_staff("dm", Role.DATA_MANAGER),
        "statistician": make_staff("stat", Role.STATISTICIAN),
        "monitor": make_staff("monitor", Role.MONITOR),
        "coordinator": make_staff("coord", Role.COORDINATOR, sites=["BAL"]),
    }


def consented_weeks_ago(weeks: int = 4) -> Participant:
    participant = make_participant("BAL")
    Participant.objects.filter(pk=participant.pk).update(
        registered_at=timezone.now() - timedelta(weeks=weeks, days=1),
        consent_date=TODAY() - timedelta(weeks=weeks),
    )
    participant.refresh_from_db()
    return participant


def rate(user: Any, participant: Participant, code: str, days_ago: int) -> Any:
    return services.response_save(
        user=user,
        participant=participant,
        timepoint="baseline",
        code=code,
        items=typical_items(code),
        status="complete",
        interview_date=TODAY() - timedelta(days=days_ago),
    ).response


def report_unblinding(user: Any, days_ago: int) -> None:
    randomization_services.unblinding_incident_report(
        user=user, learned_on=TODAY() - timedelta(days=days_ago), how="staff_told"
    )


def forms_list(user: Any, participant: Participant) -> list[dict]:
    response = api_client(user).get(f"/api/v1/participants/{participant.pk}/assessments/")
    assert response.status_code == 200
    return response.json()


def test_the_flag_marks_forms_rated_on_or_after_the_day_the_rater_was_unblinded(
    people: dict,
) -> None:
    participant = consented_weeks_ago()
    report_unblinding(people["reported"], days_ago=10)
    rate(people["reported"], participant, "GAF", days_ago=12)  # before: not flagged
    rate(people["reported"], participant, "PANSS", days_ago=10)  # that day: flagged
    rate(people["reported"], participant, "HAMD6", days_ago=2)  # after: flagged
    rate(people["blinded"], participant, "YMRS", days_ago=2)  # another rater: not flagged
    expected = {"GAF": False, "PANSS": True, "HAMD6": True, "YMRS": False}

    for manager in (people["data_manager"], people["statistician"]):
        rows = {
            r["instrument"]: r["unblinding_flag"]
            for r in forms_list(manager, participant)
            if r["timepoint"] == "baseline" and r["status"] != "not_started"
        }
        assert rows == expected
        assert not any(
            r["unblinding_flag"]
            for r in forms_list(manager, participant)
            if r["status"] == "not_started"
        )
        for code, flagged in expected.items():
            detail = api_client(manager).get(
                f"/api/v1/participants/{participant.pk}/assessments/baseline/{code}/"
            )
            assert detail.json()["unblinding_flag"] is flagged, code


def test_monitors_assessors_and_site_staff_never_receive_the_flag(people: dict) -> None:
    participant = consented_weeks_ago()
    report_unblinding(people["reported"], days_ago=10)
    rate(people["reported"], participant, "PANSS", days_ago=3)
    for role in ("monitor", "reported", "blinded", "coordinator"):
        user = people[role]
        assert all("unblinding_flag" not in r for r in forms_list(user, participant)), role
        detail = api_client(user).get(
            f"/api/v1/participants/{participant.pk}/assessments/baseline/PANSS/"
        )
        assert "unblinding_flag" not in detail.json(), role
        for url in (
            f"/assessments/participants/{participant.pk}/",
            f"/assessments/participants/{participant.pk}/baseline/PANSS/",
        ):
            html = page_client(user).get(url).content.decode()
            assert "rater unblinded" not in html and "unblinding-flag" not in html, (role, url)


def test_the_participant_and_form_pages_show_the_flag_to_trial_managers(people: dict) -> None:
    participant = consented_weeks_ago()
    report_unblinding(people["reported"], days_ago=10)
    rate(people["reported"], participant, "PANSS", days_ago=3)
    rate(people["blinded"], participant, "GAF", days_ago=3)
    client = page_client(people["data_manager"])
    overview = client.get(f"/assessments/participants/{participant.pk}/").content.decode()
    assert overview.count("rater unblinded") == 1
    flagged = client.get(f"/assessments/participants/{participant.pk}/baseline/PANSS/")
    assert 'id="unblinding-flag"' in flagged.content.decode()
    assert "assessor-told had reported being unblinded" in flagged.content.decode()
    clean = client.get(f"/assessments/participants/{participant.pk}/baseline/GAF/")
    assert 'id="unblinding-flag"' not in clean.content.decode()


def test_flagging_a_whole_list_takes_the_same_queries_however_many_raters_and_forms(
    people: dict,
) -> None:
    def queries_for(participant: Participant) -> tuple[int, int]:
        counts = []
        client = api_client(people["data_manager"])
        pages = page_client(people["data_manager"])
        for get, url in (
            (client.get, f"/api/v1/participants/{participant.pk}/assessments/"),
            (pages.get, f"/assessments/participants/{participant.pk}/"),
        ):
            get(url)  # warm the session and caches
            with CaptureQueriesContext(connection) as captured:
                assert get(url).status_code == 200
            counts.append(len(captured))
        return counts[0], counts[1]

    few = consented_weeks_ago()
    report_unblinding(people["reported"], days_ago=10)
    rate(people["reported"], few, "PANSS", days_ago=3)

    many = consented_weeks_ago()
    raters = [people["reported"], people["blinded"]] + [
        make_staff(f"assessor-{n}", Role.ASSESSOR, sites=["BAL"]) for n in range(3)
    ]
    for rater in raters[2:]:
        report_unblinding(rater, days_ago=20)
    for rater, code in zip(raters, ("GAF", "PSP", "PANSS", "HAMD6", "YMRS"), strict=True):
        rate(rater, many, code, days_ago=3)
    assert queries_for(few) == queries_for(many)


def test_the_flag_readers_are_the_trial_managers_of_the_unblinding_reports() -> None:
    assert set(permissions.UNBLINDING_FLAG_READERS) == set(TRIAL_MANAGERS)
