"""The assessor's guess of the arm at the post-intervention and follow-up assessments."""

from __future__ import annotations

import re
from typing import Any

from randomization.models import BlindingGuess
from tests.factories import allocate, api_client, make_participant, make_staff
from trial.audit import events_of
from trial.models import DatasetLock
from trial.roles import Role


def url(participant: Any, timepoint: str = "post") -> str:
    return f"/api/v1/participants/{participant.pk}/blinding-guess/{timepoint}/"


def normalised(participant: Any, content: bytes) -> str:
    text = content.decode()
    text = text.replace(participant.study_id, "<STUDY>")
    text = re.sub(rf"\b{participant.pk}\b", "<PK>", text)
    return re.sub(r"\d{4}-\d\d-\d\dT[\d:.]+(Z|[+-]\d\d:\d\d)?", "<TIME>", text)


def test_an_assessor_records_and_corrects_a_guess_with_a_reason(sites: dict) -> None:
    assessor = make_staff("assessor", Role.ASSESSOR, sites=["BAL"])
    participant = make_participant("BAL")
    allocate(participant, "IMR")
    client = api_client(assessor)
    created = client.put(url(participant), {"guess": "dont_know"}, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["guess"] == "dont_know"
    assert created.json()["assessor"] == "assessor"
    again = client.put(url(participant), {"guess": "dont_know"}, format="json")
    assert again.status_code == 200
    change = client.put(url(participant), {"guess": "TAU"}, format="json")
    assert change.status_code == 400
    assert "reason" in change.json()
    changed = client.put(
        url(participant), {"guess": "TAU", "reason": "Typing error"}, format="json"
    )
    assert changed.status_code == 200
    guess = BlindingGuess.objects.get()
    assert guess.guess == "TAU"
    update = events_of(guess).get(pgh_label="update")
    assert update.pgh_context["reason"] == "Typing error"
    assert client.get(url(participant)).json()["guess"] == "TAU"
    assert client.get(url(participant, "followup")).status_code == 404


def test_guesses_belong_to_randomized_participants_at_post_and_followup(sites: dict) -> None:
    assessor = make_staff("assessor", Role.ASSESSOR, sites=["BAL"])
    participant = make_participant("BAL")
    client = api_client(assessor)
    assert client.put(url(participant), {"guess": "IMR"}, format="json").status_code == 400
    allocate(participant, "TAU")
    assert (
        client.put(url(participant, "baseline"), {"guess": "IMR"}, format="json").status_code == 400
    )
    assert client.put(url(participant), {"guess": "maybe"}, format="json").status_code == 400
    assert BlindingGuess.objects.count() == 0


def test_only_assessors_at_the_site_record_a_guess(sites: dict) -> None:
    participant = make_participant("BAL")
    allocate(participant, "IMR")
    coordinator = make_staff("coord", Role.COORDINATOR, sites=["BAL"])
    manager = make_staff("dm", Role.DATA_MANAGER)
    elsewhere = make_staff("assessor-gla", Role.ASSESSOR, sites=["GLA"])
    assert (
        api_client(coordinator).put(url(participant), {"guess": "IMR"}, format="json").status_code
        == 403
    )
    assert (
        api_client(manager).put(url(participant), {"guess": "IMR"}, format="json").status_code
        == 403
    )
    assert (
        api_client(elsewhere).put(url(participant), {"guess": "IMR"}, format="json").status_code
        == 404
    )
    assert BlindingGuess.objects.count() == 0


def test_no_answer_or_error_differs_between_an_imr_and_a_tau_participant(sites: dict) -> None:
    assessor = make_staff("assessor", Role.ASSESSOR, sites=["BAL"])
    imr, tau = make_participant("BAL"), make_participant("BAL")
    allocate(imr, "IMR")
    allocate(tau, "TAU")
    client = api_client(assessor)
    attempts = [
        ("put", "post", {"guess": "IMR"}),
        ("put", "post", {"guess": "IMR"}),
        ("put", "post", {"guess": "TAU"}),
        ("put", "post", {"guess": "TAU", "reason": "Second thoughts"}),
        ("put", "baseline", {"guess": "IMR"}),
        ("put", "followup", {"guess": "x"}),
        ("get", "post", None),
        ("get", "followup", None),
    ]
    for method, timepoint, data in attempts:
        answers = []
        for participant in (imr, tau):
            response = getattr(client, method)(url(participant, timepoint), data, format="json")
            answers.append((response.status_code, normalised(participant, response.content)))
        assert answers[0] == answers[1], (method, timepoint, answers)


def test_a_locked_database_keeps_its_guesses(sites: dict) -> None:
    assessor = make_staff("assessor", Role.ASSESSOR, sites=["BAL"])
    participant = make_participant("BAL")
    allocate(participant, "IMR")
    DatasetLock.objects.create(
        level="lock", reason="Final", set_by=make_staff("dm", Role.DATA_MANAGER)
    )
    response = api_client(assessor).put(url(participant), {"guess": "IMR"}, format="json")
    assert response.status_code == 409
    assert BlindingGuess.objects.count() == 0


def test_the_guess_page_records_a_guess(sites: dict, client: Any) -> None:
    assessor = make_staff("assessor", Role.ASSESSOR, sites=["BAL"])
    participant = make_participant("BAL")
    allocate(participant, "TAU")
    client.force_login(assessor)
    overview = client.get(f"/participants/{participant.pk}/").content.decode()
    assert f"/randomisation/participants/{participant.pk}/blinding-guess/post/" in overview
    page = f"/randomisation/participants/{participant.pk}/blinding-guess/post/"
    assert client.get(page).status_code == 200
    response = client.post(page, {"guess": "dont_know"})
    assert response.status_code == 302
    assert BlindingGuess.objects.get().guess == "dont_know"
    assert client.post(page, {"guess": "IMR"}).status_code == 400
    coordinator = make_staff("coord", Role.COORDINATOR, sites=["BAL"])
    client.force_login(coordinator)
    assert client.get(page).status_code == 403
