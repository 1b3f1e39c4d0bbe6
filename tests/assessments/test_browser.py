"""In a real browser: an assessor opens the worklist, types a full PANSS from the keyboard with
one item missing and its reason, saves, and sees the total (missing) and the prorated total;
a wrong value on another form is refused and everything else typed stays."""

from __future__ import annotations

from typing import Any

import pytest

from assessments.models import InstrumentResponse
from tests.factories import make_participant, make_staff
from trial.roles import Role

pytestmark = pytest.mark.browser


def test_an_assessor_enters_a_panss_from_the_worklist_and_sees_the_scores(
    sites: dict, page: Any, log_in: Any
) -> None:
    participant = make_participant("BAL")
    log_in(make_staff("browser-assessor", Role.ASSESSOR, sites=["BAL"]))

    page.goto("/assessments/worklist/")
    page.click(f'a[data-form="{participant.study_id}-baseline-PANSS"]')
    page.wait_for_selector("#id-P1")

    # Keyboard entry: type the rating, Enter jumps to the next item.
    ratings = {f"P{i}": "3" for i in range(1, 8)} | {f"N{i}": "2" for i in range(1, 8)}
    ratings |= {f"G{i}": "4" for i in range(1, 17)}
    page.focus("#id-P1")
    for code, rating in ratings.items():
        assert page.evaluate("document.activeElement.id") == f"id-{code}"
        if code == "P7":
            page.keyboard.press("Enter")  # left empty: a reason follows
            continue
        page.keyboard.type(rating)
        page.keyboard.press("Enter")
    page.select_option('select[name="missing-P7"]', "refused")
    page.click("#save-complete")
    page.wait_for_selector("#score-PANSS_TOTAL_PRO")

    assert "missing" in page.inner_text("#score-PANSS_TOTAL .value")
    # 6×3 + 7×2 + 16×4 = 96 over 29 rated items × 30 = 99.31
    assert page.inner_text("#score-PANSS_TOTAL_PRO .value").strip() == "99.31"
    assert page.inner_text("#score-PANSS_N .value").strip() == "14"
    saved = InstrumentResponse.objects.get(instrument="PANSS")
    assert saved.status == "complete" and saved.missing == {"P7": "refused"}
    assert saved.items["G16"] == 4 and "P7" not in saved.items

    # A wrong value is refused with the item named; what else was typed stays.
    page.goto(f"/assessments/participants/{participant.pk}/baseline/GAF/")
    page.fill("#id-GAF_S", "0")
    page.fill("#id-GAF_F", "57")
    page.click("#save-complete")
    page.wait_for_selector(".item-errors")
    assert "GAF_S" in page.inner_text("#row-GAF_S .item-errors")
    assert page.input_value("#id-GAF_F") == "57"
    assert page.input_value("#id-GAF_S") == "0"
    assert not InstrumentResponse.objects.filter(instrument="GAF").exists()


def test_the_psp_interval_follows_the_domains_as_fast_as_they_are_chosen(
    sites: dict, page: Any, log_in: Any
) -> None:
    """Choosing the four domains in quick succession: the hint ends on the interval of the
    last choice, and no request is aborted (an aborted htmx request is a console error)."""
    participant = make_participant("BAL")
    log_in(make_staff("browser-assessor", Role.ASSESSOR, sites=["BAL"]))
    page.goto(f"/assessments/participants/{participant.pk}/baseline/PSP/")
    for domain, rating in (("PSP_A", "2"), ("PSP_B", "3"), ("PSP_C", "2"), ("PSP_D", "4")):
        page.select_option(f"#id-{domain}", rating)
    # d = 4 (marked) gives 31–40 whatever the other three are.
    page.locator("#psp-interval strong", has_text="31–40").wait_for()
    page.wait_for_load_state("networkidle")
    assert page.console_problems == []
