"""The transactional outbox: Celery tasks that belong to a change (a randomisation's e-mail, an
export's build) are written as rows in the change's own transaction, and sent to the broker
afterwards. A task exists exactly when its change committed; a broker outage delays it and
loses nothing; the request never waits for the broker to come back.

Two things send the rows: right after the commit, the request that wrote them (each row is
leased to it from its INSERT, so it needs no claiming) tries once if Redis answers a PING at
once (so mail and builds start at once while Redis is up; a request that finds it down hands
its rows to the worker and lets later requests skip the attempt for REQUESTS_PAUSE seconds);
and Celery beat runs `trial.drain_outbox` every DRAIN_INTERVAL seconds on a worker
(`deliver`), which sends whatever is still due. The drain takes rows with SELECT ... FOR
UPDATE SKIP LOCKED and leases them to itself; each sender marks a row sent once the broker has
it, so any number of senders may run at once and each row goes to the broker once; a row the
broker refused is tried again later (back-off up to MAX_BACKOFF), never dropped. Only a sender
that dies between the broker's accepting a message and marking it sent can cause a second
sending (when the lease ends): the tasks sent this way are idempotent. The request's sending
reuses the broker connection pool and one Redis client per process: a new connection per
request had made the randomise request cost four times the trivial endpoint."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from datetime import timedelta
from functools import lru_cache, partial
from typing import Any

import redis
from celery import current_app as celery_app
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from kombu.exceptions import KombuError
from redis.backoff import NoBackoff
from redis.retry import Retry

from trial.models import OutboxMessage

logger = logging.getLogger(__name__)

INSERT = """
    INSERT INTO trial_outboxmessage
        (task, args, created_at, due_at, attempts, sent_at, task_id, last_error)
    VALUES (%s, %s::jsonb, %s, %s, 0, NULL, '', '')
    RETURNING id
