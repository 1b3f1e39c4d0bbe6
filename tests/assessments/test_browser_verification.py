"""In a real browser (issue 10, "monitors"): the source-data verification worklist lists the
complete forms not yet verified, oldest first; a monitor opens the oldest, verifies two of its
fields (the worklist counts them), then the whole form, and it leaves the worklist."""

from __future__ import annotations

import re
from typing import Any

import pytest

from assessments.models import FieldVerification, InstrumentResponse, ResponseStatus
from tests.assessments.helpers import put_form, typical_items
from tests.factories import make_participant, make_staff
from trial.roles import Role

pytestmark = pytest.mark.browser


def test_a_monitor_works_through_the_verification_worklist(
    sites: dict, page: Any, log_in: Any
) -> None:
    from playwright.sync_api import expect

    assessor = make_staff("sdv-assessor", Role.ASSESSOR, sites=["BAL"])
    first, second = make_participant("BAL"), make_participant("BAL")
    for participant in (first, second):  # saved in this order: `first` is the oldest
        saved = put_form(assessor, participant, "baseline", "HAMD6", typical_items("HAMD6"))
        assert saved.status_code in (200, 201), saved.content
    oldest = InstrumentResponse.objects.get(participant=first, instrument="HAMD6")

    log_in(make_staff("sdv-monitor", Role.MONITOR))
    page.get_by_role("link", name="Verification").first.click()
    rows = page.locator("#sdv-forms tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text(first.study_id)
    expect(rows.nth(1)).to_contain_text(second.study_id)
    expect(page.locator("#sdv-sites")).to_contain_text("BAL")

    # Field by field: tick two items and mark them; the worklist counts them.
    rows.first.get_by_role("link").click()
    expect(page).to_have_url(re.compile(rf"/assessments/participants/{first.pk}/baseline/HAMD6/$"))
    ticks = page.locator('input[type="checkbox"][form="verify-fields"]')
    ticks.nth(0).check()
    ticks.nth(1).check()
    page.get_by_role("button", name=re.compile("Mark the ticked fields")).click()
    expect(page.locator(".field-verified")).to_have_count(2)
    assert FieldVerification.objects.filter(response=oldest).count() == 2
    page.goto("/assessments/verification/")
    expect(page.locator(f'#sdv-forms tr[data-response="{oldest.pk}"] td').last).to_have_text("2")

    # The whole form: it leaves the worklist; the other stays.
    page.locator(f'#sdv-forms tr[data-response="{oldest.pk}"]').get_by_role("link").click()
    with page.expect_navigation():
        page.get_by_role("button", name=re.compile("as source-verified")).last.click()
    page.goto("/assessments/verification/")
    expect(page.locator("#sdv-forms tbody tr")).to_have_count(1)
    expect(page.locator("#sdv-forms tbody tr")).to_contain_text(second.study_id)
    oldest.refresh_from_db()
    assert oldest.status == ResponseStatus.VERIFIED
    assert page.console_problems == []
