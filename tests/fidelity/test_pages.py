from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from fidelity import scale, services
from fidelity.models import Attendance, FidelityRating, GroupMembership, GroupSession, ImrGroup
from tests.factories import imr_participant, make_imr_group, page_client
from trial.audit import event_model


def _checked(html: str, item: str) -> list[str]:
    """The values ticked for one item of a rating form."""
    return re.findall(rf'name="{item}" value="(\d)" id="[^"]+" checked', html)


def _login(user) -> Client:
    return page_client(user)


@pytest.fixture
def today_session(staff):
    group = make_imr_group(
        "BAL",
        name="Wednesday group",
        start_date=timezone.localdate() - timedelta(weeks=2),
        instructors=[staff.instructor, staff.instructor2],
    )
    members = [imr_participant("BAL") for _ in range(2)]
    for participant in members:
        services.membership_add(user=staff.coordinator, group=group, participant_id=participant.pk)
    session = services.session_add(
        user=staff.instructor, group=group, date=timezone.localdate(), module=3
    )
    return group, members, session


def test_the_instructor_finds_todays_session_on_the_groups_page(staff, today_session) -> None:
    _, _, session = today_session
    html = _login(staff.instructor).get("/imr/").content.decode()
    assert "Today&#x27;s sessions" in html or "Today's sessions" in html
    assert f"/imr/sessions/{session.pk}/" in html and "Record attendance" in html