"""
MARK_SENT = "UPDATE trial_outboxmessage SET task_id = %s, sent_at = %s, attempts = %s WHERE id = %s"

# How often beat asks a worker to drain the outbox (imrtrial.settings CELERY_BEAT_SCHEDULE).
DRAIN_INTERVAL = 10.0
BATCH = 100
MAX_BACKOFF = timedelta(minutes=5)
# A sender has this long to hand the messages it took to the broker and mark them sent.
LEASE = timedelta(minutes=2)
# A broker that does not accept a connection (or answer) within this time counts as down.
CONNECT_TIMEOUT = 1
# After a failed attempt, requests leave sending to the worker for this long, so that a broker
# that hangs (rather than refuses) does not cost every request the connect timeout.
REQUESTS_PAUSE = 30.0

# Errors that mean "the broker is not there": kombu wraps most, but a refused socket can
# surface as a plain OSError from the Redis client.
BROKER_ERRORS: tuple[type[BaseException], ...] = (KombuError, OSError, ConnectionError)


class _Pause:
    """When this process last failed to reach the broker (time.monotonic())."""

    failed_at: float | None = None

    @classmethod
    def active(cls) -> bool:
        return cls.failed_at is not None and time.monotonic() - cls.failed_at < REQUESTS_PAUSE

    @classmethod
    def clear(cls) -> None:
        cls.failed_at = None


def enqueue(task: str, *args: Any) -> OutboxMessage:
    """Write the task `task` (its Celery name) with JSON `args` to the outbox, in the current
    transaction; it is sent after the commit (or by the worker, later)."""
    if not connection.in_atomic_block:
        raise RuntimeError("An outbox message is written in the transaction of its change.")
    # Leased to this request from the start: it sends the row right after the commit without
    # first claiming it in a transaction of its own (a round trip and a commit per request);
    # should it die first, the drain sends the row when the lease ends.
    now = timezone.now()
    message = OutboxMessage(task=task, args=list(args), created_at=now, due_at=now + LEASE)
    # One plain INSERT (this app's own table; the outbox is not trial data and has no audit
    # trigger): the ORM's save cost a third of what the randomise request spends on the outbox.
    with connection.cursor() as cursor:
        cursor.execute(INSERT, [task, json.dumps(message.args), now, message.due_at])
        (message.pk,) = cursor.fetchone()
    message._state.adding = False
    message._state.db = connection.alias
    transaction.on_commit(partial(_deliver_after_commit, message), robust=True)
    return message


@lru_cache(maxsize=4)
def _ping_client(url: str) -> redis.Redis:
    """One client per broker URL and process: its connection is kept between requests (a new
    TCP connection and handshake per randomisation cost more than the rest of the request)."""
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=CONNECT_TIMEOUT,
        socket_timeout=CONNECT_TIMEOUT,
        retry=Retry(NoBackoff(), 0),
    )


def _broker_down() -> redis.RedisError | None:
    """Why the broker does not answer one PING without retries (None: it does). Publishing
    through kombu to a Redis that refuses connections takes seconds (redis-py retries with a
    back-off), which a request must not spend."""
    try:
        _ping_client(celery_app.conf.broker_url).ping()
    except redis.RedisError as exc:
        _Pause.failed_at = time.monotonic()
        return exc
    return None


def _deliver_after_commit(message: OutboxMessage) -> None:
    try:
        if _Pause.active() or _broker_down() is not None:
            # The worker sends it: at its next drain, not when the lease ends.
            OutboxMessage.objects.filter(pk=message.pk, sent_at__isnull=True).update(
                due_at=timezone.now()
            )
            return
        message.attempts += 1
        _send([message])
    except DatabaseError:
        # The change has committed and the row with it: the worker sends it.
        logger.warning("Outbox message %s left to the worker (database error).", message.pk)


def backoff(attempts: int) -> timedelta:
    return min(MAX_BACKOFF, timedelta(seconds=5 * 2**attempts))


def deliver(*, ids: Sequence[int] | None = None, limit: int = BATCH) -> int:
    """Send the unsent messages that are due (of `ids` only, if given) to the broker; returns
    how many were sent. Stops at the first broker failure: the rest wait, with a back-off."""
    messages = _claim(ids=ids, limit=limit)
    if not messages:
        return 0
    down = _broker_down()
    if down is not None:
        _postpone(messages, down)
        return 0
    return _send(messages)


def _send(messages: Sequence[OutboxMessage]) -> int:
    """Publish `messages` (taken by this sender) in order and mark each sent; returns how many
    were sent. At the first broker failure the rest are postponed."""
    sent = 0
    # A connection of the app's broker pool, kept between requests (opening one per
    # randomisation was most of what the confirmation cost the request).
    with celery_app.pool.acquire(block=True) as broker:
        for position, message in enumerate(messages):
            try:
                _publish(message, broker)
            except BROKER_ERRORS as exc:
                broker.collect()  # broken: the next sender reconnects
                _Pause.failed_at = time.monotonic()
                _postpone(messages[position:], exc)
                return sent
            except Exception as exc:
                # A message the broker cannot take (it would fail every time) must not hold
                # up the others; it stays in the outbox with its error.
                logger.exception("Outbox message %s could not be sent", message.pk)
                _postpone([message], exc)
                continue
            sent += 1
    _Pause.clear()
    return sent


def _claim(*, ids: Sequence[int] | None, limit: int) -> list[OutboxMessage]:
    """Take due messages for this sender: locked with SKIP LOCKED (another sender's are passed
    over) and leased (not due for LEASE), in a transaction of their own, so no transaction
    stays open while the broker is talked to (nor while an eager task runs, in tests). A
    sender that dies before marking them sent leaves them to be sent when the lease ends."""
    now = timezone.now()
    with transaction.atomic():
        due = OutboxMessage.objects.select_for_update(skip_locked=True).filter(
            sent_at__isnull=True, due_at__lte=now
        )
        if ids is not None:
            due = due.filter(pk__in=list(ids))
        messages = list(due.order_by("id")[:limit])
        for message in messages:
            message.attempts += 1
            message.due_at = now + LEASE
        OutboxMessage.objects.bulk_update(messages, ["attempts", "due_at"])
    return messages


def _publish(message: OutboxMessage, broker: Any) -> None:
    # By name: the sender need not import the task's module (the worker has it). A task this
    # process has imported is sent through its own apply_async (eager mode in tests included).
    result = celery_app.signature(message.task, args=message.args).apply_async(
        connection=broker, retry=False
    )
    message.task_id = str(result.id)
    message.sent_at = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(MARK_SENT, [message.task_id, message.sent_at, message.attempts, message.pk])


def _postpone(messages: Sequence[OutboxMessage], error: BaseException) -> None:
    now = timezone.now()
    for message in messages:
        message.due_at = now + backoff(message.attempts)
        message.last_error = f"{type(error).__name__}: {error}"[:1000]
    OutboxMessage.objects.bulk_update(messages, ["due_at", "last_error", "attempts"])
    logger.warning(
        "Broker unavailable; %d outbox message(s) wait for the next drain: %s",
        len(messages),
        error,
    )


def drain() -> int:
    """Send everything that is due, batch after batch (the beat task)."""
    total = 0
    while True:
        sent = deliver()
        total += sent
        if sent < BATCH:
            return total
