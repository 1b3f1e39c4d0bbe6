"""An export's build waits in the outbox while Redis is down (trial.outbox): the watchdog,
which starts again jobs that lost their message, leaves such a job alone until its message
has had time to arrive."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from exports import lifecycle, queue
from exports.models import ExportJob
from trial.models import OutboxMessage


def queued_long_ago(dm: Any) -> ExportJob:
    with transaction.atomic():
        job = lifecycle.create(user=dm, formats=["csv"], blinded=True)
    ExportJob.objects.filter(pk=job.pk).update(requested_at=timezone.now() - timedelta(hours=1))
    return job


def stale(now: Any = None) -> list[Any]:
    return [job.pk for job in lifecycle.stale_candidates(now or timezone.now())]


def test_a_job_whose_build_is_still_in_the_outbox_has_not_lost_its_message(dm: Any) -> None:
    job = queued_long_ago(dm)
    assert stale() == [job.pk]  # no message anywhere: lost
    message = OutboxMessage.objects.create(task=queue.BUILD_TASK, args=[str(job.pk)])
    assert stale() == []  # Redis is down: the message waits in the outbox
    OutboxMessage.objects.filter(pk=message.pk).update(sent_at=timezone.now())
    assert stale() == []  # just sent: a worker will take it
    later = timezone.now() + lifecycle.QUEUED_GRACE + timedelta(minutes=1)
    assert stale(later) == [job.pk]  # sent long ago and still queued: lost with Redis


def test_another_jobs_message_does_not_count(dm: Any) -> None:
    job = queued_long_ago(dm)
    other = queued_long_ago(dm)
    OutboxMessage.objects.create(task=queue.BUILD_TASK, args=[str(other.pk)])
    OutboxMessage.objects.create(task="randomization.tasks.alert_list_exhausted", args=[1])
    assert stale() == [job.pk]
