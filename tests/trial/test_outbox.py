"""The transactional outbox (trial.outbox) against real PostgreSQL and Redis: a task exists
exactly when its transaction commits, reaches the broker once (sent by the relay as soon as
the commit notifies it), waits (with a back-off) while the broker is down, and is never lost;
any number of senders may run at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest
import redis
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from imrtrial.celery import app as celery_app
from tests.exports.conftest import database_url
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


def wait_for(condition: Any, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_the_relay_sends_it_as_soon_as_the_transaction_commits_and_only_once(
    outbox_relay: None, queue_name: str
) -> None:
    with transaction.atomic():
        message = outbox.enqueue(PROBE, "a", 2)
        time.sleep(0.7)  # longer than the relay's wait: nothing leaves before the commit
        assert queued(queue_name) == []
    committed = time.monotonic()
    assert wait_for(lambda: len(queued(queue_name)) == 1)
    assert time.monotonic() - committed < 2  # notified by the commit
    assert wait_for(lambda: OutboxMessage.objects.get(pk=message.pk).sent_at is not None)
    message.refresh_from_db()
    assert message.attempts == 1
    (headers,) = queued(queue_name)
    assert (headers["task"], headers["id"]) == (PROBE, message.task_id)
    assert headers["argsrepr"] == "('a', 2)"
    # Nothing is left for the relay or the worker's drain to send again.
    time.sleep(0.7)
    assert outbox.drain() == 0
    assert len(queued(queue_name)) == 1


def test_the_relay_sends_messages_that_fall_due_without_a_notification(
    outbox_relay: None, queue_name: str
) -> None:
    """A message postponed while the broker was down falls due later, when no commit notifies
    the relay: it looks for due messages after every wait."""
    with transaction.atomic():
        message = outbox.enqueue(PROBE, 1)
        OutboxMessage.objects.filter(pk=message.pk).update(
            due_at=timezone.now() + timedelta(seconds=1)
        )
    time.sleep(0.5)
    assert queued(queue_name) == []
    assert wait_for(lambda: len(queued(queue_name)) == 1)
    assert wait_for(lambda: OutboxMessage.objects.get(pk=message.pk).sent_at is not None)


def test_the_relay_listens_again_after_losing_its_connection(
    outbox_relay: None, queue_name: str
) -> None:
    """PostgreSQL restarted, or the connection cut: the relay connects again and sends what
    was committed meanwhile (the drain after reconnecting finds it, notified or not)."""
    assert wait_for(lambda: listening_backends() == 1)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND query = %s",
            [f"LISTEN {outbox.CHANNEL}"],
        )
    with transaction.atomic():
        message = outbox.enqueue(PROBE, "after the cut")
    assert wait_for(lambda: len(queued(queue_name)) == 1, seconds=15)
    assert wait_for(lambda: OutboxMessage.objects.get(pk=message.pk).sent_at is not None)
    assert wait_for(lambda: listening_backends() == 1)


def listening_backends() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND query = %s",
            [f"LISTEN {outbox.CHANNEL}"],
        )
        (count,) = cursor.fetchone()
    return int(count)


@pytest.mark.django_db(transaction=True)
def test_in_celerys_eager_mode_the_writer_sends_after_its_commit(queue_name: str) -> None:
    """No broker, no relay (tests, a shell): the process that wrote the message hands it on
    once the transaction has committed, never before."""
    previous, celery_app.conf.task_always_eager = celery_app.conf.task_always_eager, True
    try:
        with transaction.atomic():
            message = outbox.enqueue(PROBE, 1)
            assert queued(queue_name) == []
        message.refresh_from_db()
        assert message.sent_at is not None and message.attempts == 1
        assert [h["argsrepr"] for h in queued(queue_name)] == ["(1,)"]
    finally:
        celery_app.conf.task_always_eager = previous


@pytest.mark.django_db(transaction=True)
def test_a_change_that_rolls_back_sends_nothing(outbox_relay: None, queue_name: str) -> None:
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        outbox.enqueue(PROBE, 1)
        1 / 0  # noqa: B018 (the change fails after writing its message)
    time.sleep(1.0)
    assert not OutboxMessage.objects.exists()
    assert outbox.drain() == 0
    assert queued(queue_name) == []


@pytest.mark.django_db(transaction=True)
def test_the_relay_command_sends_and_stops_on_term(tmp_path: Any) -> None:
    """`manage.py outbox_relay`, as `make run` and docker-compose start it."""
    environment = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "DJANGO_SETTINGS_MODULE": "imrtrial.settings",
    }
    log = tmp_path / "relay.log"
    with open(log, "wb") as output:
        relay = subprocess.Popen(
            [sys.executable, "manage.py", "outbox_relay", "--wait", "1"],
            cwd=settings.BASE_DIR,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            assert wait_for(lambda: "listening" in log.read_text(), 60), log.read_text()
            with transaction.atomic():
                message = outbox.enqueue(PROBE, "from the command")
            assert wait_for(lambda: OutboxMessage.objects.get().sent_at is not None)
            relay.send_signal(signal.SIGTERM)
            assert relay.wait(timeout=5) == 0
        finally:
            if relay.poll() is None:
                relay.kill()
    assert "Outbox relay stopped." in log.read_text()
    message.refresh_from_db()
    assert message.task_id and message.attempts == 1
    # The other process published to the default queue: take the probe out again, unless a
    # worker of another test took it first (it would refuse a task it does not know).
    client = redis.Redis.from_url(settings.REDIS_URL, decode_responses=True)
    default = celery_app.conf.task_default_queue
    for raw in client.lrange(default, 0, -1):
        if message.task_id in str(raw):
            client.lrem(default, 1, str(raw))


def test_while_the_broker_is_down_messages_wait_with_a_growing_back_off_and_are_never_lost(
    db: None, queue_name: str, redis_down: Any
) -> None:
    with transaction.atomic():
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


def test_writing_a_message_never_waits_for_the_broker(
    db: None, queue_name: str, redis_down: Any
) -> None:
    started = time.monotonic()
    with transaction.atomic():
        message = outbox.enqueue(PROBE, 1)
    assert time.monotonic() - started < 0.5
    message.refresh_from_db()
    assert (message.attempts, message.sent_at, message.last_error) == (0, None, "")
    assert message.due_at <= timezone.now()  # due at once: the relay's to send
    redis_down()  # back
    assert outbox.drain() == 1


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
    (claimed,) = outbox._claim(ids=None, limit=10)  # a sender takes it, and dies here
    assert claimed.pk == message.pk
    assert outbox.drain() == 0  # leased: nobody else sends it meanwhile
    assert queued(queue_name) == []
    OutboxMessage.objects.update(due_at=timezone.now())  # the lease has run out
    assert outbox.drain() == 1
    assert len(queued(queue_name)) == 1
    assert OutboxMessage.objects.get().attempts == 2
