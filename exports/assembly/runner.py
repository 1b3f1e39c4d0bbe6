"""One export attempt: claim the job, mark it running, build, publish, record (each change
of status through exports.lifecycle).

Idempotent, so that Celery may deliver the same job more than once (acks_late redelivery, a
retry, the watchdog): a finished job is left alone, and a job another live worker is building
is left to that worker."""

from __future__ import annotations

import logging

from django.db import InterfaceError, OperationalError, connection

from datasets.forms import ExportDataError
from exports import lifecycle
from exports.assembly import files
from exports.assembly.heartbeat import Heartbeat
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
        job = lifecycle.start(job, task_id=task_id)
        beat.start(attempt=job.attempts)
        try:
            result = files.build(job, attempt=job.attempts, report=beat.set_progress)
        except TRANSIENT as exc:
            beat.flush()
            # The connection that failed is of no more use; the next query opens a new one.
            connection.close()
            if last_try:
                lifecycle.fail(job, f"The database was unavailable during the export ({exc}).")
                return "failed"
            lifecycle.retry_later(
                job,
                f"Attempt {job.attempts} was interrupted (database unavailable); "
                "it will be tried again.",
            )
            raise RetryLater(str(exc)) from exc
        except (files.ExportRefused, ExportDataError) as exc:
            lifecycle.fail(job, str(exc))
            return "failed"
        except OSError as exc:
            lifecycle.fail(job, f"The files could not be written: {exc.strerror or exc}.")
            return "failed"
        except Exception as exc:
            logger.exception("Export %s failed", job_id)
            lifecycle.fail(job, f"The export failed unexpectedly ({type(exc).__name__}: {exc}).")
            return "failed"
        lifecycle.finish(
            job,
            files=result.files,
            manifest=result.manifest,
            directory=result.directory,
            snapshot_at=result.snapshot_at,
            data_as_of=result.data_as_of,
            lock=result.lock,
        )
        return "done"
