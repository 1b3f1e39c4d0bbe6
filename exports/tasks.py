"""Celery tasks of the exports. Tasks take IDs, are sent after the request's commit, are
acknowledged only when done (a worker that dies leaves its message to be delivered again), are
retried with backoff on transient errors, and are watched by a periodic watchdog that starts
again any job whose worker died."""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.db.models import Q, QuerySet
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from exports.build.heartbeat import builder_alive
from exports.build.runner import RetryLater, fail_exhausted, run_job
from exports.models import ExportJob
from imrtrial.audit import task_context
from imrtrial.errors import Unavailable

logger = logging.getLogger(__name__)
Status = ExportJob.Status

MAX_RETRIES = 5
# A job started this many times never finished: it probably kills its worker (memory).
MAX_ATTEMPTS = 5
# A queued job nobody has picked up for this long lost its message (e.g. Redis restarted).
QUEUED_GRACE = timedelta(minutes=10)
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
            fail_exhausted(job_id, "The export took longer than the time limit and was stopped.")
            return "failed"


@shared_task(name="exports.requeue_stale_exports")
def requeue_stale_exports() -> int:
    """Start again every job whose builder is gone: running without a live claim (the worker
    was killed), or queued for long without anyone taking it (the message was lost). Run by
    Celery beat every minute; safe to run at any time, on any number of workers."""
    with task_context("exports.requeue_stale_exports", None):
        return requeue_stale()


def requeue_stale() -> int:
    from exports import queue

    now = timezone.now()
    sent = 0
    for job in _stale_candidates(now):
        if builder_alive(job.pk):
            continue
        if job.attempts >= MAX_ATTEMPTS:
            fail_exhausted(
                job.pk,
                f"The export was started {job.attempts} times and its worker stopped each "
                "time (perhaps out of memory). Tell the system administrator.",
            )
            continue
        updated = ExportJob.objects.filter(pk=job.pk, status=job.status).update(
            status=Status.QUEUED,
            heartbeat_at=now,
            error=(
                f"The worker building this export stopped during attempt {job.attempts}; "
                "it was started again."
                if job.status == Status.RUNNING
                else job.error
            ),
        )
        if not updated:
            continue
        try:
            queue.send_build(str(job.pk))
        except Unavailable:
            logger.warning("Cannot requeue export %s: the broker is unavailable.", job.pk)
            return sent
        sent += 1
    return sent


def _stale_candidates(now: datetime) -> QuerySet[ExportJob]:
    touched = Greatest("requested_at", Coalesce("heartbeat_at", "requested_at"))
    return (
        ExportJob.objects.annotate(touched=touched)
        .filter(Q(status=Status.RUNNING) | Q(status=Status.QUEUED, touched__lt=now - QUEUED_GRACE))
        .order_by("requested_at")
    )
