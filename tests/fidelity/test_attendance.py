from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from fidelity import services
from fidelity.models import Attendance, GroupSession
from tests.factories import api_client, imr_participant, make_imr_group
from trial.audit import event_model
from trial.models import DatasetLock


@pytest.fixture
def group_with_members(staff):
    group = make_imr_group("BAL", start_date=timezone.localdate() - timedelta(days=14))
    members = [imr_participant("BAL") for _ in range(3)]
    for participant in members:
        services.membership_add(user=staff.coordinator, group=group, participant_id=participant.pk)
    session = services.session_add(
        user=staff.instructor, group=group, date=timezone.localdate(), module=1
    )
    return group, members, session


def test_saving_attendance_lists_every_member_present_or_absent(staff, group_with_members) -> None:
    _, (a, b, c), session = group_with_members
    response = api_client(staff.instructor).put(
        f"/api/v1/sessions/{session.pk}/attendance/", {"present": [a.pk, c.pk]}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["present"] == [a.pk, c.pk]
    assert {m["participant"]: m["present"] for m in body["members"]} == {
        a.pk: True,
        b.pk: False,
        c.pk: True,
    }
    assert body["session"]["status"] == "held"
    assert body["session"]["present_count"] == 2
    assert Attendance.objects.filter(session=session).count() == 3


def test_attendance_is_only_for_members_and_a_bad_list_writes_nothing(
    staff, group_with_members
) -> None:
    _, (a, _, _), session = group_with_members
    outsider = imr_participant("BAL")
    response = api_client(staff.instructor).put(
        f"/api/v1/sessions/{session.pk}/attendance/",
        {"present": [a.pk, outsider.pk]},
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {
        "present": [f"Participant {outsider.pk} is not a member of this group."]
    }
    assert not Attendance.objects.exists()
    assert GroupSession.objects.get(pk=session.pk).status == "planned"


def test_the_database_refuses_attendance_of_a_non_member(staff, group_with_members) -> None:
    from django.db import IntegrityError, transaction

    _, _, session = group_with_members
    outsider = imr_participant("BAL")
    with pytest.raises(IntegrityError), transaction.atomic():
        Attendance.objects.create(
            session=session, participant=outsider, present=True, recorded_by=staff.instructor
        )


def test_a_correction_is_audited_with_its_reason_and_shown_in_the_history(
    staff, group_with_members
) -> None:
    _, (a, b, _), session = group_with_members
    client = api_client(staff.instructor)
    client.put(f"/api/v1/sessions/{session.pk}/attendance/", {"present": [a.pk]}, format="json")
    corrected = client.put(
        f"/api/v1/sessions/{session.pk}/attendance/",
        {"present": [a.pk, b.pk], "reason": "Came late, signed the list"},
        format="json",
    )
    assert corrected.status_code == 200
    event = event_model(Attendance).objects.get(pgh_label="update")
    assert event.participant_id == b.pk and event.present is True
    assert event.pgh_context["reason"] == "Came late, signed the list"
    assert event.pgh_context["user"] == staff.instructor.pk
    history = corrected.json()["corrections"]
    assert history == [
        {
            "participant": b.pk,
            "study_id": b.study_id,
            "to": True,
            "at": history[0]["at"],
            "by": "instr-bal",
            "reason": "Came late, signed the list",
            "from": False,
        }
    ]


def test_a_correction_without_a_real_reason_is_refused_and_changes_nothing(
    staff, group_with_members
) -> None:
    _, (a, _, _), session = group_with_members
    client = api_client(staff.instructor)
    url = f"/api/v1/sessions/{session.pk}/attendance/"
    client.put(url, {"present": [a.pk]}, format="json")
    for reason in ("", "   ", "-", "..."):
        answer = client.put(url, {"present": [], "reason": reason}, format="json")
        assert answer.status_code == 400 and "reason" in answer.json()
    assert not event_model(Attendance).objects.filter(pgh_label="update").exists()
    assert Attendance.objects.get(session=session, participant=a).present is True
    # Saving the same attendance again is no correction and needs none.
    assert client.put(url, {"present": [a.pk]}, format="json").status_code == 200


def test_a_save_over_a_newer_one_is_a_conflict(staff, group_with_members) -> None:
    _, (a, b, _), session = group_with_members
    phone, laptop = api_client(staff.instructor), api_client(staff.instructor2)
    seen = phone.get(f"/api/v1/sessions/{session.pk}/attendance/").json()["session"][
        "attendance_version"
    ]
    laptop.put(f"/api/v1/sessions/{session.pk}/attendance/", {"present": [a.pk]}, format="json")
    stale = phone.put(
        f"/api/v1/sessions/{session.pk}/attendance/",
        {"present": [b.pk], "version": seen},
        format="json",
    )
    assert stale.status_code == 409
    assert list(
        Attendance.objects.filter(present=True).values_list("participant_id", flat=True)
    ) == [a.pk]


def test_attendance_cannot_be_recorded_before_the_session_day(staff, group_with_members) -> None:
    group, (a, _, _), _ = group_with_members
    tomorrow = services.session_add(
        user=staff.instructor, group=group, date=timezone.localdate() + timedelta(days=1), module=1
    )
    response = api_client(staff.instructor).put(
        f"/api/v1/sessions/{tomorrow.pk}/attendance/", {"present": [a.pk]}, format="json"
    )
    assert response.status_code == 400
    assert not Attendance.objects.exists()


def test_a_cancelled_session_has_no_attendance(staff, group_with_members) -> None:
    _, (a, _, _), session = group_with_members
    services.session_cancel(user=staff.instructor, session=session, reason="Ill")
    response = api_client(staff.instructor).put(
        f"/api/v1/sessions/{session.pk}/attendance/", {"present": [a.pk]}, format="json"
    )
    assert response.status_code == 400
    assert not Attendance.objects.exists()


def test_who_ran_the_session_is_recorded_with_the_attendance(staff, group_with_members) -> None:
    _, (a, _, _), session = group_with_members
    response = api_client(staff.instructor).put(
        f"/api/v1/sessions/{session.pk}/attendance/",
        {"present": [a.pk], "instructors_present": [staff.instructor.pk, staff.instructor3.pk]},
        format="json",
    )
    assert {i["username"] for i in response.json()["session"]["instructors_present"]} == {
        "instr-bal",
        "instr3-bal",
    }


def test_a_locked_database_refuses_attendance_with_409(staff, group_with_members) -> None:
    _, (a, _, _), session = group_with_members
    DatasetLock.objects.create(level="lock", reason="Final analysis", set_by=staff.statistician)
    response = api_client(staff.instructor).put(
        f"/api/v1/sessions/{session.pk}/attendance/", {"present": [a.pk]}, format="json"
    )
    assert response.status_code == 409
    assert not Attendance.objects.exists()


def test_only_instructors_record_attendance(staff, group_with_members) -> None:
    _, (a, _, _), session = group_with_members
    for user in (staff.coordinator, staff.statistician, staff.clinician, staff.rater1):
        response = api_client(user).put(
            f"/api/v1/sessions/{session.pk}/attendance/", {"present": [a.pk]}, format="json"
        )
        assert response.status_code == 403, user
    other_site = api_client(staff.instructor_gla).put(
        f"/api/v1/sessions/{session.pk}/attendance/", {"present": [a.pk]}, format="json"
    )
    assert other_site.status_code == 404
    assert not Attendance.objects.exists()
