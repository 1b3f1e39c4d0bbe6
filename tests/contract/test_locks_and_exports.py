"""API.md, "Locks and exports"."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Iterator
from typing import Any

import pytest

from imrtrial.celery import app as celery_app
from tests.contract.client import (
    ELIGIBLE,
    Api,
    assert_error_shape,
    consented,
    randomized_pair,
    register,
    unique_cpr,
)
from trial import outbox

FORMATS = ["csv", "sav", "dta", "parquet", "odm"]
JOB_STATUSES = {"queued", "running", "done", "failed"}


@pytest.fixture
def dm(staff: Any) -> Api:
    return staff("data_manager")


@pytest.fixture
def statistician(staff: Any) -> Api:
    return staff("statistician")


def level(api: Api) -> str:
    response = api.get("locks/")
    assert response.status_code == 200
    return response.json()["level"]


# --- locks ---------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["coordinator", "assessor", "monitor", "clinician"])
def test_only_statisticians_and_data_managers_freeze_lock_or_unlock(staff: Any, role: str) -> None:
    api = staff(role)
    assert_error_shape(api.post("locks/", {"level": "freeze", "reason": "Interim"}), 403)
    assert_error_shape(api.post("locks/unlock/", {"reason": "Back"}), 403)


def test_a_freeze_stops_data_entry_until_it_is_lifted_with_a_reason(
    staff: Any, dm: Api, statistician: Api
) -> None:
    coordinator = staff("coordinator", sites=("BAL",))
    assessor = staff("assessor", sites=("BAL",))
    participant = consented(coordinator)
    assert "reason" in assert_error_shape(dm.post("locks/", {"level": "freeze"}), 400)
    assert "level" in assert_error_shape(dm.post("locks/", {"level": "melt", "reason": "x"}), 400)

    response = dm.post("locks/", {"level": "freeze", "reason": "Interim analysis"})
    assert response.status_code in (200, 201)
    assert level(coordinator) == "freeze"
    assert_error_shape(dm.post("locks/", {"level": "freeze", "reason": "Again"}), 409)
    # Nothing is entered while frozen: 409, and nothing was written.
    refused = coordinator.post("participants/", {"site": "BAL", "cpr": unique_cpr(), "sex": "male"})
    assert_error_shape(refused, 409)
    form = f"participants/{participant['id']}/assessments/baseline/GAF/"
    assert_error_shape(assessor.put(form, {"items": {"GAF_S": 40}}), 409)
    assert_error_shape(assessor.get(form), 404)

    assert "reason" in assert_error_shape(statistician.post("locks/unlock/", {}), 400)
    response = statistician.post("locks/unlock/", {"reason": "Interim analysis done"})
    assert response.status_code == 200
    assert response.json()["level"] == "open"
    assert assessor.put(form, {"items": {"GAF_S": 40}}).status_code == 201
    assert_error_shape(statistician.post("locks/unlock/", {"reason": "Again"}), 409)


def test_a_lock_holds_until_unlocked_and_every_change_is_recorded_with_its_reason(
    staff: Any, dm: Api, statistician: Api
) -> None:
    coordinator = staff("coordinator", sites=("BAL",))
    participant = register(coordinator)
    assert dm.post("locks/", {"level": "lock", "reason": "Final analysis"}).status_code in (
        200,
        201,
    )
    assert level(dm) == "lock"
    assert_error_shape(
        coordinator.post(f"participants/{participant['id']}/eligibility/", ELIGIBLE), 409
    )
    assert_error_shape(dm.post("locks/", {"level": "freeze", "reason": "Step down"}), 409)
    assert statistician.post("locks/unlock/", {"reason": "Late data"}).status_code == 200
    history = dm.get("locks/").json()["history"]
    assert [(h["level"], h["reason"]) for h in history[:2]] == [
        ("open", "Late data"),
        ("lock", "Final analysis"),
    ]
    assert history[0]["set_by"] == statistician.username
    assert history[1]["set_by"] == dm.username


# --- exports -------------------------------------------------------------------------------


def test_an_export_request_is_accepted_202_with_id_status_and_url(dm: Api) -> None:
    response = dm.post("exports/", {"formats": FORMATS, "blinded": True})
    assert response.status_code == 202, response.content
    body = response.json()
    assert set(body) >= {"id", "status", "url"}
    assert body["status"] in JOB_STATUSES
    job = dm.get(body["url"])
    assert job.status_code == 200
    shown = job.json()
    assert shown["status"] in JOB_STATUSES
    assert isinstance(shown["progress"], int) and 0 <= shown["progress"] <= 100
    assert isinstance(shown["files"], list)
    assert "manifest_url" in shown
    assert dm.get(f"exports/{body['id']}/").json()["id"] == body["id"]


def test_bad_export_requests_are_400_per_field(dm: Api) -> None:
    for body, field in (
        ({"formats": ["csv", "xlsx"]}, "formats"),
        ({"formats": []}, "formats"),
        ({"formats": ["csv"], "blinded": "perhaps"}, "blinded"),
    ):
        assert field in assert_error_shape(dm.post("exports/", body), 400)


@pytest.mark.parametrize("role", ["coordinator", "assessor", "monitor", "clinician"])
def test_roles_that_do_not_export_get_403(staff: Any, role: str) -> None:
    assert_error_shape(staff(role).post("exports/", {"formats": ["csv"]}), 403)


def test_unblinded_exports_need_the_statistician_and_a_locked_database(
    dm: Api, statistician: Api
) -> None:
    unblinded = {"formats": ["csv"], "blinded": False}
    assert_error_shape(dm.post("exports/", unblinded), 403)
    assert_error_shape(statistician.post("exports/", unblinded), 409)
    dm.post("locks/", {"level": "lock", "reason": "Final analysis"})
    assert_error_shape(dm.post("exports/", unblinded), 403)
    response = statistician.post("exports/", unblinded)
    assert response.status_code == 202, response.content
    # An unblinded export does not exist for a blinded user.
    assert_error_shape(dm.get(f"exports/{response.json()['id']}/"), 404)
    assert_error_shape(dm.get("exports/00000000-0000-0000-0000-000000000000/"), 404)


@pytest.fixture
def eager_worker(settings: Any, tmp_path: Any) -> Iterator[None]:
    """Export jobs built in this process (the real task) when the test hands the outbox's
    messages on, as the relay does once a job has committed (`outbox.drain()`)."""
    settings.EXPORT_ROOT = tmp_path
    before = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = before


def arms_in(content: bytes) -> set[str]:
    return set(re.findall(r"\b(IMR|TAU)\b", content.decode("utf-8", "replace")))


def by_study_id(content: bytes) -> dict[str, dict[str, str]]:
    rows = csv.DictReader(io.StringIO(content.decode("utf-8-sig")))
    return {row["STUDY_ID"]: row for row in rows}


@pytest.mark.django_db(transaction=True)
def test_a_finished_export_lists_its_files_and_only_unblinded_ones_show_arms(
    staff: Any, lists: str, eager_worker: None, settings: Any
) -> None:
    settings.RANDOMIZATION_REQUIRES_BASELINE = False
    coordinator = staff("coordinator", sites=("BAL",))
    pair = randomized_pair(coordinator)
    dm, statistician = staff("data_manager"), staff("statistician")
    other_dm, monitor = staff("data_manager"), staff("monitor")

    blinded = dm.post("exports/", {"formats": ["csv", "odm"], "blinded": True})
    assert blinded.status_code == 202, blinded.content
    outbox.drain()
    job = dm.get(blinded.json()["url"]).json()
    assert job["status"] == "done", job
    assert job["progress"] == 100
    assert job["manifest_url"]
    assert {f["format"] for f in job["files"]} >= {"csv", "odm"}
    for entry in job["files"]:
        assert set(entry) >= {"name", "format", "bytes", "sha256", "url"}
        assert isinstance(entry["bytes"], int) and re.fullmatch(r"[0-9a-f]{64}", entry["sha256"])
    participants = next(f for f in job["files"] if f["name"] == "participants.csv")
    download = dm.http.get(participants["url"])
    assert download.status_code == 200
    content = b"".join(download.streaming_content)
    assert hashlib.sha256(content).hexdigest() == participants["sha256"]
    assert len(content) == participants["bytes"]
    rows = by_study_id(content)
    imr, tau = rows[pair["IMR"]["study_id"]], rows[pair["TAU"]["study_id"]]
    assert "ARM" not in imr and not arms_in(content)
    # Before the lock a blinded export carries no group column at all (not even masked).
    assert "GROUP" not in imr and "GROUP" not in tau
    manifest = dm.http.get(job["manifest_url"])
    assert manifest.status_code == 200
    # Downloads: the owner and the roles allowed to export; no one else.
    assert other_dm.http.get(participants["url"]).status_code == 200
    assert monitor.http.get(participants["url"]).status_code == 403

    dm.post("locks/", {"level": "lock", "reason": "Final analysis"})
    unblinded = statistician.post("exports/", {"formats": ["csv"], "blinded": False})
    assert unblinded.status_code == 202
    outbox.drain()
    job = statistician.get(unblinded.json()["url"]).json()
    assert job["status"] == "done", job
    entry = next(f for f in job["files"] if f["name"] == "participants.csv")
    rows = by_study_id(b"".join(statistician.http.get(entry["url"]).streaming_content))
    imr, tau = rows[pair["IMR"]["study_id"]], rows[pair["TAU"]["study_id"]]
    assert (imr["ARM"], tau["ARM"]) == ("1", "0")  # the codebook: 1 IMR + TAU, 0 TAU
    assert "GROUP" not in imr
    assert dm.http.get(entry["url"]).status_code == 404

    # After the lock a blinded export carries the masked group code (A and B as 1 and 2).
    masked = dm.post("exports/", {"formats": ["csv"], "blinded": True})
    assert masked.status_code == 202
    outbox.drain()
    job = dm.get(masked.json()["url"]).json()
    assert job["status"] == "done", job
    entry = next(f for f in job["files"] if f["name"] == "participants.csv")
    content = b"".join(dm.http.get(entry["url"]).streaming_content)
    rows = by_study_id(content)
    imr, tau = rows[pair["IMR"]["study_id"]], rows[pair["TAU"]["study_id"]]
    assert "ARM" not in imr and not arms_in(content)
    assert {imr["GROUP"], tau["GROUP"]} == {"1", "2"}
