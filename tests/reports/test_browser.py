"""Each role's home page in a phone-sized chromium under the real Content-Security-Policy: the
section and its pictures show, and the console stays clean (a CSP violation would be there)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.factories import make_staff
from tests.reports import trial
from trial.roles import Role

pytestmark = pytest.mark.browser

# role -> a text its section shows
SECTIONS: dict[str, str] = {
    Role.COORDINATOR: "Ready to randomise (consented)",
    Role.ASSESSOR: "visits with forms to enter",
    Role.CLINICIAN: "visits with forms to enter",
    Role.DATA_MANAGER: "Open queries by age",
    Role.MONITOR: "Forms waiting for source-data verification",
    Role.STATISTICIAN: "Allocation list capacity",
    Role.INSTRUCTOR: "This week's IMR sessions",
    Role.FIDELITY_RATER: "Your ratings",
    Role.INVESTIGATOR: "Assessed for eligibility",
}
PICTURES: dict[str, int] = {Role.COORDINATOR: 2, Role.DATA_MANAGER: 1, Role.INVESTIGATOR: 2}


@pytest.mark.parametrize("role", list(SECTIONS))
def test_each_home_page_shows_its_section_under_the_strict_policy(
    role: str, page: Any, log_in: Any, sites: Any
) -> None:
    from playwright.sync_api import expect

    trial.build()
    user = make_staff(f"home-{role}", role, sites=["BAL"])
    log_in(user)
    section = page.locator(f"#home-{role}")
    expect(section).to_be_visible()
    expect(section).to_contain_text(SECTIONS[role])
    expect(section.locator("svg.chart")).to_have_count(PICTURES.get(role, 0))
    if role in PICTURES:
        details = section.locator("details").first
        if not details.evaluate("element => element.open"):
            details.locator("summary").click()
        expect(details.locator("table")).to_be_visible()
    assert page.console_problems == []


def test_the_matrix_and_the_consort_diagram_in_the_browser(
    page: Any, log_in: Any, sites: Any
) -> None:
    from playwright.sync_api import expect

    people = trial.build().people
    log_in(make_staff("matrix-monitor", Role.MONITOR))
    page.get_by_role("link", name="Record status matrix").first.click()
    expect(page.get_by_role("heading", name="Record status matrix")).to_be_visible()
    page.get_by_label("Site").select_option("BAL")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("table.matrix")).to_contain_text(people["r1"].study_id)
    page.get_by_role("link", name="GAF, Baseline (T0): Complete").first.click()
    expect(page).to_have_url(
        re.compile(rf"/assessments/participants/{people['r1'].pk}/baseline/GAF/$")
    )
    page.goto("/reports/consort/")
    expect(page.locator("svg.chart")).to_contain_text("Assessed for eligibility")
    with page.expect_download() as download:
        page.get_by_role("link", name="PDF").click()
    assert download.value.suggested_filename == "imr-consort.pdf"
    assert page.console_problems == []
