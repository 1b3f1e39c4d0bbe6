"""Handing export jobs to Celery. The broker is asked once before a job is written, so that a
request made while Redis is down gets a clear 503 and leaves no job behind.

Builds are sent by the task's published name ("exports.build_export"), not by importing
exports.tasks: the tasks send builds through this module (the watchdog), so importing them
here would make a circle."""

from __future__ import annotations

from typing import Any

from celery import current_app as celery_app
from kombu.exceptions import KombuError

from trial.errors import Unavailable

BUILD_TASK = "exports.build_export"

QUEUE_DOWN = (
    "The task queue (Redis) cannot be reached, so the export was not started and nothing was "
    "saved. Try again in a few minutes; tell the system administrator if it persists."
)

# Errors that mean "the broker is not there": kombu wraps most, but a refused socket can
# surface as a plain OSError from the Redis client.
BROKER_ERRORS: tuple[type[BaseException], ...] = (KombuError, OSError, ConnectionError)


def _connection() -> Any:
    # A fresh connection from the current configuration (not the app's cached pool), so a
    # broker that went away is noticed now rather than on the next pooled publish.
    return celery_app.connection_for_write(connect_timeout=3)


def ensure_broker() -> None:
    """Raise Unavailable (503) unless the broker answers."""
    try:
        with _connection() as connection:
            connection.ensure_connection(max_retries=0, timeout=5)
    except BROKER_ERRORS:
        raise Unavailable(QUEUE_DOWN) from None


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
