"""Exports built by real Celery workers through Redis, including workers killed with SIGKILL
in the middle of a job: the job is not lost, it completes on the next attempt."""

from __future__ import annotations

import hashlib
import os
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from exports.assembly.files import BUILDING_PREFIX
from exports.assembly.heartbeat import builder_alive
from exports.models import ExportJob
from imrtrial.celery import app as celery_app
from tests.exports.conftest import forget_queue
from tests.exports.trial import build_trial
from tests.factories import api_client
from trial.audit import events_of
from trial.models import OutboxMessage

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def wait_until(condition: Callable[[], bool], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def finished(job_id: str) -> Callable[[], bool]:
    return lambda: ExportJob.objects.get(pk=job_id).status in ("done", "failed")


def start_export(user: Any, formats: list[str] | None = None) -> str:
    response = api_client(user).post(
        "/api/v1/exports/", {"formats": formats or ["csv", "sav", "odm"]}, format="json"
    )
    assert response.status_code == 202, response.content
    return response.json()["id"]


def assert_complete(job: ExportJob, root: Path) -> None:
    assert job.status == "done", job.error
    assert job.progress == 100
    for entry in job.files:
        content = (root / job.directory / entry["name"]).read_bytes()
        assert hashlib.sha256(content).hexdigest() == entry["sha256"]
    assert not list(root.glob(f"{BUILDING_PREFIX}{job.pk}-*"))


def test_a_real_worker_builds_an_export_asked_for_over_the_api(
    dm: Any, export_root: Path, celery_worker: Any, outbox_relay: None
) -> None:
    build_trial()
    job_id = start_export(dm)
    wait_until(finished(job_id))
    job = ExportJob.objects.get(pk=job_id)
    assert_complete(job, export_root)
    assert job.attempts == 1 and job.task_id
    body = api_client(dm).get(f"/api/v1/exports/{job_id}/").json()
    archive = next(f for f in body["files"] if f["format"] == "zip")
    response = api_client(dm).get(archive["url"])
    assert hashlib.sha256(response.getvalue()).hexdigest() == archive["sha256"]
    events = [e.pgh_context.get("task") for e in events_of(job).order_by("pgh_id")]
    assert "exports.build_export" in events  # status changes are audited with the task


def test_an_export_asked_for_while_redis_is_down_is_built_once_redis_is_back(
    dm: Any, export_root: Path, celery_worker: Any, redis_down: Any
) -> None:
    build_trial()
    job_id = start_export(dm, formats=["csv"])  # accepted: 202, queued
    time.sleep(1)
    assert ExportJob.objects.get(pk=job_id).status == "queued"
    assert OutboxMessage.objects.get(args=[job_id]).sent_at is None
    redis_down()  # Redis is back
    celery_app.send_task("trial.drain_outbox")  # what beat sends every ten seconds
    wait_until(finished(job_id))
    job = ExportJob.objects.get(pk=job_id)
    assert_complete(job, export_root)
    assert job.attempts == 1
    assert OutboxMessage.objects.get(args=[job_id]).sent_at is not None


@pytest.fixture
def own_queue(redis_client: Any) -> Iterator[str]:
    """A queue of this test's own, so the session's worker never takes its job."""
    name = f"imrtest-kill-{uuid.uuid4().hex[:8]}"
    previous = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = name
    yield name
    celery_app.conf.task_default_queue = previous
    forget_queue(redis_client, name)


def stalled_pid(redis_client: Any, key: str) -> int:
    reply = redis_client.blpop([key], timeout=90)
    assert reply is not None, "the export never reached the point where it stalls"
    return int(reply[1])


def test_a_job_whose_worker_process_is_killed_part_way_finishes_on_redelivery(
    dm: Any,
    export_root: Path,
    worker_factory: Any,
    own_queue: str,
    redis_client: Any,
    outbox_relay: None,
) -> None:
    key = f"imrtest:stall:{uuid.uuid4().hex}"
    worker_factory(own_queue, EXPORT_TEST_STALL="1", EXPORT_TEST_STALL_KEY=key)
    build_trial()
    job_id = start_export(dm)
    pid = stalled_pid(redis_client, key)
    running = ExportJob.objects.get(pk=job_id)
    assert (running.status, running.attempts) == ("running", 1)
    assert list(export_root.glob(f"{BUILDING_PREFIX}{job_id}-1-*"))  # half-built, unpublished
    assert not (export_root / job_id).exists()

    os.kill(pid, signal.SIGKILL)  # the pool process dies; acks_late puts the task back
    wait_until(finished(job_id))
    job = ExportJob.objects.get(pk=job_id)
    assert job.attempts == 2
    assert_complete(job, export_root)


def test_a_job_whose_whole_worker_is_killed_is_started_again_by_the_watchdog(
    dm: Any,
    export_root: Path,
    worker_factory: Any,
    own_queue: str,
    redis_client: Any,
    outbox_relay: None,
) -> None:
    key = f"imrtest:stall:{uuid.uuid4().hex}"
    doomed = worker_factory(own_queue, EXPORT_TEST_STALL="1", EXPORT_TEST_STALL_KEY=key)
    build_trial()
    job_id = start_export(dm)
    stalled_pid(redis_client, key)
    doomed.kill()  # SIGKILL to the main process and its pool: the message stays unacked

    wait_until(lambda: not builder_alive(job_id), timeout=30)
    assert ExportJob.objects.get(pk=job_id).status == "running"
    worker_factory(own_queue)  # a healthy worker; Celery beat runs the watchdog every minute
    celery_app.send_task("exports.requeue_stale_exports")
    wait_until(finished(job_id))
    job = ExportJob.objects.get(pk=job_id)
    assert job.attempts == 2
    assert_complete(job, export_root)
    errors = list(events_of(job).values_list("error", flat=True))
    assert any("stopped during attempt 1" in error for error in errors)
