"""The life of one export attempt: claim the job, mark it running, build, publish, record.

Idempotent, so that Celery may deliver the same job more than once (acks_late redelivery, a
retry, the watchdog): a finished job is left alone, and a job another live worker is building
is left to that worker."""

from __future__ import annotations

import logging
from typing import Any

from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.db.models import F
from django.utils import timezone

from exports.build import files
from exports.build.heartbeat import Heartbeat
from exports.datasets.forms import ExportDataError
from exports.models import ExportJob

logger = logging.getLogger(__name__)
Status = ExportJob.Status

# Errors worth another attempt a little later: the database went away for a moment.
TRANSIENT = (OperationalError, InterfaceError)


class RetryLater(Exception):
    """Raised to the task for a transient failure; the job is queued again meanwhile."""


def run_job(job_id: str, *, task_id: str, last_try: bool) -> str:
    """Build the job; returns what happened ("done", "failed", "busy", "finished", "missing")."""
    with Heartbeat(job_id) as beat:
        if not beat.claimed:
            logger.info("Export %s is being built by another worker.", job_id)
            return "busy"
        job = ExportJob.objects.select_related("requested_by").filter(pk=job_id).first()
        if job is None:
            return "missing"
        if job.is_finished:
            return "finished"
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
        beat.start(attempt=job.attempts)
        try:
            result = files.build(job, attempt=job.attempts, report=beat.set_progress)
        except TRANSIENT as exc:
            beat.flush()
            # The connection that failed is of no more use; the next query opens a new one.
            connection.close()
            if last_try:
                _fail(job, f"The database was unavailable during the export ({exc}).")
                return "failed"
            ExportJob.objects.filter(pk=job.pk, status=Status.RUNNING).update(
                status=Status.QUEUED,
                error=f"Attempt {job.attempts} was interrupted (database unavailable); "
                "it will be tried again.",
            )
            raise RetryLater(str(exc)) from exc
        except (files.ExportRefused, ExportDataError) as exc:
            _fail(job, str(exc))
            return "failed"
        except OSError as exc:
            _fail(job, f"The files could not be written: {exc.strerror or exc}.")
            return "failed"
        except Exception as exc:
            logger.exception("Export %s failed", job_id)
            _fail(job, f"The export failed unexpectedly ({type(exc).__name__}: {exc}).")
            return "failed"
        ExportJob.objects.filter(pk=job.pk, attempts=job.attempts).update(
            status=Status.DONE,
            progress=100,
            files=result.files,
            manifest=result.manifest,
            directory=result.directory,
            snapshot_at=result.snapshot_at,
            data_as_of=result.data_as_of,
            lock=result.lock,
            lock_level=result.manifest["lock"]["level"],
            finished_at=timezone.now(),
            heartbeat_at=timezone.now(),
            error="",
        )
        return "done"


def _fail(job: ExportJob, message: str) -> None:
    try:
        ExportJob.objects.filter(pk=job.pk).update(
            status=Status.FAILED,
            error=message,
            files=[],
            finished_at=timezone.now(),
        )
    except DatabaseError:  # pragma: no cover (the watchdog will find the job again)
        logger.exception("Could not record the failure of export %s", job.pk)


def fail_exhausted(job_id: Any, message: str) -> None:
    ExportJob.objects.filter(pk=job_id, status__in=[Status.QUEUED, Status.RUNNING]).update(
        status=Status.FAILED, error=message, files=[], finished_at=timezone.now()
    )
