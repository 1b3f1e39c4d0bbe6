"""Handing export builds to Celery. A request's build goes through the outbox
(trial.outbox.enqueue with BUILD_TASK, in the job's own transaction), so an export asked for
while Redis is down is accepted, stays queued and is built once Redis is back. Only the
watchdog, which runs on a worker, publishes directly (`send_build`).

Builds are sent by the task's published name ("exports.build_export"), not by importing
exports.tasks: the tasks send builds through this module (the watchdog), so importing them
here would make a circle, and the web process need not import the builders."""

from __future__ import annotations

from typing import Any

from celery import current_app as celery_app

from trial.errors import Unavailable
from trial.outbox import BROKER_ERRORS, CONNECT_TIMEOUT

BUILD_TASK = "exports.build_export"

QUEUE_DOWN = "The task queue (Redis) cannot be reached."


def _connection() -> Any:
    # A fresh connection from the current configuration (not the app's cached pool), so a
    # broker that went away is noticed now rather than on the next pooled publish.
    return celery_app.connection_for_write(connect_timeout=CONNECT_TIMEOUT)


def send_build(job_id: str) -> str:
    """Publish the build task for a job; returns the Celery task id."""
    try:
        with _connection() as connection:
            result = celery_app.signature(BUILD_TASK).apply_async(
                args=[job_id],
                connection=connection,
                retry=True,
                retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.5},
            )
    except BROKER_ERRORS:
        raise Unavailable(QUEUE_DOWN) from None
    return str(result.id)
