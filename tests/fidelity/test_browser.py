"""An instructor logs in on a phone-sized screen and records attendance for today's session,
in Debian's chromium driven by Playwright against the live server."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from fidelity import services
from fidelity.models import Attendance, GroupSession
from tests.factories import PASSWORD, coordinator_for, imr_participant, make_imr_group
from trial.roles import Role
from trial.services import staff_save


@pytest.mark.browser
def test_an_instructor_records_attendance_for_todays_session(
    sites: dict, page: Any, log_in: Any
) -> None:
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

    log_in(instructor)
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
    assert page.console_problems == []  # no script error, no CSP violation
