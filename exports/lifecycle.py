"""The life of an export job, in one place: every change of its status is a function here.

    queued ──start──▶ running ──finish──▶ done
       ▲                 │
       │                 ├──fail──▶ failed
       └──retry_later────┤
       └──requeue────────┘   (the watchdog: the builder died, or the message was lost)

A queued job waits in the outbox (trial.outbox) until its message reaches the broker; a job
started too often, or past its time limit, fails (`fail_exhausted`). Each transition is one UPDATE
conditioned on the state it leaves, so two workers (a redelivered message, the watchdog) can
never both move one job. The Celery tasks (exports.tasks) only call these and
exports.assembly.runner, which builds the files."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import DatabaseError
from django.db.models import Exists, F, OuterRef, Q, QuerySet, TextField
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Coalesce, Greatest
from django.utils import timezone

from exports.models import ExportJob
from exports.queue import BUILD_TASK
from trial.models import DatasetLock, OutboxMessage

logger = logging.getLogger(__name__)
Status = ExportJob.Status

# A job started this many times never finished: it probably kills its worker (memory).
MAX_ATTEMPTS = 5
# A queued job nobody has picked up for this long lost its message (e.g. Redis restarted).
QUEUED_GRACE = timedelta(minutes=10)


def create(
    *,
    user: User,
    formats: Sequence[str],
    blinded: bool,
    options: dict[str, Any] | None = None,
) -> ExportJob:
    """A new job, queued (the caller sends its message after commit)."""
    return ExportJob.objects.create(
        requested_by=user, formats=list(formats), blinded=blinded, options=dict(options or {})
    )


def start(job: ExportJob, *, task_id: str) -> ExportJob:
    """queued (or running, after a redelivery) → running: one more attempt, from 0 %."""
    now = timezone.now()
    ExportJob.objects.filter(pk=job.pk).update(
        status=Status.RUNNING,
        attempts=F("attempts") + 1,
        started_at=now,
        heartbeat_at=now,
        progress=0,
        error="",
        task_id=task_id or job.task_id,
    )
    job.refresh_from_db()
    return job


def retry_later(job: ExportJob, message: str) -> None:
    """running → queued: a transient failure (the database went away); Celery retries."""
    ExportJob.objects.filter(pk=job.pk, status=Status.RUNNING).update(
        status=Status.QUEUED, error=message
    )


def finish(
    job: ExportJob,
    *,
    files: list[dict[str, Any]],
    manifest: dict[str, Any],
    directory: str,
    snapshot_at: datetime,
    data_as_of: datetime | None,
    lock: DatasetLock | None,
) -> None:
    """running → done, with what was published (only by the attempt that built it)."""
    now = timezone.now()
    ExportJob.objects.filter(pk=job.pk, attempts=job.attempts).update(
        status=Status.DONE,
        progress=100,
        files=files,
        manifest=manifest,
        directory=directory,
        snapshot_at=snapshot_at,
        data_as_of=data_as_of,
        lock=lock,
        lock_level=manifest["lock"]["level"],
        finished_at=now,
        heartbeat_at=now,
        error="",
    )


def fail(job: ExportJob, message: str) -> None:
    """running → failed, with the reason; a failed job offers no files."""
    try:
        ExportJob.objects.filter(pk=job.pk).update(
            status=Status.FAILED, error=message, files=[], finished_at=timezone.now()
        )
    except DatabaseError:  # pragma: no cover (the watchdog will find the job again)
        logger.exception("Could not record the failure of export %s", job.pk)


def fail_exhausted(job_id: Any, message: str) -> None:
    """queued or running → failed: started too often, or stopped at the time limit."""
    ExportJob.objects.filter(pk=job_id, status__in=[Status.QUEUED, Status.RUNNING]).update(
        status=Status.FAILED, error=message, files=[], finished_at=timezone.now()
    )


def stale_candidates(now: datetime) -> QuerySet[ExportJob]:
    """Jobs the watchdog looks at: running (is their builder alive?) or queued for long. A
    queued job whose build message still waits in the outbox (Redis is down), or left it less
    than QUEUED_GRACE ago, has not lost its message."""
    touched = Greatest("requested_at", Coalesce("heartbeat_at", "requested_at"))
    message_pending = Exists(
        OutboxMessage.objects.annotate(job=KT("args__0")).filter(
            Q(sent_at__isnull=True) | Q(sent_at__gte=now - QUEUED_GRACE),
            task=BUILD_TASK,
            job=Cast(OuterRef("pk"), TextField()),
        )
    )
    return (
        ExportJob.objects.annotate(touched=touched)
        .filter(
            Q(status=Status.RUNNING)
            | Q(status=Status.QUEUED, touched__lt=now - QUEUED_GRACE) & ~message_pending
        )
        .order_by("requested_at")
    )


def requeue(job: ExportJob, *, now: datetime) -> bool:
    """running or queued → queued again, for the watchdog, when the job's builder is gone; a
    job started MAX_ATTEMPTS times fails instead. True when the caller should send it."""
    if job.attempts >= MAX_ATTEMPTS:
        fail_exhausted(
            job.pk,
            f"The export was started {job.attempts} times and its worker stopped each "
            "time (perhaps out of memory). Tell the system administrator.",
        )
        return False
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
    return bool(updated)
