"""In a real browser (issue 10, "forms that never lose work"): a PANSS saved as complete with
G16 empty comes back with the problem summarised at the top and focused, its link moving focus
to G16, every typed value kept; a draft saved automatically survives a closed tab; leaving a
form with unsaved changes asks first."""

from __future__ import annotations

from typing import Any

import pytest

from assessments.models import InstrumentResponse
from tests.assessments.helpers import typical_items
from tests.factories import make_participant, make_staff
from trial.roles import Role

pytestmark = pytest.mark.browser


def form_url(participant: Any, code: str) -> str:
    return f"/assessments/participants/{participant.pk}/baseline/{code}/"


def test_a_refused_panss_shows_the_summary_focused_and_keeps_every_value(
    sites: dict, page: Any, log_in: Any
) -> None:
    participant = make_participant("BAL")
    log_in(make_staff("browser-assessor", Role.ASSESSOR, sites=["BAL"]))
    page.goto(form_url(participant, "PANSS"))
    # Focus starts on the first item.
    page.wait_for_function("document.activeElement && document.activeElement.id === 'id-P1'")
    ratings = {k: str(v) for k, v in typical_items("PANSS").items() if k != "G16"}
    for code, rating in ratings.items():
        page.select_option(f"#id-{code}", rating)
    page.click("#save-complete")

    summary = page.locator("#error-summary")
    summary.wait_for()
    page.wait_for_function("document.activeElement.id === 'error-summary'")
    assert "G16" in summary.inner_text()
    summary.locator('a[href="#id-G16"]').click()
    page.wait_for_function("document.activeElement.id === 'id-G16'")
    for code, rating in ratings.items():
        assert page.input_value(f"#id-{code}") == rating, code
    assert not InstrumentResponse.objects.filter(status="complete").exists()


def test_a_draft_saved_automatically_survives_a_closed_tab(
    sites: dict, page: Any, log_in: Any
) -> None:
    participant = make_participant("BAL")
    log_in(make_staff("browser-assessor", Role.ASSESSOR, sites=["BAL"]))
    page.goto(form_url(participant, "HAMD6"))
    page.select_option("#id-HAMD6_1", "2")
    page.select_option("#id-HAMD6_2", "3")
    page.locator("#autosave .autosave-saved").wait_for()
    page.wait_for_function("document.querySelector('#autosave').textContent.includes('version')")
    page.close()

    again = page.context.new_page()
    again.goto(form_url(participant, "HAMD6"))
    assert again.input_value("#id-HAMD6_1") == "2"
    assert again.input_value("#id-HAMD6_2") == "3"
    saved = InstrumentResponse.objects.get(instrument="HAMD6")
    assert saved.status == "draft" and saved.items == {"HAMD6_1": 2, "HAMD6_2": 3}


def test_leaving_a_form_with_unsaved_changes_asks_first(
    sites: dict, page: Any, log_in: Any
) -> None:
    participant = make_participant("BAL")
    log_in(make_staff("browser-assessor", Role.ASSESSOR, sites=["BAL"]))
    # A completed form: no automatic saves, so a change stays unsaved until the user saves.
    page.goto(form_url(participant, "HAMD6"))
    for code, value in typical_items("HAMD6").items():
        page.select_option(f"#id-{code}", str(value))
    page.click("#save-complete")
    page.locator("#autosave-off").wait_for()

    asked: list[str] = []

    def on_dialog(dialog: Any) -> None:
        asked.append(dialog.type)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.focus("#id-HAMD6_1")
    page.keyboard.press("ArrowDown")  # a real keystroke: the browser asks only after one
    page.locator(".crumbs a").first.click()
    page.wait_for_timeout(500)
    assert asked == ["beforeunload"]
    assert page.url.endswith(form_url(participant, "HAMD6"))

    # Saved with a reason, the page leaves without asking.
    page.fill("#id-reason", "Rating corrected after the interview notes were read again.")
    page.click("#save-complete")
    page.locator("#next-form").wait_for()
    page.locator(".crumbs a").first.click()
    page.wait_for_url(f"**/assessments/participants/{participant.pk}/")
    assert asked == ["beforeunload"]
