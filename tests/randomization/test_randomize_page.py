"""The coordinator's page: summary of eligibility, consent and baseline, a confirm step, then
the result (shown only once the allocation is committed)."""

from __future__ import annotations

import re
from typing import Any

from randomization.models import Allocation
from tests.factories import coordinator_for, make_participant, make_staff
from tests.randomization.conftest import ready_participant
from trial.roles import Role


def token(content: bytes) -> str:
    match = re.search(rb'name="token" value="([^"]+)"', content)
    assert match, "no form token on the page"
    return match.group(1).decode()


def test_the_coordinator_confirms_and_then_sees_the_result(lists: list, client: Any) -> None:
    participant = ready_participant("BAL")
    client.force_login(coordinator_for("BAL"))
    overview = client.get(f"/participants/{participant.pk}/").content.decode()
    assert f"/randomisation/participants/{participant.pk}/" in overview
    page = client.get(f"/randomisation/participants/{participant.pk}/")
    assert page.status_code == 200
    text = page.content.decode()
    for fact in ("Eligible", "Recorded", "Complete"):
        assert fact in text
    # Nothing about the list: no arm, no position, no block.
    assert "TAU" not in text and "block" not in text.lower() and "sequence" not in text.lower()
    unconfirmed = client.post(
        f"/randomisation/participants/{participant.pk}/", {"token": token(page.content)}
    )
    assert unconfirmed.status_code == 400
    assert Allocation.objects.count() == 0
    response = client.post(
        f"/randomisation/participants/{participant.pk}/",
        {"token": token(page.content), "confirm": "on"},
    )
    assert response.status_code == 302
    assert response["Location"] == f"/randomisation/participants/{participant.pk}/result/"
    allocation = Allocation.objects.get(participant=participant)
    result = client.get(response["Location"])
    assert result.status_code == 200
    assert "no-store" in result["Cache-Control"]
    content = result.content.decode()
    assert allocation.get_arm_display() in content
    assert allocation.randomization_code in content


def test_a_double_click_randomizes_once_and_a_fresh_attempt_is_refused(
    lists: list, client: Any
) -> None:
    participant = ready_participant("GLA")
    client.force_login(coordinator_for("GLA"))
    path = f"/randomisation/participants/{participant.pk}/"
    form_token = token(client.get(path).content)
    first = client.post(path, {"token": form_token, "confirm": "on"})
    second = client.post(path, {"token": form_token, "confirm": "on"})
    assert first.status_code == second.status_code == 302
    assert Allocation.objects.count() == 1
    # Another submission (new token, e.g. a stale second tab) is a conflict.
    third = client.post(path, {"token": "another", "confirm": "on"})
    assert third.status_code == 409
    assert "already randomised" in third.content.decode()
    assert Allocation.objects.count() == 1
    # Opening the page again goes straight to the result.
    assert client.get(path)["Location"].endswith("/result/")


def test_a_participant_who_is_not_ready_gets_the_reasons_and_no_button(
    lists: list, client: Any
) -> None:
    participant = make_participant("BAL", stage="eligible")
    client.force_login(coordinator_for("BAL"))
    page = client.get(f"/randomisation/participants/{participant.pk}/")
    text = page.content.decode()
    # The page lists the service's own refusals (randomization.permissions: one rule).
    assert "Not consented: record the participant" in text
    assert "Baseline missing: complete the baseline forms first" in text
    assert 'name="confirm"' not in text
    forced = client.post(
        f"/randomisation/participants/{participant.pk}/", {"token": "t", "confirm": "on"}
    )
    assert forced.status_code == 400
    assert "Not consented" in forced.content.decode()
    assert Allocation.objects.count() == 0


def test_other_roles_cannot_use_the_pages(lists: list, client: Any) -> None:
    participant = ready_participant("BAL")
    path = f"/randomisation/participants/{participant.pk}/"
    for user in (
        make_staff("assessor", Role.ASSESSOR, sites=["BAL"]),
        make_staff("instructor", Role.INSTRUCTOR, sites=["BAL"]),
        make_staff("both", Role.COORDINATOR, Role.ASSESSOR, sites=["BAL"]),
    ):
        client.force_login(user)
        assert client.get(path).status_code == 403
        assert client.post(path, {"token": "t", "confirm": "on"}).status_code == 403
    client.force_login(make_staff("coord-gla", Role.COORDINATOR, sites=["GLA"]))
    assert client.get(path).status_code == 404
    assert Allocation.objects.count() == 0
    # The result page does not exist for a blinded user.
    client.force_login(coordinator_for("BAL"))
    client.post(path, {"token": "t", "confirm": "on"})
    client.force_login(make_staff("assessor2", Role.ASSESSOR, sites=["BAL"]))
    assert client.get(f"{path}result/").status_code == 404


def test_an_exhausted_list_is_explained_on_the_page(sites: dict, client: Any) -> None:
    participant = ready_participant("FRB")
    client.force_login(coordinator_for("FRB"))
    response = client.post(
        f"/randomisation/participants/{participant.pk}/", {"token": "t", "confirm": "on"}
    )
    assert response.status_code == 503
    assert "exhausted" in response.content.decode()