def test_the_attendance_page_lists_every_member_unmarked_until_tapped(staff, today_session) -> None:
    _, members, session = today_session
    response = _login(staff.instructor).get(f"/imr/sessions/{session.pk}/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "The Stress-Vulnerability Model" in html
    assert 'id="all-present"' in html
    for participant in members:
        assert participant.study_id in html
        assert f'name="p_{participant.pk}" value="absent">' in html
        assert f'name="p_{participant.pk}" value="present">' in html
    assert " checked" not in html.split('id="attendance"')[1].split("instructors")[0]
    assert 'hx-post="/imr/sessions/' in html
    assert "<script>" not in html and "onclick" not in html  # CSP: no inline script


def test_saving_through_htmx_answers_with_the_updated_form(staff, today_session) -> None:
    _, (a, b), session = today_session
    client = _login(staff.instructor)
    page = client.get(f"/imr/sessions/{session.pk}/").content.decode()
    # The group's own instructors come ticked: the browser sends them back with the list.
    ticked = re.findall(r'name="instructors" value="(\d+)" checked', page)
    assert sorted(map(int, ticked)) == sorted([staff.instructor.pk, staff.instructor2.pk])
    response = client.post(
        f"/imr/sessions/{session.pk}/",
        {f"p_{a.pk}": "present", f"p_{b.pk}": "absent", "version": "0", "instructors": ticked},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Saved: 1 of 2 present." in html
    assert "<html" not in html  # a fragment for htmx to swap in
    assert Attendance.objects.get(participant=a).present is True
    assert Attendance.objects.get(participant=b).present is False
    assert set(GroupSession.objects.get(pk=session.pk).instructors_present.all()) == {
        staff.instructor,
        staff.instructor2,
    }


def test_a_stale_page_is_told_to_reload_and_keeps_what_was_tapped(staff, today_session) -> None:
    _, (a, b), session = today_session
    services.attendance_record(user=staff.instructor2, session=session, present=[b.pk])
    response = _login(staff.instructor).post(
        f"/imr/sessions/{session.pk}/",
        {f"p_{a.pk}": "present", f"p_{b.pk}": "absent", "version": "0"},
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert "reload" in html
    assert f'name="p_{a.pk}" value="present" checked' in html
    assert Attendance.objects.get(participant=a).present is False


def test_a_save_with_a_member_unmarked_is_refused_and_writes_nothing(staff, today_session) -> None:
    _, (a, _b), session = today_session
    response = _login(staff.instructor).post(
        f"/imr/sessions/{session.pk}/", {f"p_{a.pk}": "present", "version": "0"}
    )
    assert response.status_code == 400
    assert "1 member is not marked" in response.content.decode()
    assert not Attendance.objects.exists()


def test_a_correction_on_the_page_keeps_its_reason(staff, today_session) -> None:
    _, (a, b), session = today_session
    client = _login(staff.instructor)
    client.post(
        f"/imr/sessions/{session.pk}/",
        {f"p_{a.pk}": "present", f"p_{b.pk}": "absent", "version": "0"},
    )
    page = client.get(f"/imr/sessions/{session.pk}/").content.decode()
    assert 'name="reason"' in page
    refused = client.post(
        f"/imr/sessions/{session.pk}/",
        {f"p_{a.pk}": "present", f"p_{b.pk}": "present", "version": "1", "reason": " "},
    )
    assert refused.status_code == 400 and "needs a reason" in refused.content.decode()
    assert Attendance.objects.get(participant=b).present is False
    response = client.post(
        f"/imr/sessions/{session.pk}/",
        {f"p_{a.pk}": "present", f"p_{b.pk}": "present", "version": "1", "reason": "Late arrival"},
    )
    assert response.status_code == 302
    event = event_model(Attendance).objects.get(pgh_label="update")
    assert event.pgh_context["reason"] == "Late arrival"
    assert "Late arrival" in client.get(f"/imr/sessions/{session.pk}/").content.decode()


def test_a_refused_correction_keeps_the_reason_typed_for_it(staff, today_session) -> None:
    _, (a, b), session = today_session
    services.attendance_record(user=staff.instructor2, session=session, present=[b.pk])
    services.attendance_record(
        user=staff.instructor2,
        session=session,
        present=[a.pk, b.pk],
        version=1,
        reason="Came late",
    )
    response = _login(staff.instructor).post(  # from a page that still shows version 1
        f"/imr/sessions/{session.pk}/",
        {f"p_{a.pk}": "absent", f"p_{b.pk}": "present", "version": "1", "reason": "Left early"},
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert "reload" in html
    assert 'name="reason" value="Left early"' in html
    assert Attendance.objects.get(participant=a).present is True


def test_a_coordinator_reads_attendance_but_cannot_save_it(staff, today_session) -> None:
    _, (a, _), session = today_session
    client = _login(staff.coordinator)
    html = client.get(f"/imr/sessions/{session.pk}/").content.decode()
    assert "Save attendance" not in html and " disabled" in html
    assert client.post(f"/imr/sessions/{session.pk}/", {f"p_{a.pk}": "present"}).status_code == 403
    assert not Attendance.objects.exists()


def test_a_group_created_on_its_page_keeps_what_was_typed_when_refused(staff) -> None:
    make_imr_group("BAL", name="Monday group")
    client = _login(staff.coordinator)
    form = {
        "site": "BAL",
        "name": "Monday group",
        "start_date": "2026-03-02",
        "capacity": "9",
        "instructors": [staff.instructor.pk, staff.instructor2.pk],
    }
    refused = client.post("/imr/groups/new/", form)
    assert refused.status_code == 400
    html = refused.content.decode()
    assert "already has a group called" in html and 'value="2026-03-02"' in html
    form["name"] = "Tuesday group"
    created = client.post("/imr/groups/new/", form)
    assert created.status_code == 302
    group = ImrGroup.objects.get(name="Tuesday group")
    assert group.capacity == 9 and set(group.instructors.all()) == {
        staff.instructor,
        staff.instructor2,
    }


def test_only_imr_participants_of_the_site_are_offered_and_added_on_the_group_page(staff) -> None:
    group = make_imr_group("BAL")
    imr, tau, other_site = (
        imr_participant("BAL"),
        imr_participant("BAL", arm="TAU"),
        imr_participant("GLA"),
    )
    client = _login(staff.coordinator)
    html = client.get(f"/imr/groups/{group.pk}/").content.decode()
    assert imr.study_id in html and tau.study_id not in html and other_site.study_id not in html
    refused = client.post(f"/imr/groups/{group.pk}/members/", {"participant": tau.pk})
    assert refused.status_code == 400 and not GroupMembership.objects.exists()
    added = client.post(f"/imr/groups/{group.pk}/members/", {"participant": imr.pk})
    assert added.status_code == 302
    assert GroupMembership.objects.get().participant == imr


# Nine months from 2 February 2026 is 273 days: 39 weekly sessions. The day is fixed because the
# number of weeks in nine months depends on the months (from 7 December it is 40).
@time_machine.travel(datetime(2026, 2, 2, 9, 0, tzinfo=ZoneInfo("Europe/Copenhagen")), tick=False)
def test_the_schedule_is_generated_and_a_session_edited_from_the_pages(staff) -> None:
    group = make_imr_group("BAL", start_date=timezone.localdate())
    client = _login(staff.instructor)
    assert client.post(f"/imr/groups/{group.pk}/schedule/").status_code == 302
    sessions = list(GroupSession.objects.filter(group=group).order_by("date"))
    assert len(sessions) == 39
    second = sessions[1]
    new_date = second.date + timedelta(days=1)
    moved = client.post(
        f"/imr/sessions/{second.pk}/edit/",
        {"date": new_date.isoformat(), "module": "2", "reason": "Holiday"},
    )
    assert moved.status_code == 302
    second.refresh_from_db()
    assert (second.date, second.module) == (new_date, 2)
    assert (
        client.post(f"/imr/sessions/{sessions[2].pk}/cancel/", {"reason": "Ill"}).status_code == 302
    )
    assert GroupSession.objects.get(pk=sessions[2].pk).status == "cancelled"


def test_the_consensus_form_starts_from_the_items_the_raters_agree_on(staff) -> None:
    group = make_imr_group("BAL", name="Rated group")
    r1 = {code: 4 for code in scale.ITEM_CODES}
    r2 = r1 | {"FID_3": 2}
    rater1 = _login(staff.rater1)
    posted = {"rater_kind": "rater1", "rated_on": timezone.localdate().isoformat(), **r1}
    assert rater1.post(f"/imr/fidelity/{group.pk}/midway/", posted).status_code == 302
    services.rating_submit(
        user=staff.rater2, group=group, timepoint="midway", rater_kind="rater2", items=r2
    )
    html = rater1.get(f"/imr/fidelity/{group.pk}/midway/").content.decode()
    assert "Consensus rating" in html and "1 item differ" in html
    assert _checked(html, "FID_1") == ["4"]
    assert _checked(html, "FID_3") == []  # the raters settle the discrepant item together
    consensus = {"rater_kind": "consensus", "rated_on": timezone.localdate().isoformat(), **r1}
    assert rater1.post(f"/imr/fidelity/{group.pk}/midway/", consensus).status_code == 302
    assert FidelityRating.objects.get(rater_kind="consensus").band == "high"


def test_an_incomplete_rating_on_the_page_names_the_missing_items_and_keeps_the_rest(staff) -> None:
    group = make_imr_group("BAL")
    client = _login(staff.rater1)
    posted = {"rater_kind": "rater1", "rated_on": timezone.localdate().isoformat(), "FID_1": "5"}
    response = client.post(f"/imr/fidelity/{group.pk}/midway/", posted)
    assert response.status_code == 400
    html = response.content.decode()
    assert html.count("all 13 items are required") == 12
    assert _checked(html, "FID_1") == ["5"]
    assert not FidelityRating.objects.exists()


def test_the_exposure_and_fidelity_overviews_render_for_the_statistician(
    staff, today_session
) -> None:
    client = _login(staff.statistician)
    exposure = client.get("/imr/exposure/")
    assert exposure.status_code == 200 and "Wednesday group" in exposure.content.decode()
    fidelity = client.get("/imr/fidelity/")
    assert fidelity.status_code == 200 and "Wednesday group" in fidelity.content.decode()


def test_the_fidelity_overview_names_timepoints_and_rater_slots_in_words(staff) -> None:
    group = make_imr_group("BAL", name="Rated group")
    services.rating_submit(
        user=staff.rater1,
        group=group,
        timepoint="midway",
        rater_kind="rater1",
        items={code: 4 for code in scale.ITEM_CODES},
    )
    html = _login(staff.rater1).get("/imr/fidelity/").content.decode()
    text = re.sub(r"<[^>]+>", " ", html)
    assert "Midway (about 4 months)" in text and "End of the group" in text
    assert "you: Rater 1" in text and "rater1" not in text
    assert not re.search(r">\s*(midway|end)\s*<", html)  # a table cell with a bare code


def test_a_locked_database_is_explained_in_place_on_the_attendance_form(
    staff, today_session
) -> None:
    from trial.models import DatasetLock

    _, (a, b), session = today_session
    DatasetLock.objects.create(level="lock", reason="Final analysis", set_by=staff.statistician)
    response = _login(staff.instructor).post(
        f"/imr/sessions/{session.pk}/",
        {f"p_{a.pk}": "present", f"p_{b.pk}": "absent", "version": "0"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "locked" in html and 'id="attendance"' in html
    assert not Attendance.objects.exists()


@time_machine.travel(datetime(2026, 2, 2, 9, 0, tzinfo=ZoneInfo("Europe/Copenhagen")), tick=False)
def test_a_danish_instructor_reads_the_schedules_dates_as_dd_mm_yyyy(staff) -> None:
    from accounts.models import AccountPreference

    AccountPreference.objects.create(user=staff.instructor, language="da")
    group = make_imr_group("BAL", start_date=timezone.localdate())
    client = _login(staff.instructor)
    page = client.post(f"/imr/groups/{group.pk}/schedule/", follow=True).content.decode()
    assert "39 ugentlige sessioner planlagt fra 02-02-2026." in page
    assert "man 02-02-2026" in page  # the session list: weekday and dd-mm-åååå
    assert "2026-02-09" not in page  # no ISO date in the text
    third = GroupSession.objects.filter(group=group).order_by("date")[2]
    page = client.post(
        f"/imr/sessions/{third.pk}/cancel/", {"reason": "Syg"}, follow=True
    ).content.decode()
    assert "Sessionen den 16-02-2026 er aflyst." in page
