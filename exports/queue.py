"""Handing export jobs to Celery, and handing them again when their builder died (the
watchdog). The broker is asked once before a job is written, so that a request made while
Redis is down gets a clear 503 and leaves no job behind.

Builds are sent by the task's published name ("exports.build_export"), not by importing
exports.tasks: the tasks call this module (the watchdog), so importing them here would make a
circle."""

from __future__ import annotations

import logging
from typing import Any

from celery import current_app as celery_app
from django.utils import timezone
from kombu.exceptions import KombuError

from exports import lifecycle
from exports.assembly.heartbeat import builder_alive
from trial.errors import Unavailable

logger = logging.getLogger(__name__)

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


def requeue_stale() -> int:
    """Start again every job whose builder is gone: running without a live claim (the worker
    was killed), or queued for long without anyone taking it (the message was lost). Safe to
    run at any time, on any number of workers; returns how many were sent."""
    now = timezone.now()
    sent = 0
    for job in lifecycle.stale_candidates(now):
        if builder_alive(job.pk) or not lifecycle.requeue(job, now=now):
            continue
        try:
            send_build(str(job.pk))
        except Unavailable:
            logger.warning("Cannot requeue export %s: the broker is unavailable.", job.pk)
            return sent
        sent += 1
    return sent
