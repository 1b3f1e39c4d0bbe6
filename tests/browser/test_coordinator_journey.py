"""A coordinator, on a phone-sized screen, logs in, registers a person, screens them eligible
and records consent; an administrator logs in with the second factor. Both journeys run
under the real Content-Security-Policy: any violation shows in the browser console."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from participants.eligibility import CRITERIA
from participants.forms import ScreeningForm
from participants.models import Participant, Status
from tests.factories import PASSWORD, enrol_totp, give_password, make_staff, totp_code
from trial.roles import Role

pytestmark = pytest.mark.browser


def test_a_coordinator_registers_screens_and_records_consent(
    page: Any, log_in: Any, sites: Any
) -> None:
    from playwright.sync_api import expect

    log_in(make_staff("carla", Role.COORDINATOR, sites=["BAL"]))

    page.get_by_role("link", name="Participants").first.click()
    page.get_by_role("link", name="Register a person").click()
    page.get_by_label("CPR number").fill("150482-1234")
    page.get_by_label("Female").check()
    page.get_by_role("button", name="Register").click()
    expect(page.locator(".messages")).to_contain_text("Registered as BAL-001-")
    expect(page.locator("body")).not_to_contain_text("150482-1234")
    expect(page.locator(".facts")).to_contain_text("150482-XXXX")

    page.get_by_role("link", name="Screen eligibility").click()
    page.get_by_label("Schizophrenia (F20)").check()
    for criterion in CRITERIA:
        if criterion.field in ScreeningForm.DERIVED:
            # Taken from the CPR number's birth date and shown, not asked.
            continue
        answer = "yes" if criterion.required_answer else "no"
        page.locator(f'input[name="{criterion.field}"][value="{answer}"]').check()
    page.get_by_role("button", name="Save screening").click()
    expect(page.get_by_role("heading", name="Latest result: eligible")).to_be_visible()

    page.get_by_role("link", name="Record consent").first.click()
    page.get_by_label("Date of written informed consent").fill(timezone.localdate().isoformat())
    page.get_by_role("button", name="Record consent").click()
    expect(page.locator(".messages")).to_contain_text("Consent recorded for BAL-001-")
    expect(page.locator(".timeline")).to_contain_text("Written informed consent")

    participant = Participant.objects.get()
    assert participant.status == Status.CONSENTED
    assert participant.consent_date == timezone.localdate()
    assert participant.screenings.get().eligible
    assert page.console_problems == []


def test_an_administrator_logs_in_with_a_code_and_the_admin_and_api_docs_work(
    page: Any, sites: Any
) -> None:
    from playwright.sync_api import expect

    admin = give_password(make_staff("root-admin", Role.ADMIN))
    device = enrol_totp(admin)

    page.goto("/admin/")
    page.get_by_label("Username").fill("root-admin")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Code from your authenticator app").fill(totp_code(device))
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Staff accounts and configuration")).to_be_visible()
    page.get_by_role("link", name="Users").first.click()
    page.get_by_role("link", name="root-admin").click()
    expect(page.get_by_text("Reason for this change")).to_be_visible()

    page.goto("/api/v1/docs/")
    expect(page.get_by_text("IMR trial EDC API").first).to_be_visible()
    expect(page.get_by_text("/api/v1/auth/token/").first).to_be_visible()
    assert page.console_problems == []
