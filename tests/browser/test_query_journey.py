"""In a real browser: a data manager raises a query on a saved form, the assessor finds it,
is told what is missing when sending an empty answer, answers, and the data manager closes
it. The pages name the form and the field in words. Under the real Content-Security-Policy."""

from __future__ import annotations

from typing import Any

import pytest

from assessments.models import Query
from tests.assessments.helpers import put_form, typical_items
from tests.factories import make_participant, make_staff
from trial.roles import Role

pytestmark = pytest.mark.browser


def test_a_data_manager_raises_a_query_the_assessor_answers_and_it_is_closed(
    sites: Any, page: Any, log_in: Any
) -> None:
    from playwright.sync_api import expect

    participant = make_participant("BAL")
    assessor = make_staff("browser-assessor", Role.ASSESSOR, sites=["BAL"])
    put_form(assessor, participant, "baseline", "GAF", typical_items("GAF"))
    data_manager = make_staff("browser-dm", Role.DATA_MANAGER)

    log_in(data_manager)
    page.goto(f"/assessments/participants/{participant.pk}/baseline/GAF/")
    page.get_by_label("Field").select_option(label="interview date")
    page.get_by_label("Question").fill("Please confirm the date against the clinic record.")
    page.get_by_role("button", name="Raise query").click()
    expect(page.locator(".facts")).to_contain_text("GAF · Baseline (before randomisation)")
    expect(page.locator(".facts")).to_contain_text("interview date")
    page.get_by_role("button", name="Log out").click()

    log_in(assessor)
    page.get_by_role("link", name="Queries").first.click()
    page.get_by_role("link", name=str(Query.objects.get().pk), exact=True).click()
    page.get_by_role("button", name="Send answer").click()
    expect(page.get_by_role("alert")).to_contain_text("Write the message.")
    page.get_by_label("Answer").fill("Confirmed: the clinic record has the same date.")
    page.get_by_role("button", name="Send answer").click()
    expect(page.locator(".messages")).to_contain_text("answer recorded")
    expect(page.locator(".thread")).to_contain_text("(Assessor)")
    page.get_by_role("button", name="Log out").click()

    log_in(data_manager)
    page.goto(f"/assessments/queries/{Query.objects.get().pk}/")
    expect(page.locator(".thread")).to_contain_text(
        "Confirmed: the clinic record has the same date."
    )
    page.get_by_role("button", name="Close query").click()
    expect(page.locator("h1 .badge")).to_have_text("Closed")
    assert Query.objects.get().status == "closed"
    # The empty answer was refused (400, which the console reports too); nothing else.
    assert [p for p in page.console_problems if "400" not in p] == []
