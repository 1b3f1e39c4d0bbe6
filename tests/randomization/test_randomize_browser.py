"""The coordinator's randomisation in a real browser: summary, confirm, a double click on the
button, the result page. One allocation, and the arm appears only on the result page."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connections

from imrtrial.roles import Role
from randomization.models import Allocation
from tests.factories import make_allocation_lists, make_staff
from tests.randomization.conftest import ready_participant

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def page(live_server: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed")
    # Playwright's sync API runs an event loop in this thread; the test still uses the ORM.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        yield browser.new_page()
        browser.close()


def test_a_double_click_on_randomise_gives_one_allocation_shown_after_commit(
    live_server: Any, page: Any, eager_celery: None
) -> None:
    # Playwright's sync API switches greenlets, and Django keys connections by context: the
    # ORM calls below get a connection of their own, closed here so the test database can go.
    try:
        check_randomisation_in_the_browser(live_server, page)
    finally:
        connections.close_all()


def check_randomisation_in_the_browser(live_server: Any, page: Any) -> None:
    call_command("setup_trial", stdout=open(os.devnull, "w"))  # noqa: SIM115
    make_allocation_lists(per_site=12)
    coordinator = make_staff("coordinator-BAL", Role.COORDINATOR, sites=["BAL"])
    coordinator.set_password("A-long-test-password-1")
    coordinator.save()
    participant = ready_participant("BAL", user=coordinator)

    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "coordinator-BAL")
    page.fill("input[name=password]", "A-long-test-password-1")
    page.click("main button[type=submit]")
    page.goto(f"{live_server.url}/participants/{participant.pk}/")
    page.click("text=Randomise…")
    summary = page.content()
    assert "Eligible" in summary and "Complete" in summary
    assert "Treatment as usual" not in summary and "IMR + treatment" not in summary
    page.check("#id_confirm")
    page.dblclick("form[data-once] button[type=submit]")
    page.wait_for_url(f"**/randomisation/participants/{participant.pk}/result/")
    allocation = Allocation.objects.get(participant=participant)
    result = page.content()
    assert allocation.get_arm_display() in result
    assert allocation.randomization_code in result
    assert Allocation.objects.count() == 1
