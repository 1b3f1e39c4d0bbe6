"""Unblinding reports: blinded staff report, trial managers see them all, and the assessor's
later assessments are flagged."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.utils import timezone

from assessments.models import InstrumentResponse, ResponseStatus, Timepoint
from randomization import selectors
from randomization.models import UnblindingIncident
from tests.factories import api_client, make_participant, make_staff
from trial.audit import events_of
from trial.roles import Role

URL = "/api/v1/unblinding-incidents/"


def report(user: Any, **data: Any) -> Any:
    payload = {"learned_on": timezone.localdate().isoformat(), "how": "participant_told"}
    payload.update(data)
    return api_client(user).post(URL, payload, format="json")


def test_an_assessor_reports_and_the_trial_managers_see_the_report(sites: dict) -> None:
    assessor = make_staff("assessor", Role.ASSESSOR, sites=["BAL"])
    participant = make_participant("BAL")
    response = report(
        assessor, participant=participant.pk, description="Mentioned the group on Tuesdays"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["person"] == "assessor"
    assert body["reported_by"] == "assessor"
    assert body["study_id"] == participant.study_id
    for manager in (
        make_staff("dm", Role.DATA_MANAGER),
        make_staff("stat", Role.STATISTICIAN),
    ):
        listed = api_client(manager).get(URL).json()["results"]
        assert [item["id"] for item in listed] == [body["id"]]
    # A colleague sees only their own reports.
    colleague = make_staff("assessor2", Role.ASSESSOR, sites=["BAL"])
    assert api_client(colleague).get(URL).json()["results"] == []
    assert api_client(assessor).get(URL).json()["results"][0]["id"] == body["id"]
    # The report is audited.
    incident = UnblindingIncident.objects.get()
    assert events_of(incident).get().pgh_context["user"] == assessor.pk


def test_unblinded_roles_neither_report_nor_read(sites: dict) -> None:
    coordinator = make_staff("coord", Role.COORDINATOR, sites=["BAL"])
    assert report(coordinator).status_code == 403
    assert api_client(coordinator).get(URL).status_code == 403
    assert UnblindingIncident.objects.count() == 0


def test_a_report_needs_a_real_date_and_a_description_for_other(sites: dict) -> None:
    monitor = make_staff("monitor", Role.MONITOR)
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    response = report(monitor, learned_on=tomorrow)
    assert response.status_code == 400
    assert "learned_on" in response.json()
    response = report(monitor, how="other")
    assert response.status_code == 400
    assert "description" in response.json()
    assert report(monitor, how="guessing").status_code == 400
    assert UnblindingIncident.objects.count() == 0


def test_a_participant_outside_the_reporters_sites_is_not_found(sites: dict) -> None:
    assessor = make_staff("assessor", Role.ASSESSOR, sites=["BAL"])
    elsewhere = make_participant("GLA")
    assert report(assessor, participant=elsewhere.pk).status_code == 404


def test_a_trial_manager_may_record_a_report_for_a_blinded_person(sites: dict) -> None:
    assessor = make_staff("assessor", Role.ASSESSOR, sites=["BAL"])
    manager = make_staff("dm", Role.DATA_MANAGER)
    response = report(manager, person="assessor")
    assert response.status_code == 201
    assert response.json()["person"] == "assessor"
    assert response.json()["reported_by"] == "dm"
    assert api_client(assessor).get(URL).json()["results"][0]["reported_by"] == "dm"
    # But not for someone who is not blinded, and an assessor not for a colleague.
    make_staff("coord", Role.COORDINATOR)
    assert report(manager, person="coord").status_code == 400
    make_staff("assessor2", Role.ASSESSOR)
    assert report(assessor, person="assessor2").status_code == 403


def response_on(participant: Any, rater: Any, day: date, code: str = "GAF") -> InstrumentResponse:
    return InstrumentResponse.objects.create(
        participant=participant,
        timepoint=Timepoint.POST,
        instrument=code,
        status=ResponseStatus.COMPLETE,
        rater=rater,
        interview_date=day,
    )


def test_assessments_from_the_day_of_unblinding_on_are_flagged(sites: dict) -> None:
    assessor = make_staff("assessor", Role.ASSESSOR, sites=["BAL"])
    other = make_staff("assessor2", Role.ASSESSOR, sites=["BAL"])
    participant = make_participant("BAL")
    learned = timezone.localdate() - timedelta(days=10)
    assert selectors.assessor_unblinded_on(assessor) is None
    report(assessor, learned_on=learned.isoformat())
    report(assessor, learned_on=(learned + timedelta(days=3)).isoformat())
    assert selectors.assessor_unblinded_on(assessor) == learned
    before = response_on(participant, assessor, learned - timedelta(days=1), "GAF")
    same_day = response_on(participant, assessor, learned, "PSP")
    after = response_on(participant, assessor, learned + timedelta(days=5), "PANSS")
    by_other = response_on(participant, other, learned + timedelta(days=5), "YMRS")
    assert not selectors.response_is_flagged(before)
    assert selectors.response_is_flagged(same_day)
    assert selectors.response_is_flagged(after)
    assert not selectors.response_is_flagged(by_other)
    dates = selectors.unblinding_dates([assessor.pk, other.pk])
    assert dates == {assessor.pk: learned}
    assert selectors.response_is_flagged(after, unblinded=dates)


def test_the_incidents_page_takes_a_report_and_lists_them(sites: dict, client: Any) -> None:
    assessor = make_staff("assessor", Role.ASSESSOR, sites=["BAL"])
    participant = make_participant("BAL")
    client.force_login(assessor)
    page = client.get("/randomisation/incidents/")
    assert page.status_code == 200
    # The participant is typed (a study ID), not picked from a list of everyone: the page
    # stays the same size however many participants there are.
    assert 'name="participant"' in page.content.decode()
    assert participant.study_id not in page.content.decode()
    unknown = client.post(
        "/randomisation/incidents/",
        {
            "participant": "GLA-999-X",
            "learned_on": timezone.localdate().isoformat(),
            "how": "other",
        },
    )
    assert unknown.status_code == 400
    assert "No participant with that study ID" in unknown.content.decode()
    assert UnblindingIncident.objects.count() == 0
    response = client.post(
        "/randomisation/incidents/",
        {
            "participant": participant.study_id,
            "learned_on": timezone.localdate().isoformat(),
            "how": "record_seen",
            "description": "Saw a group letter",
        },
    )
    assert response.status_code == 302
    assert UnblindingIncident.objects.get().participant == participant
    bad = client.post("/randomisation/incidents/", {"learned_on": "", "how": "other"})
    assert bad.status_code == 400
    assert UnblindingIncident.objects.count() == 1
    listed = client.get("/randomisation/incidents/").content.decode()
    assert "Saw a group letter" in listed
