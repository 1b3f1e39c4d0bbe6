"""Celery tasks of the trial core, thin."""

from __future__ import annotations

from celery import shared_task

from trial import health


@shared_task(name="trial.heartbeat", ignore_result=True, expires=health.HEARTBEAT_INTERVAL)
def heartbeat() -> None:
    """Sent by beat every HEARTBEAT_INTERVAL seconds; /healthz reports the worker down when no
    worker has run it for a minute."""
    health.record_heartbeat()
