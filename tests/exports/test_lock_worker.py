"""A real Celery worker (a separate process, through Redis) cannot change trial data while the
database is locked either."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from exports import services
from imrtrial.celery import app as celery_app
from participants.models import Participant
from tests.factories import make_participant

pytestmark = pytest.mark.worker


def run_probe(participant: Participant, redis_client: Any) -> str:
    key = f"imrtest:probe:{uuid.uuid4().hex}"
    celery_app.send_task("tests.probe_write_participant", args=[participant.pk, key])
    reply = redis_client.blpop([key], timeout=60)
    assert reply is not None, "the worker did not answer"
    return reply[1].decode()


def test_a_celery_task_cannot_change_trial_data_while_locked_and_can_after_unlock(
    transactional_db: None, dm: Any, celery_worker: Any, redis_client: Any
) -> None:
    participant = make_participant("BAL")
    services.dataset_lock(user=dm, reason="Primary analysis")
    assert run_probe(participant, redis_client) == "refused:IMR01"
    participant.refresh_from_db()
    assert participant.status_reason == ""

    services.dataset_unlock(user=dm, reason="Data correction approved")
    assert run_probe(participant, redis_client) == "written"
    participant.refresh_from_db()
    assert participant.status_reason == "Changed by a background task"
