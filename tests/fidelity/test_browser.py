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
    # Nobody is absent by default: an unmarked member stops the save.
    page.get_by_text("1 member is not marked").wait_for()
    assert not Attendance.objects.exists()
    page.locator(f"label[for=p{stayed_home.pk}-absent]").click()
    page.get_by_role("button", name="Save attendance").click()
    page.get_by_text("Saved: 1 of 2 present.").wait_for()
    final_url = page.url

    assert final_url.endswith(f"/imr/sessions/{session.pk}/")  # htmx swapped the form in place
    recorded = dict(Attendance.objects.values_list("participant_id", "present"))
    assert recorded == {came.pk: True, stayed_home.pk: False}
    assert GroupSession.objects.get(pk=session.pk).status == "held"
    assert page.console_problems == []  # no script error, no CSP violation


@pytest.mark.browser
def test_an_instructor_marks_all_present_on_a_planned_session_of_today(
    sites: dict, page: Any, log_in: Any
) -> None:
    """The schedule's session of today is recorded from the group page on a 390 px phone:
    "All present", one member tapped absent; a later correction needs a reason."""
    instructor = staff_save(
        username="anna", roles=[Role.INSTRUCTOR], site_codes=["BAL"], password=PASSWORD
    )
    colleague = staff_save(
        username="bo", roles=[Role.INSTRUCTOR], site_codes=["BAL"], password=PASSWORD
    )
    group = make_imr_group(
        "BAL",
        name="A group with a rather long name for a phone screen",
        start_date=timezone.localdate(),
        instructors=[instructor, colleague],
    )
    members = [imr_participant("BAL") for _ in range(3)]
    for participant in members:
        services.membership_add(
            user=coordinator_for("BAL"), group=group, participant_id=participant.pk
        )
    services.schedule_generate(user=instructor, group=group)
    session = GroupSession.objects.get(group=group, date=timezone.localdate())
    assert session.status == "planned"

    log_in(instructor)
    page.goto("/imr/")
    # The groups table fits the phone: nothing scrolls sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.get_by_role("link", name=group.name, exact=True).click()
    page.get_by_role("link", name="Record attendance").first.click()
    page.wait_for_url(f"**/imr/sessions/{session.pk}/")
    assert page.locator("#attendance input[type=radio]:checked").count() == 0
    page.get_by_role("button", name="All present").click()
    assert page.inner_text("#present-count") == "3"
    page.locator(f"label[for=p{members[2].pk}-absent]").click()
    assert page.inner_text("#present-count") == "2"
    page.get_by_role("button", name="Save attendance").click()
    page.get_by_text("Saved: 2 of 3 present.").wait_for()
    recorded = dict(Attendance.objects.values_list("participant_id", "present"))
    assert recorded == {members[0].pk: True, members[1].pk: True, members[2].pk: False}

    # A correction without a reason is refused in place; with one it is saved.
    page.locator(f"label[for=p{members[2].pk}-present]").click()
    page.get_by_role("button", name="Save attendance").click()
    page.get_by_text("needs a reason").wait_for()
    assert Attendance.objects.get(participant=members[2]).present is False
    page.fill("#reason", "Arrived late and signed the list")
    page.get_by_role("button", name="Save attendance").click()
    page.get_by_text("Saved: 3 of 3 present (1 corrected).").wait_for()
    assert Attendance.objects.get(participant=members[2]).present is True
    assert page.console_problems == []
