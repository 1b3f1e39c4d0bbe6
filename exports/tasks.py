"""Celery tasks of the exports, thin: the build (exports.assembly.runner) and the watchdog
(exports.assembly.watchdog); every change of a job's status is exports.lifecycle's. Tasks
take IDs, are sent after the request's commit, are acknowledged only when done (a worker that
dies leaves its message to be delivered again), are retried with backoff on transient errors,
and are watched by a periodic watchdog that starts again any job whose worker died."""

from __future__ import annotations

import logging
import random

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded

from exports import lifecycle
from exports.assembly import watchdog
from exports.assembly.runner import RetryLater, run_job
from trial.audit import task_context

logger = logging.getLogger(__name__)

MAX_RETRIES = 5
SOFT_TIME_LIMIT = 50 * 60
TIME_LIMIT = SOFT_TIME_LIMIT + 120


def backoff(retries: int) -> float:
    return min(300.0, 5.0 * 2**retries) * (0.75 + random.random() / 2)


@shared_task(
    bind=True,
    name="exports.build_export",
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=MAX_RETRIES,
    soft_time_limit=SOFT_TIME_LIMIT,
    time_limit=TIME_LIMIT,
)
def build_export(self, job_id: str) -> str:  # type: ignore[no-untyped-def]
    with task_context("exports.build_export", self.request.id, export_job=job_id):
        try:
            return run_job(
                job_id,
                task_id=self.request.id or "",
                last_try=self.request.retries >= MAX_RETRIES,
            )
        except RetryLater as exc:
            raise self.retry(exc=exc, countdown=backoff(self.request.retries)) from None
        except SoftTimeLimitExceeded:
            lifecycle.fail_exhausted(
                job_id, "The export took longer than the time limit and was stopped."
            )
            return "failed"


@shared_task(name="exports.requeue_stale_exports")
def requeue_stale_exports() -> int:
    """Start again every job whose builder is gone: running without a live claim (the worker
    was killed), or queued for long without anyone taking it (the message was lost). Run by
    Celery beat every minute; safe to run at any time, on any number of workers."""
    with task_context("exports.requeue_stale_exports", None):
        return watchdog.requeue_stale()
