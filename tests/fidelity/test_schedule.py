from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from itertools import pairwise

from fidelity.models import GroupSession, SessionStatus
from fidelity.services.sessions import months_after, weekly_plan
from tests.factories import api_client, make_imr_group


def test_nine_months_of_weekly_sessions_cover_the_eleven_modules_in_order() -> None:
    plan = weekly_plan(date(2026, 1, 6))
    # 6 Jan to 6 Oct 2026 is 273 days: sessions on day 0, 7, ..., 266.
    assert len(plan) == 39
    assert plan[0] == (date(2026, 1, 6), 1)
    assert plan[-1][0] == date(2026, 9, 29)
    assert all(b[0] - a[0] == timedelta(weeks=1) for a, b in pairwise(plan))
    modules = [module for _, module in plan]
    assert modules == sorted(modules)
    assert set(Counter(modules).values()) <= {3, 4}
    assert set(modules) == set(range(1, 12))


def test_months_after_keeps_the_day_or_takes_the_month_end() -> None:
    assert months_after(date(2026, 1, 6), 9) == date(2026, 10, 6)
    assert months_after(date(2026, 5, 31), 9) == date(2027, 2, 28)


def test_an_instructor_generates_the_schedule_from_the_start_date(staff) -> None:
    group = make_imr_group("BAL", start_date=date(2026, 1, 6))
    response = api_client(staff.instructor).post(
        f"/api/v1/groups/{group.pk}/schedule/", {}, format="json"
    )
    assert response.status_code == 201, response.content
    sessions = response.json()
    assert len(sessions) == 39
    assert sessions[0]["date"] == "2026-01-06" and sessions[0]["module"] == 1
    assert sessions[0]["module_name"] == "Recovery strategies"
    assert sessions[-1]["module"] == 11 and sessions[-1]["module_name"] == "Healthy Lifestyles"


def test_a_second_schedule_needs_replace_and_is_refused_once_a_session_was_held(staff) -> None:
    group = make_imr_group("BAL", start_date=date(2026, 1, 6))
    client = api_client(staff.instructor)
    client.post(f"/api/v1/groups/{group.pk}/schedule/", {}, format="json")
    again = client.post(f"/api/v1/groups/{group.pk}/schedule/", {}, format="json")
    assert again.status_code == 409
    replaced = client.post(
        f"/api/v1/groups/{group.pk}/schedule/",
        {"first_date": "2026-01-13", "replace": True},
        format="json",
    )
    assert replaced.status_code == 201
    assert GroupSession.objects.filter(group=group).count() == 39
    assert GroupSession.objects.filter(group=group).earliest("date").date == date(2026, 1, 13)

    first = GroupSession.objects.filter(group=group).earliest("date")
    client.put(f"/api/v1/sessions/{first.pk}/attendance/", {"present": []}, format="json")
    refused = client.post(f"/api/v1/groups/{group.pk}/schedule/", {"replace": True}, format="json")
    assert refused.status_code == 409
    assert GroupSession.objects.filter(group=group).count() == 39


def test_sessions_are_moved_cancelled_added_and_their_module_changed(staff) -> None:
    group = make_imr_group("BAL", start_date=date(2026, 1, 6))
    client = api_client(staff.instructor)
    client.post(f"/api/v1/groups/{group.pk}/schedule/", {"weeks": 3}, format="json")
    _, second, third = GroupSession.objects.filter(group=group).order_by("date")

    moved = client.patch(
        f"/api/v1/sessions/{second.pk}/",
        {"date": "2026-01-14", "module": 2, "reason": "Holiday"},
        format="json",
    )
    assert moved.status_code == 200, moved.content
    assert moved.json()["date"] == "2026-01-14" and moved.json()["module"] == 2

    clash = client.patch(f"/api/v1/sessions/{third.pk}/", {"date": "2026-01-14"}, format="json")
    assert clash.status_code == 409

    cancelled = client.post(
        f"/api/v1/sessions/{third.pk}/cancel/", {"reason": "Snow"}, format="json"
    )
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    # The cancelled day is free again for a session added in its place.
    added = client.post(
        f"/api/v1/groups/{group.pk}/sessions/",
        {"date": third.date.isoformat(), "module": 1},
        format="json",
    )
    assert added.status_code == 201, added.content
    assert GroupSession.objects.filter(group=group, status=SessionStatus.CANCELLED).count() == 1
    assert (
        GroupSession.objects.filter(group=group).exclude(status=SessionStatus.CANCELLED).count()
        == 3
    )


def test_a_module_outside_1_to_11_is_refused_and_nothing_is_written(staff) -> None:
    group = make_imr_group("BAL")
    client = api_client(staff.instructor)
    for module in (0, 12, "x"):
        response = client.post(
            f"/api/v1/groups/{group.pk}/sessions/",
            {"date": "2026-01-06", "module": module},
            format="json",
        )
        assert response.status_code == 400
        assert "module" in response.json()
    assert not GroupSession.objects.exists()


def test_a_held_session_cannot_be_cancelled(staff) -> None:
    group = make_imr_group("BAL", start_date=date(2026, 1, 6))
    client = api_client(staff.instructor)
    session = client.post(
        f"/api/v1/groups/{group.pk}/sessions/", {"date": "2026-01-06", "module": 1}, format="json"
    ).json()
    client.put(f"/api/v1/sessions/{session['id']}/attendance/", {"present": []}, format="json")
    response = client.post(f"/api/v1/sessions/{session['id']}/cancel/", {}, format="json")
    assert response.status_code == 400
    assert "took place" in response.json()["detail"]
