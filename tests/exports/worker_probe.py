"""Loaded into the Celery workers that the export tests start (`celery worker -I`).

- `tests.probe_write_participant`: a task that tries to change trial data, so a test can see a
  real worker being refused by the lock.
- With EXPORT_TEST_STALL=1 in the worker's environment, the first attempt of every export stops
  after writing its first CSV file and waits to be killed, after telling the test (a Redis
  list) which process to kill. Later attempts run normally. This lives in the tests so that no
  test hook sits in the production code."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

import redis
from celery import shared_task
from django.conf import settings
from django.db import DatabaseError, transaction


def stall_key() -> str:
    return os.environ.get("EXPORT_TEST_STALL_KEY", "imrtest:export-stalled")


def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


@shared_task(name="tests.probe_write_participant")
def probe_write_participant(participant_id: int, reply_key: str) -> str:
    from participants.models import Participant
    from trial.audit import task_context
    from trial.errors import sqlstate_of

    outcome = "written"
    try:
        with task_context("tests.probe_write_participant", None), transaction.atomic():
            participant = Participant.objects.get(pk=participant_id)
            participant.status_reason = "Changed by a background task"
            participant.save(update_fields=["status_reason"])
    except DatabaseError as exc:
        outcome = f"refused:{sqlstate_of(exc)}"
    _redis().rpush(reply_key, outcome)
    return outcome


def _install_stall() -> None:
    from exports import writers

    original = writers.TABULAR_WRITERS["csv"]

    def stalling_csv(staged: Any, directory: Path, progress: Any) -> Any:
        written = original(staged, directory, progress)
        match = re.search(r"\.building-[0-9a-f-]{36}-(\d+)-", str(directory))
        if match and match.group(1) == "1":
            _redis().rpush(stall_key(), str(os.getpid()))
            time.sleep(600)  # until the test kills this process
        return written

    writers.TABULAR_WRITERS["csv"] = stalling_csv


if os.environ.get("EXPORT_TEST_STALL") == "1":
    _install_stall()

# Tasks this worker sends (the watchdog's re-queued builds) go to the test's own queue.
if os.environ.get("IMRTEST_QUEUE"):
    from imrtrial.celery import app

    app.conf.task_default_queue = os.environ["IMRTEST_QUEUE"]
