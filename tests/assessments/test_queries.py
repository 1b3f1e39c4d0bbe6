"""The query loop: raise, answer, close, re-open; audited; workable while frozen, read-only
after lock; counted for the lock decision."""

from __future__ import annotations

from typing import Any

import pytest

from assessments.models import Query, QueryMessage, QueryStatus
from assessments.selectors import open_query_count
from tests.assessments.helpers import form_url, put_form, typical_items
from tests.factories import api_client, make_participant, make_staff, page_client
from trial.audit import events_of
from trial.models import DatasetLock
from trial.roles import Role


@pytest.fixture
def saved_panss(assessor: Any, participant: Any) -> Any:
    response = put_form(assessor, participant, "baseline", "PANSS", typical_items("PANSS"))
    assert response.status_code == 201
    return participant


def raise_query(user: Any, participant: Any, item: str = "P3", message: str = "Check P3") -> Any:
    return api_client(user).post(
        form_url(participant, "baseline", "PANSS") + "queries/",
        {"item": item, "message": message},
        format="json",
    )


def test_a_query_goes_from_raised_to_answered_to_closed_with_every_step_audited(
    saved_panss: Any, data_manager: Any, assessor: Any
) -> None:
    raised = raise_query(data_manager, saved_panss)
    assert raised.status_code == 201, raised.json()
    query_id = raised.json()["id"]
    assert raised.json()["status"] == "open"
    answered = api_client(assessor).post(
        f"/api/v1/queries/{query_id}/answer/",
        {"text": "Rated from the interview notes"},
        format="json",
    )
    assert answered.status_code == 200
    assert answered.json()["status"] == "answered"
    closed = api_client(data_manager).post(
        f"/api/v1/queries/{query_id}/close/", {"text": "Fine"}, format="json"
    )
    assert closed.json()["status"] == "closed"
    reopened = api_client(data_manager).post(
        f"/api/v1/queries/{query_id}/reopen/", {"text": "Source says 4"}, format="json"
    )
    assert reopened.json()["status"] == "open"
    assert [m["action"] for m in reopened.json()["messages"]] == [
        "raised",
        "answered",
        "closed",
        "reopened",
    ]
    query = Query.objects.get()
    assert [e.status for e in events_of(query).order_by("pgh_id")] == [
        "open",
        "answered",
        "closed",
        "open",
    ]
    last = events_of(query).order_by("pgh_id").last()
    assert last is not None and last.pgh_context["reason"] == "Source says 4"


def test_only_data_managers_raise_close_and_reopen(
    saved_panss: Any, data_manager: Any, assessor: Any, monitor: Any
) -> None:
    assert raise_query(assessor, saved_panss).status_code == 403
    assert raise_query(monitor, saved_panss).status_code == 403
    query_id = raise_query(data_manager, saved_panss).json()["id"]
    for user in (assessor, monitor):
        close = api_client(user).post(f"/api/v1/queries/{query_id}/close/", {}, format="json")
        assert close.status_code == 403
    assert Query.objects.get().status == QueryStatus.OPEN


def test_a_query_needs_a_real_field_and_a_message(saved_panss: Any, data_manager: Any) -> None:
    bad = raise_query(data_manager, saved_panss, item="Q99", message="")
    assert bad.status_code == 400
    assert set(bad.json()) == {"item", "message"}
    assert raise_query(data_manager, saved_panss, item="interview_date").status_code == 201
    assert raise_query(data_manager, saved_panss, item="").status_code == 201


def test_staff_of_another_site_neither_see_nor_answer(saved_panss: Any, data_manager: Any) -> None:
    query_id = raise_query(data_manager, saved_panss).json()["id"]
    other = make_staff("assessor-gla", Role.ASSESSOR, sites=["GLA"])
    assert api_client(other).get(f"/api/v1/queries/{query_id}/").status_code == 404
    response = api_client(other).post(
        f"/api/v1/queries/{query_id}/answer/", {"text": "x"}, format="json"
    )
    assert response.status_code == 404
    assert api_client(other).get("/api/v1/queries/").json()["results"] == []


