"""An instructor logs in on a phone-sized screen and records attendance for today's session,
in Debian's chromium driven by Playwright against the live server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.utils import timezone

from fidelity import services
from fidelity.models import Attendance, GroupSession
from imrtrial.roles import Role
from imrtrial.staff import staff_save
from tests.factories import coordinator_for, imr_participant, make_imr_group

PASSWORD = "Attendance-2026!"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@contextmanager
def phone_browser() -> Iterator[tuple[Any, list[str]]]:
    """A phone-sized chromium page and the script errors / CSP violations it reports.

    The test touches the database only outside this block: Playwright's sync API keeps an
    event loop running in this thread, and Django would give ORM calls made inside it a
    connection of their own."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on(
                "console",
                lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None,
            )
            yield page, errors
        finally:
            browser.close()


@pytest.mark.browser
@pytest.mark.skipif(not os.path.exists("/usr/bin/chromium"), reason="apt-get install chromium")
def test_an_instructor_records_attendance_for_todays_session(
    transactional_db, sites, live_server, settings
) -> None:
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False  # plain-HTTP test server
    instructor = staff_save(
        username="anna", roles=[Role.INSTRUCTOR], site_codes=["BAL"], password=PASSWORD
    )
    colleague = staff_save(
        username="bo", roles=[Role.INSTRUCTOR], site_codes=["BAL"], password=PASSWORD
    )
    group = make_imr_group("BAL", name="Wednesday group", instructors=[instructor, colleague])
    came, stayed_home = imr_participant("BAL"), imr_participant("BAL")
    for participant in (came, stayed_home):
        services.membership_add(
            user=coordinator_for("BAL"), group=group, participant_id=participant.pk
        )
    session = services.session_add(
        user=instructor, group=group, date=timezone.localdate(), module=2
    )

    with phone_browser() as (page, errors):
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("#id_username", "anna")
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.get_by_role("link", name="IMR groups").first.click()
        page.locator(".cards.today a").first.click()  # today's session, one tap away
        page.wait_for_url(f"**/imr/sessions/{session.pk}/")
        page.locator(f"label[for=p{came.pk}-present]").click()
        page.get_by_role("button", name="Save attendance").click()
        page.get_by_text("Saved: 1 of 2 present.").wait_for()
        final_url = page.url

    assert final_url.endswith(f"/imr/sessions/{session.pk}/")  # htmx swapped the form in place
    recorded = dict(Attendance.objects.values_list("participant_id", "present"))
    assert recorded == {came.pk: True, stayed_home.pk: False}
    assert GroupSession.objects.get(pk=session.pk).status == "held"
    assert errors == []
