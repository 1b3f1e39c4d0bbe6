"""The watchdog of the export jobs (Celery beat runs exports.tasks.requeue_stale_exports every
minute): a job whose builder is gone is sent again."""

from __future__ import annotations

import logging

from django.utils import timezone

from exports import lifecycle, queue
from exports.assembly.heartbeat import builder_alive
from trial.errors import Unavailable

logger = logging.getLogger(__name__)


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
            queue.send_build(str(job.pk))
        except Unavailable:
            logger.warning("Cannot requeue export %s: the broker is unavailable.", job.pk)
            return sent
        sent += 1
    return sent
