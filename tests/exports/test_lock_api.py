"""Freeze, lock and unlock over the API (API.md, "Locks and exports")."""

from __future__ import annotations

from typing import Any

import pytest

from exports import selectors
from tests.factories import api_client, make_staff
from trial.audit import event_model
from trial.models import DatasetLock
from trial.roles import Role
from trial.selectors import lock_level


def post_lock(user: Any, **body: Any) -> Any:
    return api_client(user).post("/api/v1/locks/", body, format="json")


def post_unlock(user: Any, **body: Any) -> Any:
    return api_client(user).post("/api/v1/locks/unlock/", body, format="json")


def test_a_data_manager_freezes_the_database_with_a_reason(dm: Any) -> None:
    response = post_lock(dm, level="freeze", reason="Final data cleaning")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["level"] == "freeze"
    assert body["reason"] == "Final data cleaning"
    assert body["set_by"] == dm.username
    latest = DatasetLock.objects.get()
    assert (latest.level, latest.set_by, latest.reason) == ("freeze", dm, "Final data cleaning")


def test_a_statistician_locks_then_unlocks_and_the_log_keeps_every_step(statistician: Any) -> None:
    assert post_lock(statistician, level="lock", reason="Primary analysis").status_code == 201
    response = post_unlock(statistician, reason="Correction of a GAF entry approved by the TSC")
    assert response.status_code == 200, response.content
    assert response.json()["level"] == "open"
    history = response.json()["history"]
    assert [entry["level"] for entry in history] == ["open", "lock"]
    assert history[0]["reason"] == "Correction of a GAF entry approved by the TSC"


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_every_change_needs_a_reason_and_without_one_nothing_is_written(
    dm: Any, reason: str | None
) -> None:
    body = {"level": "lock"} | ({} if reason is None else {"reason": reason})
    response = api_client(dm).post("/api/v1/locks/", body, format="json")
    assert response.status_code == 400
    assert "reason" in response.json()
    assert not DatasetLock.objects.exists()


def test_unlocking_needs_a_reason_too(dm: Any) -> None:
    post_lock(dm, level="lock", reason="Lock")
    response = post_unlock(dm, reason=" ")
    assert response.status_code == 400
    assert "reason" in response.json()
    assert lock_level() == "lock"


def test_an_unknown_level_is_refused(dm: Any) -> None:
    response = post_lock(dm, level="seal", reason="x")
    assert response.status_code == 400
    assert "level" in response.json()


@pytest.mark.parametrize(
    "role", [Role.COORDINATOR, Role.ASSESSOR, Role.CLINICIAN, Role.MONITOR, Role.ADMIN]
)
def test_other_roles_may_not_freeze_lock_or_unlock(sites: dict, role: str) -> None:
    user = make_staff("someone", role)
    assert post_lock(user, level="freeze", reason="x").status_code == 403
    DatasetLock.objects.create(level="lock", reason="x", set_by=make_staff("dm", Role.DATA_MANAGER))
    assert post_unlock(user, reason="x").status_code == 403
    assert DatasetLock.objects.count() == 1


def test_anonymous_callers_get_401(sites: dict) -> None:
    assert api_client().post("/api/v1/locks/", {"level": "lock", "reason": "x"}).status_code == 401
    assert api_client().get("/api/v1/locks/").status_code == 401


@pytest.mark.parametrize(
    ("steps", "then", "body"),
    [
        (["freeze"], "lock-endpoint", {"level": "freeze"}),
        (["lock"], "lock-endpoint", {"level": "lock"}),
        (["lock"], "lock-endpoint", {"level": "freeze"}),
        ([], "unlock", {}),
        (["freeze"], "unlock", {"to": "freeze"}),
    ],
)
def test_a_transition_that_changes_nothing_or_skips_a_step_is_a_conflict(
    dm: Any, steps: list[str], then: str, body: dict
) -> None:
    for level in steps:
        assert post_lock(dm, level=level, reason="step").status_code == 201
    before = DatasetLock.objects.count()
    if then == "unlock":
        response = post_unlock(dm, reason="again", **body)
    else:
        response = post_lock(dm, reason="again", **body)
    assert response.status_code == 409, response.content
    assert "detail" in response.json()
    assert DatasetLock.objects.count() == before


