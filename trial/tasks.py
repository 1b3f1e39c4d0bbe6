"""Celery tasks of the trial core, thin."""

from __future__ import annotations

from celery import shared_task

from trial import health, outbox


@shared_task(name="trial.heartbeat", ignore_result=True, expires=health.HEARTBEAT_INTERVAL)
def heartbeat() -> None:
    """Sent by beat every HEARTBEAT_INTERVAL seconds; /healthz reports the worker down when no
    worker has run it for a minute."""
    health.record_heartbeat()


@shared_task(name="trial.drain_outbox", ignore_result=True, expires=outbox.DRAIN_INTERVAL)
def drain_outbox() -> int:
    """Sent by beat every DRAIN_INTERVAL seconds: hands the outbox's due tasks (randomisation
    e-mails, export builds) to the broker. Safe on any number of workers at once."""
    return outbox.drain()
