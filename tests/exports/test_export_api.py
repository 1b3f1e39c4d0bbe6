"""Asking for exports over the API: who may, what is checked first, and what comes back
(API.md: POST /api/v1/exports/ -> 202 {"id", "status", "url"})."""

from __future__ import annotations

from typing import Any

import pytest

from exports import queue, services
from exports.models import ExportFormat, ExportJob, MaskingKey
from tests.factories import api_client, make_staff
from trial.audit import events_of
from trial.models import OutboxMessage
from trial.roles import Role

ALL = ["csv", "sav", "dta", "parquet", "odm"]


def ask(user: Any, **body: Any) -> Any:
    return api_client(user).post("/api/v1/exports/", body, format="json")


def test_a_data_manager_starts_a_blinded_export_sent_after_the_commit(dm: Any) -> None:
    response = ask(dm, formats=ALL, blinded=True)
    assert response.status_code == 202, response.content
    body = response.json()
    assert set(body) == {"id", "status", "url"}
    assert body["status"] == "queued"
    assert body["url"].endswith(f"/api/v1/exports/{body['id']}/")
    assert response["Location"] == body["url"]
    job = ExportJob.objects.get(pk=body["id"])
    assert (job.requested_by, job.blinded, job.formats) == (dm, True, ALL)
    # Written with the job, in its transaction; the relay sends it once that has committed.
    (message,) = OutboxMessage.objects.all()
    assert (message.task, message.args, message.sent_at) == (queue.BUILD_TASK, [str(job.pk)], None)
    assert MaskingKey.objects.count() == 1
    event = events_of(job).get(pgh_label="insert")
    assert event.pgh_context["user"] == dm.pk


def test_the_defaults_are_every_format_blinded_and_english(dm: Any) -> None:
    response = ask(dm)
    assert response.status_code == 202
    job = ExportJob.objects.get(pk=response.json()["id"])
    assert job.formats == list(ExportFormat.values) and job.blinded is True
    assert job.options == {"language": "en", "odm_audit_records": False}


def test_the_options_are_kept_with_the_job(dm: Any) -> None:
    response = ask(dm, formats=["csv_excel_da", "odm"], language="da", odm_audit_records=True)
    assert response.status_code == 202, response.content
    job = ExportJob.objects.get(pk=response.json()["id"])
    assert job.formats == ["csv_excel_da", "odm"]
    assert job.options == {"language": "da", "odm_audit_records": True}
    shown = api_client(dm).get(response.json()["url"]).json()
    assert shown["options"] == job.options


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"formats": []}, "formats"),
        ({"formats": ["csv", "xlsx"]}, "formats"),
        ({"formats": "csv"}, "formats"),
        ({"formats": ["csv"], "blinded": "perhaps"}, "blinded"),
        ({"formats": ["csv"], "language": "fr"}, "language"),
        ({"formats": ["csv"], "odm_audit_records": "maybe"}, "odm_audit_records"),
    ],
)
def test_bad_requests_are_refused_field_by_field_and_nothing_is_written(
    dm: Any, body: dict, field: str
) -> None:
    response = ask(dm, **body)
    assert response.status_code == 400
    assert field in response.json()
    assert not ExportJob.objects.exists()


@pytest.mark.parametrize("role", [Role.COORDINATOR, Role.ASSESSOR, Role.MONITOR, Role.ADMIN])
def test_roles_that_do_not_export_get_403(sites: dict, role: str) -> None:
    response = ask(make_staff("x", role), formats=["csv"])
    assert response.status_code == 403
    assert not ExportJob.objects.exists()


def test_anonymous_callers_get_401(sites: dict) -> None:
    assert api_client().post("/api/v1/exports/", {}, format="json").status_code == 401


def test_a_data_manager_may_not_ask_for_an_unblinded_export(dm: Any) -> None:
    services.dataset_lock(user=dm, reason="Final")
    response = ask(dm, formats=["csv"], blinded=False)
    assert response.status_code == 403
    assert "statistician" in response.json()["detail"]
    assert not ExportJob.objects.exists()


def test_a_statistician_who_also_holds_a_blinded_role_is_blinded(sites: dict) -> None:
    both = make_staff("both", Role.STATISTICIAN, Role.DATA_MANAGER)
    services.dataset_lock(user=both, reason="Final")
    assert ask(both, blinded=False).status_code == 403
    assert ask(both, blinded=True).status_code == 202


@pytest.mark.parametrize("level", [None, "freeze"])
def test_an_unblinded_export_needs_a_locked_database(
    statistician: Any, dm: Any, level: str | None
) -> None:
    if level:
        services.dataset_freeze(user=dm, reason="Cleaning")
    response = ask(statistician, formats=["csv"], blinded=False)
    assert response.status_code == 409
    assert "locked database" in response.json()["detail"]
    assert not ExportJob.objects.exists()


def test_the_statistician_starts_an_unblinded_export_after_the_lock(
    statistician: Any, dm: Any
) -> None:
    services.dataset_lock(user=dm, reason="Final")
    response = ask(statistician, formats=["sav"], blinded=False)
    assert response.status_code == 202
    assert ExportJob.objects.get().blinded is False


def test_when_redis_is_down_an_export_is_accepted_and_its_build_waits_in_the_outbox(
    dm: Any, redis_down: Any
) -> None:
    response = ask(dm, formats=["csv"])
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "queued"
    job = ExportJob.objects.get(pk=body["id"])
    assert (job.status, job.error, job.task_id) == ("queued", "", "")
    (message,) = OutboxMessage.objects.all()
    assert (message.task, message.args, message.sent_at) == (
        queue.BUILD_TASK,
        [str(job.pk)],
        None,
    )
    assert api_client(dm).get(body["url"]).json()["status"] == "queued"


def test_the_owner_reads_the_status_of_a_queued_job(dm: Any) -> None:
    job_id = ask(dm, formats=["csv"]).json()["id"]
    response = api_client(dm).get(f"/api/v1/exports/{job_id}/")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["progress"], body["files"], body["manifest_url"]) == (
        "queued",
        0,
        [],
        None,
    )


def test_an_unblinded_job_does_not_exist_for_a_data_manager(statistician: Any, dm: Any) -> None:
    services.dataset_lock(user=dm, reason="Final")
    job_id = ask(statistician, blinded=False).json()["id"]
    assert api_client(dm).get(f"/api/v1/exports/{job_id}/").status_code == 404
    assert job_id not in {j["id"] for j in api_client(dm).get("/api/v1/exports/").json()["results"]}
    assert api_client(statistician).get(f"/api/v1/exports/{job_id}/").status_code == 200


def test_unknown_exports_are_404_and_other_roles_403(dm: Any) -> None:
    job_id = ask(dm).json()["id"]
    assert (
        api_client(dm).get("/api/v1/exports/6d1f7c5e-0000-4000-8000-000000000000/").status_code
        == 404
    )
    coordinator = make_staff("c", Role.COORDINATOR)
    assert api_client(coordinator).get(f"/api/v1/exports/{job_id}/").status_code == 403