def test_a_lock_steps_down_to_a_freeze_without_opening_data_entry(dm: Any) -> None:
    post_lock(dm, level="lock", reason="Lock")
    response = post_unlock(dm, reason="Late queries from the monitor", to="freeze")
    assert response.status_code == 200
    assert [row.level for row in DatasetLock.objects.order_by("id")] == ["lock", "freeze"]


def test_a_freeze_can_be_raised_to_a_lock(dm: Any) -> None:
    post_lock(dm, level="freeze", reason="Freeze")
    assert post_lock(dm, level="lock", reason="All queries resolved").status_code == 201
    assert lock_level() == "lock"


def test_locking_with_open_queries_needs_the_explicit_override(
    dm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(selectors, "open_query_count", lambda: 3)
    refused = post_lock(dm, level="lock", reason="Lock")
    assert refused.status_code == 409
    assert "3 data queries are still open" in refused.json()["detail"]
    assert not DatasetLock.objects.exists()

    allowed = post_lock(
        dm,
        level="lock",
        reason="DSMB deadline; the three open queries concern a withdrawn participant",
        override_open_queries=True,
    )
    assert allowed.status_code == 201
    lock = DatasetLock.objects.get()
    assert lock.open_queries_override is True
    assert lock.open_queries == 3


def test_freezing_with_open_queries_needs_no_override(
    dm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(selectors, "open_query_count", lambda: 2)
    assert post_lock(dm, level="freeze", reason="Freeze").status_code == 201
    assert DatasetLock.objects.get().open_queries_override is False


def test_the_open_query_count_is_the_assessments_apps_open_and_answered_queries(
    dm: Any,
) -> None:
    from assessments.models import Query, QueryKind, QueryStatus
    from tests.exports.trial import respond
    from tests.factories import make_participant

    response = respond(make_participant("BAL"), "baseline", "GAF", {"GAF_S": 40, "GAF_F": 41})
    for status in (QueryStatus.OPEN, QueryStatus.ANSWERED, QueryStatus.CLOSED):
        Query.objects.create(response=response, kind=QueryKind.MANUAL, status=status, message="?")
    assert selectors.open_query_count() == 2
    refused = post_lock(dm, level="lock", reason="Lock")
    assert refused.status_code == 409
    assert "2 data queries are still open" in refused.json()["detail"]
    assert api_client(dm).get("/api/v1/locks/").json()["open_queries"] == 2


def test_every_transition_is_audited_with_user_reason_and_request(dm: Any) -> None:
    post_lock(dm, level="freeze", reason="Freeze for cleaning")
    post_lock(dm, level="lock", reason="Lock for analysis")
    post_unlock(dm, reason="Reopen: protocol amendment")
    events = list(event_model(DatasetLock).objects.order_by("pgh_id"))
    assert [e.level for e in events] == ["freeze", "lock", "open"]
    for event, reason in zip(
        events,
        ["Freeze for cleaning", "Lock for analysis", "Reopen: protocol amendment"],
        strict=True,
    ):
        assert event.pgh_context["user"] == dm.pk
        assert event.pgh_context["reason"] == reason
        assert event.pgh_context["url"].startswith("/api/v1/locks/")


def test_the_lock_log_cannot_be_rewritten(dm: Any) -> None:
    from django.db import DatabaseError, transaction

    post_lock(dm, level="lock", reason="Lock")
    with pytest.raises(DatabaseError), transaction.atomic():
        DatasetLock.objects.update(level="open")
    with pytest.raises(DatabaseError), transaction.atomic():
        DatasetLock.objects.all().delete()
    assert lock_level() == "lock"


def test_staff_read_the_current_state(dm: Any) -> None:
    coordinator = make_staff("c", Role.COORDINATOR, sites=["BAL"])
    assert api_client(coordinator).get("/api/v1/locks/").json()["level"] == "open"
    post_lock(dm, level="freeze", reason="Cleaning")
    body = api_client(coordinator).get("/api/v1/locks/").json()
    assert (body["level"], body["reason"], body["set_by"]) == ("freeze", "Cleaning", "dm")