def test_queries_stay_answerable_while_frozen_and_read_only_after_lock(
    saved_panss: Any, data_manager: Any, assessor: Any
) -> None:
    query_id = raise_query(data_manager, saved_panss).json()["id"]
    DatasetLock.objects.create(level="freeze", reason="Cleaning", set_by=data_manager)
    answer = api_client(assessor).post(
        f"/api/v1/queries/{query_id}/answer/", {"text": "Checked"}, format="json"
    )
    assert answer.status_code == 200
    assert raise_query(data_manager, saved_panss, item="P4").status_code == 201
    close = api_client(data_manager).post(f"/api/v1/queries/{query_id}/close/", {}, format="json")
    assert close.status_code == 200
    DatasetLock.objects.create(level="lock", reason="Final", set_by=data_manager)
    reopen = api_client(data_manager).post(
        f"/api/v1/queries/{query_id}/reopen/", {"text": "again"}, format="json"
    )
    assert reopen.status_code == 409
    assert raise_query(data_manager, saved_panss, item="P5").status_code == 409
    assert Query.objects.get(pk=query_id).status == QueryStatus.CLOSED


def test_open_query_count_counts_open_and_answered_queries(
    saved_panss: Any, data_manager: Any, assessor: Any
) -> None:
    assert open_query_count() == 0
    first = raise_query(data_manager, saved_panss).json()["id"]
    raise_query(data_manager, saved_panss, item="P4")
    api_client(assessor).post(f"/api/v1/queries/{first}/answer/", {"text": "ok"}, format="json")
    assert open_query_count() == 2
    api_client(data_manager).post(f"/api/v1/queries/{first}/close/", {}, format="json")
    assert open_query_count() == 1


def test_query_messages_cannot_be_changed(saved_panss: Any, data_manager: Any) -> None:
    from django.db import DatabaseError, transaction

    raise_query(data_manager, saved_panss)
    with pytest.raises(DatabaseError), transaction.atomic():
        QueryMessage.objects.update(text="rewritten")


def test_queries_on_the_clinicians_form_are_hidden_from_assessors(
    clinician: Any, assessor: Any, data_manager: Any, sites: dict
) -> None:
    participant = make_participant("BAL")
    put_form(clinician, participant, "baseline", "IMRS_C", typical_items("IMRS_C"))
    raised = api_client(data_manager).post(
        form_url(participant, "baseline", "IMRS_C") + "queries/",
        {"item": "interview_date", "message": "Date?"},
        format="json",
    )
    assert raised.status_code == 201
    query_id = raised.json()["id"]
    assert api_client(assessor).get(f"/api/v1/queries/{query_id}/").status_code == 404
    assert (
        api_client(clinician)
        .post(
            f"/api/v1/queries/{query_id}/answer/",
            {"text": "Interview on the date given"},
            format="json",
        )
        .status_code
        == 200
    )


def test_the_query_list_filters_by_site_status_and_participant(
    saved_panss: Any, data_manager: Any
) -> None:
    raise_query(data_manager, saved_panss)
    client = api_client(data_manager)
    assert client.get("/api/v1/queries/?site=BAL").json()["count"] == 1
    assert client.get("/api/v1/queries/?site=GLA").json()["results"] == []
    assert (
        client.get(f"/api/v1/queries/?participant={saved_panss.pk}&status=open").json()["count"]
        == 1
    )
    assert client.get("/api/v1/queries/?status=closed").json()["results"] == []


def test_the_data_manager_sees_how_often_the_mhrm_spirituality_items_are_skipped(
    assessor: Any, data_manager: Any, sites: dict
) -> None:

    skipped = typical_items("MHRM")
    del skipped["MHRM_25"]
    put_form(
        assessor,
        make_participant("BAL"),
        "baseline",
        "MHRM",
        skipped,
        missing={"MHRM_25": "refused"},
    )
    put_form(assessor, make_participant("BAL"), "baseline", "MHRM", typical_items("MHRM"))
    client = page_client(data_manager)
    page = client.get("/assessments/queries/").content.decode()
    assert "skipped in 1 of 2 completed MHRM forms" in page
