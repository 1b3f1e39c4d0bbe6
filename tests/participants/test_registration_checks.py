"""Registration warns when the sex chosen differs from the one the CPR number's last digit
gives (saved only once confirmed); screening takes "aged 18 or over" from the date of birth in
the CPR number: shown on the page, not asked."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from participants import services
from participants.models import EligibilityScreening, Participant
from tests.factories import ELIGIBLE_ANSWERS, make_staff, page_client, unique_cpr
from trial.roles import Role


@pytest.fixture
def coordinator(sites: Any) -> Any:
    return make_staff("carla", Role.COORDINATOR, sites=["BAL"])


def test_a_sex_that_differs_from_the_cpr_number_is_warned_about_and_saved_once_confirmed(
    coordinator: Any,
) -> None:
    client = page_client(coordinator)
    data = {"site": "BAL", "cpr": "150482-1233", "sex": "female"}  # odd last digit: male
    warned = client.post("/participants/new/", data)
    assert warned.status_code == 200
    html = warned.content.decode()
    assert 'id="sex-warning"' in html and "a male" in html and 'value="150482-1233"' in html
    assert not Participant.objects.exists()
    confirmed = client.post("/participants/new/", data | {"sex_confirmed": "on"})
    assert confirmed.status_code == 302
    assert Participant.objects.get().sex == "female"


def test_a_matching_sex_registers_without_a_warning(coordinator: Any) -> None:
    client = page_client(coordinator)
    page = client.get("/participants/new/").content.decode()
    assert "sex-warning" not in page and "sex_confirmed" not in page
    answer = client.post("/participants/new/", {"site": "BAL", "cpr": "150482-1233", "sex": "male"})
    assert answer.status_code == 302


def screening(**changes: Any) -> dict[str, str]:
    answers = {k: v for k, v in ELIGIBLE_ANSWERS.items() if k != "age_18_or_over"} | changes
    return {k: v if isinstance(v, str) else ("yes" if v else "no") for k, v in answers.items()}


@pytest.mark.parametrize("years,adult", [(40, True), (17, False)])
def test_screening_takes_the_age_from_the_cpr_number(
    coordinator: Any, years: int, adult: bool
) -> None:
    born = timezone.localdate() - timedelta(days=365 * years)
    # A seventh digit of 4 dates a birth year 00-36 in the 2000s (the CPR century rule).
    cpr = unique_cpr(born=born) if born.year < 2000 else f"{born:%d%m%y}-4002"
    participant = services.participant_register(
        user=coordinator, site_code="BAL", cpr=cpr, sex="female"
    )
    client = page_client(coordinator)
    url = f"/participants/{participant.pk}/screening/"
    page = client.get(url).content.decode()
    assert 'id="derived-age"' in page and 'name="age_18_or_over"' not in page
    assert f"born {born:%Y-%m-%d}" in page
    # Even a typed answer is ignored: the date of birth decides.
    client.post(url, screening(age_18_or_over="yes" if not adult else "no"))
    saved = EligibilityScreening.objects.get(participant=participant)
    assert saved.age_18_or_over is adult and saved.eligible is adult
