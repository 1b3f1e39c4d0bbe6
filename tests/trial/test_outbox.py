"""The transactional outbox (trial.outbox) against real PostgreSQL and Redis: a task exists
exactly when its transaction commits, reaches the broker once, waits (with a back-off) while
the broker is down, and is never lost; any number of drainers may run at once."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import redis
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from imrtrial.celery import app as celery_app
from trial import outbox
from trial.models import OutboxMessage

PROBE = "tests.outbox_probe"  # no worker knows it: the message just waits in the queue


@pytest.fixture
def queue_name() -> Iterator[str]:
    """A queue of this test's own in the real Redis, removed afterwards."""
    name = f"imrtest-outbox-{uuid.uuid4().hex[:8]}"
    previous = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = name
    yield name
    celery_app.conf.task_default_queue = previous
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete(name, f"_kombu.binding.{name}")


def queued(name: str) -> list[dict[str, Any]]:
    """The task messages waiting in the Redis queue `name` (their headers: task, args)."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    return [json.loads(raw)["headers"] for raw in client.lrange(name, 0, -1)]


@pytest.mark.django_db(transaction=True)
def test_a_message_is_written_only_inside_the_transaction_of_its_change() -> None:
    with pytest.raises(RuntimeError, match="transaction"):
        outbox.enqueue(PROBE, 1)
    assert not OutboxMessage.objects.exists()


def test_it_is_sent_to_the_broker_right_after_the_commit_and_only_once(
    db: None, queue_name: str, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        message = outbox.enqueue(PROBE, "a", 2)
        assert queued(queue_name) == []  # nothing leaves before the commit
    message.refresh_from_db()
    assert message.sent_at is not None and message.attempts == 1
    (headers,) = queued(queue_name)
    assert (headers["task"], headers["id"]) == (PROBE, message.task_id)
    assert headers["argsrepr"] == "('a', 2)"
    # The worker's drain finds nothing left to send.
    assert outbox.drain() == 0
    assert len(queued(queue_name)) == 1


@pytest.mark.django_db(transaction=True)
def test_a_change_that_rolls_back_sends_nothing(queue_name: str) -> None:
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        outbox.enqueue(PROBE, 1)
        1 / 0  # noqa: B018 (the change fails after writing its message)
    assert not OutboxMessage.objects.exists()
    assert outbox.drain() == 0
    assert queued(queue_name) == []


def test_while_the_broker_is_down_messages_wait_with_a_growing_back_off_and_are_never_lost(
    db: None, queue_name: str, redis_down: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        first = outbox.enqueue(PROBE, 1)
        second = outbox.enqueue(PROBE, 2)
    delays = []
    for _ in range(8):
        OutboxMessage.objects.update(due_at=timezone.now())
        assert outbox.drain() == 0
        first.refresh_from_db()
        delays.append(first.due_at - timezone.now())
    assert (first.sent_at, first.attempts) == (None, 8)
    assert "Connection refused" in first.last_error
    seconds = [round(delay.total_seconds()) for delay in delays]
    assert seconds == sorted(seconds) and seconds[0] < 30
    assert seconds[-1] == outbox.MAX_BACKOFF.total_seconds()
    # Not due yet: the drain leaves them alone until their time comes.
    assert outbox.drain() == 0
    assert OutboxMessage.objects.get(pk=first.pk).attempts == 8

    redis_down()  # Redis is back
    OutboxMessage.objects.update(due_at=timezone.now())
    assert outbox.drain() == 2
    assert sorted(h["argsrepr"] for h in queued(queue_name)) == ["(1,)", "(2,)"]
    second.refresh_from_db()
    assert second.sent_at is not None and second.task_id


def test_a_request_that_finds_redis_down_leaves_sending_to_the_worker_at_once(
    db: None, queue_name: str, redis_down: Any, django_capture_on_commit_callbacks: Any
) -> None:
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        first = outbox.enqueue(PROBE, 1)
    assert time.monotonic() - started < 0.5  # no waiting for the broker
    first.refresh_from_db()
    assert (first.attempts, first.sent_at, first.last_error) == (0, None, "")
    redis_down()  # back: but this process does not know it yet
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        second = outbox.enqueue(PROBE, 2)
    second.refresh_from_db()
    assert (second.attempts, second.sent_at) == (0, None)  # not tried: Redis was down lately
    assert queued(queue_name) == []
    OutboxMessage.objects.update(due_at=timezone.now())
    assert outbox.drain() == 2  # the worker sends both
    assert not outbox._Pause.active()


def conninfo() -> str:
    db = connection.settings_dict
    return psycopg.conninfo.make_conninfo(
        dbname=db["NAME"],
        user=db["USER"],
        password=db["PASSWORD"] or None,
        host=db["HOST"],
        port=db["PORT"] or 5432,
    )


@pytest.mark.django_db(transaction=True)
def test_a_message_another_drainer_holds_is_skipped_not_sent_twice(queue_name: str) -> None:
    with transaction.atomic():
        held = outbox.enqueue(PROBE, "held")
        free = outbox.enqueue(PROBE, "free")
    # The after-commit sends ran; make both unsent again as if the broker had been down.
    OutboxMessage.objects.update(sent_at=None, due_at=timezone.now())
    redis.Redis.from_url(settings.REDIS_URL).delete(queue_name)
    with psycopg.connect(conninfo()) as other:
        # Another worker's drain has taken `held` and is sending it.
        other.execute("SELECT id FROM trial_outboxmessage WHERE id = %s FOR UPDATE", [held.pk])
        assert outbox.drain() == 1
        assert [h["argsrepr"] for h in queued(queue_name)] == ["('free',)"]
        other.execute("UPDATE trial_outboxmessage SET sent_at = now() WHERE id = %s", [held.pk])
        other.commit()
    assert outbox.drain() == 0
    assert OutboxMessage.objects.get(pk=free.pk).sent_at is not None


def test_the_runtime_role_writes_and_marks_messages_but_cannot_delete_or_empty_them(
    db: None, queue_name: str
) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f'SET LOCAL ROLE "{settings.DATABASE_RUNTIME_ROLE}"')
    with transaction.atomic():
        message = outbox.enqueue(PROBE, 1)
    # No commit here, so no after-commit send: the drain's turn once the request's lease ends.
    OutboxMessage.objects.filter(pk=message.pk).update(due_at=timezone.now())
    assert outbox.deliver(ids=[message.pk]) == 1
    for statement in ("DELETE FROM trial_outboxmessage", "TRUNCATE trial_outboxmessage"):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
    assert OutboxMessage.objects.filter(sent_at__isnull=False).count() == 1


def test_beat_drains_the_outbox_often() -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["trial-drain-outbox"]
    assert entry["task"] == "trial.drain_outbox"
    assert entry["schedule"] == outbox.DRAIN_INTERVAL <= 10.0


def test_messages_of_a_sender_that_died_before_marking_them_are_sent_when_the_lease_ends(
    db: None, queue_name: str
) -> None:
    with transaction.atomic():
        message = outbox.enqueue(PROBE, 1)
    # No commit here, so no after-commit send: as if the request that wrote it had died. The
    # row is leased to that request, so no drain sends it meanwhile...
    assert outbox.drain() == 0
    OutboxMessage.objects.update(due_at=timezone.now())  # ...until that lease has run out;
    (claimed,) = outbox._claim(ids=None, limit=10)  # then a drain takes it, and dies here
    assert claimed.pk == message.pk
    assert outbox.drain() == 0  # leased: nobody else sends it meanwhile
    assert queued(queue_name) == []
    OutboxMessage.objects.update(due_at=timezone.now())  # the lease has run out
    assert outbox.drain() == 1
    assert len(queued(queue_name)) == 1
    assert OutboxMessage.objects.get().attempts == 2
