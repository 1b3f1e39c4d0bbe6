"""In a real browser: the statistician asks for an unblinded export before the lock and is
told why not, locks the database with a reason, and then asks again: the export is listed as
unblinded and the session's worker takes it to the end (a job still running when the test
ends would race the test database's teardown)."""

from __future__ import annotations

from typing import Any

import pytest

from exports.models import ExportJob

pytestmark = pytest.mark.browser


def test_a_statistician_locks_the_database_and_requests_an_unblinded_export(
    statistician: Any, page: Any, log_in: Any, celery_worker: Any, outbox_relay: None
) -> None:
    from playwright.sync_api import expect

    log_in(statistician)
    page.get_by_role("link", name="Exports").first.click()
    page.get_by_label("Unblinded", exact=False).check()
    page.get_by_role("button", name="Start export").click()
    expect(page.locator("main form")).to_contain_text(
        "Unblinded exports need a locked database; it is open."
    )
    assert not ExportJob.objects.exists()

    page.get_by_role("link", name="Freeze & lock").first.click()
    lock = page.locator("section", has=page.get_by_role("heading", name="Lock the database"))
    lock.get_by_label("Reason").fill("All data cleaned; statistical analysis plan signed.")
    lock.get_by_role("button", name="Lock").click()
    expect(page.locator("#lock-state")).to_have_text("Locked")

    page.get_by_role("link", name="Exports").first.click()
    page.get_by_label("Unblinded", exact=False).check()
    page.get_by_role("button", name="Start export").click()
    expect(page.locator(".messages")).to_contain_text("The export has started")
    row = page.locator("tr[id^='job-']").first
    expect(row).to_contain_text("unblinded")
    page.locator("tr[id^='job-'] [data-status='done']").wait_for(timeout=120_000)
    job = ExportJob.objects.get()
    assert job.blinded is False and job.requested_by == statistician and job.status == "done"
    # The refusal before the lock answered 409 (the console reports it); nothing else.
    assert [p for p in page.console_problems if "409" not in p] == []
