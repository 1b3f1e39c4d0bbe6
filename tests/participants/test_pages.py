"""The participant pages: list and search, registration, screening, consent, the end of
participation and the overview with its timeline."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from participants.models import EligibilityScreening, Participant, Status
from participants.studyid import ALPHABET
from tests.factories import (
    ELIGIBLE_ANSWERS,
    allocate,
    api_client,
    make_participant,
    make_staff,
    page_client,
)
from trial.roles import Role


@pytest.fixture
def coordinator(sites: Any) -> Any:
    return make_staff("carla", Role.COORDINATOR, sites=["BAL"])


@pytest.fixture
def client(coordinator: Any) -> Any:
    return page_client(coordinator)


def mistyped(study_id: str) -> str:
    """The same ID with a different check character."""
    check = study_id[-1]
    other = ALPHABET[(ALPHABET.index(check) + 1) % len(ALPHABET)]
    return study_id[:-1] + other


def screening_form(**changes: Any) -> dict[str, str]:
    answers = {**ELIGIBLE_ANSWERS, **changes}
    return {k: v if isinstance(v, str) else ("yes" if v else "no") for k, v in answers.items()}


def test_a_mistyped_study_id_is_caught_by_its_check_character(
    coordinator: Any, client: Any
) -> None:
    participant = make_participant("BAL", stage="registered", user=coordinator)
    wrong = mistyped(participant.study_id)
    page = client.get("/participants/", {"q": wrong})
    assert page.status_code == 200
    html = page.content.decode()
    assert f"{wrong} is not a valid study ID" in html
    assert f"/participants/{participant.pk}/" not in html
    api = api_client(coordinator).get("/api/v1/participants/", {"search": wrong})
    assert api.status_code == 400
    assert "check character" in api.json()["search"][0]


def test_a_correct_study_id_finds_exactly_that_participant(coordinator: Any, client: Any) -> None:
    first = make_participant("BAL", stage="registered", user=coordinator)
    second = make_participant("BAL", stage="registered", user=coordinator)
    html = client.get("/participants/", {"q": first.study_id.lower()}).content.decode()
    assert first.study_id in html and second.study_id not in html
    both = client.get("/participants/", {"q": "BAL-00"}).content.decode()
    assert first.study_id in both and second.study_id in both


def test_the_list_filters_by_site_and_status_within_the_users_sites(
    coordinator: Any, client: Any
) -> None:
    eligible = make_participant("BAL", stage="eligible", user=coordinator)
    registered = make_participant("BAL", stage="registered", user=coordinator)
    elsewhere = make_participant("GLA", stage="eligible")
    html = client.get("/participants/", {"status": "eligible"}).content.decode()
    assert eligible.study_id in html
    assert registered.study_id not in html
    assert elsewhere.study_id not in html
    other_site = client.get("/participants/", {"site": "GLA"}).content.decode()
    assert elsewhere.study_id not in other_site and "No participants match" in other_site
    monitor = page_client(make_staff("mon", Role.MONITOR))
    assert elsewhere.study_id in monitor.get("/participants/", {"site": "GLA"}).content.decode()


def test_an_unknown_filter_value_is_refused(coordinator: Any, client: Any) -> None:
    response = api_client(coordinator).get(
        "/api/v1/participants/", {"status": "cured", "site": "XYZ"}
    )
    assert response.status_code == 400
    assert set(response.json()) == {"status", "site"}
    assert "Unknown status" in client.get("/participants/", {"status": "cured"}).content.decode()


def test_registration_on_the_page_leads_to_the_overview(client: Any) -> None:
    response = client.post(
        "/participants/new/", {"site": "BAL", "cpr": "240385-2345", "sex": "male"}
    )
    participant = Participant.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/participants/{participant.pk}/"
    overview = client.get(response["Location"]).content.decode()
    assert f"Registered as {participant.study_id}" in overview
    assert "240385-XXXX" in overview


def test_the_registration_form_names_what_is_missing(client: Any) -> None:
    response = client.post("/participants/new/", {"site": "BAL", "cpr": "240385-2345"})
    assert response.status_code == 400
    assert b"This field is required" in response.content
    assert b'value="240385-2345"' in response.content
    assert not Participant.objects.exists()


def test_screening_shows_the_result_and_the_reasons_in_words(coordinator: Any, client: Any) -> None:
    participant = make_participant("BAL", stage="registered", user=coordinator)
    url = f"/participants/{participant.pk}/screening/"
    response = client.post(
        url, screening_form(diagnosis="other", active_substance_use_disorder=True)
    )
    assert response.status_code == 302 and response["Location"] == url
    html = client.get(url).content.decode()
    assert "Latest result: not eligible" in html
    assert "neither schizophrenia (F20) nor bipolar disorder (F31)" in html
    assert "active substance use disorder" in html
    participant.refresh_from_db()
    assert participant.status == Status.INELIGIBLE


def test_rescreening_keeps_every_screening_until_randomization(
    coordinator: Any, client: Any
) -> None:
    participant = make_participant("BAL", stage="registered", user=coordinator)
    url = f"/participants/{participant.pk}/screening/"
    client.post(url, screening_form(in_psychoeducation_course=True))
    client.post(url, screening_form())
    participant.refresh_from_db()
    assert participant.status == Status.ELIGIBLE
    assert list(
        EligibilityScreening.objects.filter(participant=participant)
        .order_by("id")
        .values_list("eligible", flat=True)
    ) == [False, True]
    html = client.get(url).content.decode()
    assert "Latest result: eligible" in html and html.count("<td>not eligible</td>") == 1
    client.post(f"/participants/{participant.pk}/consent/", {"consent_date": timezone.localdate()})
    allocate(participant, "TAU")
    closed = client.get(url).content.decode()
    assert "Screening is closed" in closed
    refused = client.post(url, screening_form())
    assert refused.status_code == 409
    assert EligibilityScreening.objects.filter(participant=participant).count() == 2


def test_an_incomplete_screening_names_each_unanswered_question(
    coordinator: Any, client: Any
) -> None:
    participant = make_participant("BAL", stage="registered", user=coordinator)
    form = screening_form()
    del form["danish_fluent"], form["diagnosis"]
    response = client.post(f"/participants/{participant.pk}/screening/", form)
    assert response.status_code == 400
    assert response.content.decode().count("Answer yes or no.") == 1
    # The other answers are kept.
    assert re.search(rb'name="pse_confirmed" value="yes"[^>]*checked', response.content)
    assert not EligibilityScreening.objects.exists()


def test_consent_cannot_be_dated_in_the_future_or_before_registration(
    coordinator: Any, client: Any
) -> None:
    participant = make_participant("BAL", stage="eligible", user=coordinator)
    url = f"/participants/{participant.pk}/consent/"
    today = timezone.localdate()
    future = client.post(url, {"consent_date": today + timedelta(days=1)})
    assert future.status_code == 400 and b"cannot be in the future" in future.content
    before = client.post(url, {"consent_date": today - timedelta(days=1)})
    assert before.status_code == 400 and b"before registration" in before.content
    participant.refresh_from_db()
    assert participant.consent_date is None
    assert client.post(url, {"consent_date": today}).status_code == 302
    participant.refresh_from_db()
    assert (participant.status, participant.consent_date) == (Status.CONSENTED, today)


def test_consent_needs_an_eligible_screening(coordinator: Any, client: Any) -> None:
    participant = make_participant("BAL", stage="ineligible", user=coordinator)
    url = f"/participants/{participant.pk}/consent/"
    assert b"Consent can be recorded only" in client.get(url).content
    response = client.post(url, {"consent_date": timezone.localdate()})
    assert response.status_code == 400
    assert b"screened eligible" in response.content


def test_a_coordinator_withdraws_a_participant_with_date_and_reason(
    coordinator: Any, client: Any
) -> None:
    participant = make_participant("BAL", stage="consented", user=coordinator)
    url = f"/participants/{participant.pk}/status/"
    missing = client.post(url, {"status": "withdrawn", "date": timezone.localdate()})
    assert missing.status_code == 400
    response = client.post(
        url, {"status": "withdrawn", "date": timezone.localdate(), "reason": "Moved to Jutland"}
    )
    assert response.status_code == 302
    participant.refresh_from_db()
    assert (participant.status, participant.status_reason) == (Status.WITHDRAWN, "Moved to Jutland")
    overview = client.get(f"/participants/{participant.pk}/").content.decode()
    assert "Withdrawn" in overview and "Moved to Jutland" in overview


def test_a_data_manager_records_death_but_not_withdrawal(coordinator: Any) -> None:
    participant = make_participant("BAL", stage="consented", user=coordinator)
    client = page_client(make_staff("dm", Role.DATA_MANAGER))
    url = f"/participants/{participant.pk}/status/"
    html = client.get(url).content.decode()
    assert 'value="deceased"' in html and 'value="withdrawn"' not in html
    refused = client.post(url, {"status": "withdrawn", "date": timezone.localdate(), "reason": "x"})
    assert refused.status_code == 400
    accepted = client.post(
        url, {"status": "deceased", "date": timezone.localdate(), "reason": "Death register"}
    )
    assert accepted.status_code == 302


def test_the_overview_timeline_tells_what_happened(
    transactional_db: None, coordinator: Any, client: Any
) -> None:
    # Committed request by request, as in real use: audit times are transaction times.
    participant = make_participant("BAL", stage="registered", user=coordinator)
    url = f"/participants/{participant.pk}/screening/"
    client.post(url, screening_form(danish_fluent=False))
    client.post(url, screening_form())
    client.post(f"/participants/{participant.pk}/consent/", {"consent_date": timezone.localdate()})
    html = client.get(f"/participants/{participant.pk}/").content.decode()
    timeline = html[html.index('<ol class="timeline">') :]
    order = [
        timeline.index(text)
        for text in (
            "Written informed consent",
            "Screened: eligible",
            "Screened: not eligible",
            "Registered",
        )
    ]
    assert order == sorted(order)  # newest first
    assert "Does not speak and understand Danish" in timeline


@pytest.mark.parametrize("role", [Role.ASSESSOR, Role.DATA_MANAGER, Role.MONITOR])
def test_the_overview_hides_the_arm_from_blinded_roles(coordinator: Any, role: str) -> None:
    participant = make_participant("BAL", stage="consented", user=coordinator)
    allocation = allocate(participant, "IMR")
    blinded = page_client(make_staff("blind", role, sites=["BAL"])).get(
        f"/participants/{participant.pk}/"
    )
    html = blinded.content.decode()
    assert "Randomised" in html
    assert allocation.randomization_code not in html
    assert "<dt>Arm</dt>" not in html
    unblinded = page_client(coordinator).get(f"/participants/{participant.pk}/").content.decode()
    assert "<dt>Arm</dt><dd>IMR" in unblinded
    assert allocation.randomization_code in unblinded


def test_actions_are_offered_only_to_those_who_may_take_them(coordinator: Any) -> None:
    participant = make_participant("BAL", stage="eligible", user=coordinator)
    url = f"/participants/{participant.pk}/"
    mine = page_client(coordinator).get(url).content.decode()
    assert "Screen eligibility" in mine and "Record consent" in mine and "Audit history" not in mine
    assessor = page_client(make_staff("a", Role.ASSESSOR, sites=["BAL"])).get(url).content.decode()
    assert "Screen eligibility" not in assessor and "Record consent" not in assessor
    dm = page_client(make_staff("dm", Role.DATA_MANAGER)).get(url).content.decode()
    assert "Audit history" in dm and "Screen eligibility" not in dm


def test_the_timeline_links_screening_and_consent_only_for_those_who_may_open_them(
    coordinator: Any,
) -> None:
    """The pages of screening and consent are the site coordinators'; for everyone else who
    reads the overview the timeline names the steps without a link that would answer 403."""
    participant = make_participant("BAL", stage="consented", user=coordinator)
    overview = f"/participants/{participant.pk}/"
    pages = (f"{overview}screening/", f"{overview}consent/")
    mine = page_client(coordinator).get(overview).content.decode()
    assert all(f'href="{page}"' in mine for page in pages)
    for role in (Role.ASSESSOR, Role.CLINICIAN, Role.DATA_MANAGER, Role.STATISTICIAN):
        client = page_client(make_staff(f"reader-{role}", role, sites=["BAL"]))
        html = client.get(overview).content.decode()
        assert "Written informed consent" in html and "Screened: eligible" in html
        for page in pages:
            assert f'href="{page}"' not in html, role
            assert client.get(page).status_code == 403
    also_assessor = make_staff("coordinator-assessor", Role.COORDINATOR, Role.ASSESSOR)
    html = page_client(also_assessor).get(overview).content.decode()
    assert all(f'href="{page}"' in html for page in pages)


def test_a_coordinator_who_is_assessor_elsewhere_may_look_but_not_act_there(
    sites: Any,
) -> None:
    from trial.models import RoleAssignment

    user = make_staff("mix", Role.COORDINATOR, sites=["BAL"])
    RoleAssignment.objects.create(user=user, role=Role.ASSESSOR, site=sites["GLA"])
    participant = make_participant("GLA", stage="eligible")
    client = page_client(user)
    assert client.get(f"/participants/{participant.pk}/").status_code == 200
    assert client.get(f"/participants/{participant.pk}/screening/").status_code == 403
    response = api_client(user).post(
        f"/api/v1/participants/{participant.pk}/consent/",
        {"consent_date": timezone.localdate().isoformat()},
        format="json",
    )
    assert response.status_code == 403
