"""The transactional outbox: Celery tasks that belong to a change (a randomisation's e-mail, an
export's build) are written as rows in the change's own transaction, and sent to the broker
afterwards by a relay. A task exists exactly when its change committed; a broker outage delays
it and loses nothing; a request never talks to the broker at all.

The relay (`relay()`, run by `manage.py outbox_relay`) listens on PostgreSQL's channel
CHANNEL: the INSERT of a message notifies it, and PostgreSQL delivers the notification when
the transaction commits (never for a rolled-back one), so a message is sent within
milliseconds of its commit. Celery beat also runs `trial.drain_outbox` every DRAIN_INTERVAL
seconds on a worker, which sends whatever is still due (the net under a relay that is not
running). In Celery's eager mode (tests, a shell) there is no broker and no relay: the
process that wrote a message hands it on itself after the commit. All send with `deliver`:
rows taken with SELECT ... FOR UPDATE SKIP LOCKED and leased to the sender, marked sent
once the broker has them, so any number of senders may run at once and each row goes to the
broker once; a row the broker refused is tried again later (back-off up to MAX_BACKOFF),
never dropped. Only a sender that dies between the broker's accepting a message and marking
it sent can cause a second sending (when the lease ends): the tasks sent this way are
idempotent.

Why a relay rather than the request sending after its commit, as it once did: publishing
through Celery and Redis (a PING, kombu's message, the UPDATE marking it sent and its commit)
cost the randomise request a fifth of its time (docs/benchmarks.md)."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence
from datetime import timedelta
from functools import lru_cache, partial
from typing import Any

import psycopg
import redis
from celery import current_app as celery_app
from django.db import DatabaseError, close_old_connections, connection, transaction
from django.utils import timezone
from kombu.exceptions import KombuError
from redis.backoff import NoBackoff
from redis.retry import Retry

from trial.models import OutboxMessage

logger = logging.getLogger(__name__)

CHANNEL = "trial_outbox"
# The row and the relay's wake-up call in one statement; PostgreSQL holds the notification
# until the commit (and drops it with a rollback).
INSERT = f"""
    WITH message AS (
        INSERT INTO trial_outboxmessage
            (task, args, created_at, due_at, attempts, sent_at, task_id, last_error)
        VALUES (%s, %s::jsonb, %s, %s, 0, NULL, '', '')
        RETURNING id
    )
    SELECT id, pg_notify('{CHANNEL}', '') FROM message
"""  # noqa: S608 (a constant channel name; the values are parameters)
# The messages of one sending, marked sent in one statement (one commit, not one per message).
MARK_SENT = """
    UPDATE trial_outboxmessage AS m
    SET task_id = v.task_id, sent_at = v.sent_at, attempts = v.attempts
    FROM unnest(%s::bigint[], %s::text[], %s::timestamptz[], %s::integer[])
        AS v(id, task_id, sent_at, attempts)
    WHERE m.id = v.id
"""

# How often beat asks a worker to drain the outbox (imrtrial.settings CELERY_BEAT_SCHEDULE),
# and how long the relay waits for a notification before it looks for postponed rows anyway.
DRAIN_INTERVAL = 10.0
BATCH = 100
MAX_BACKOFF = timedelta(minutes=5)
# A sender has this long to hand the messages it took to the broker and mark them sent.
LEASE = timedelta(minutes=2)
# A broker that does not accept a connection (or answer) within this time counts as down.
CONNECT_TIMEOUT = 1
# The relay's pause before it tries again after losing PostgreSQL.
RECONNECT_PAUSE = 2.0
STOP_CHECK = 0.5
# How long the relay lets notifications gather after the first (seconds).
GATHER = 0.05

# Errors that mean "the broker is not there": kombu wraps most, but a refused socket can
# surface as a plain OSError from the Redis client.
BROKER_ERRORS: tuple[type[BaseException], ...] = (KombuError, OSError, ConnectionError)


def enqueue(task: str, *args: Any) -> OutboxMessage:
    """Write the task `task` (its Celery name) with JSON `args` to the outbox, in the current
    transaction; the relay sends it once the transaction has committed."""
    if not connection.in_atomic_block:
        raise RuntimeError("An outbox message is written in the transaction of its change.")
    now = timezone.now()
    message = OutboxMessage(task=task, args=list(args), created_at=now, due_at=now)
    # One plain statement (this app's own table; the outbox is not trial data and has no audit
    # trigger): on the randomise request's path the ORM's save cost more than the INSERT.
    with connection.cursor() as cursor:
        cursor.execute(INSERT, [task, json.dumps(message.args), now, message.due_at])
        (message.pk, _notified) = cursor.fetchone()
    message._state.adding = False
    message._state.db = connection.alias
    if celery_app.conf.task_always_eager:
        # Celery's eager mode (a test, a shell) has no broker for a relay to send to: the
        # writer runs the task itself once its transaction has committed.
        transaction.on_commit(partial(deliver, ids=[message.pk]), robust=True)
    return message


@lru_cache(maxsize=4)
def _ping_client(url: str) -> redis.Redis:
    """One client per broker URL and process: its connection is kept between sendings."""
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=CONNECT_TIMEOUT,
        socket_timeout=CONNECT_TIMEOUT,
        retry=Retry(NoBackoff(), 0),
    )


def _broker_down() -> redis.RedisError | None:
    """Why the broker does not answer one PING without retries (None: it does). Publishing
    through kombu to a Redis that refuses connections takes seconds (redis-py retries with a
    back-off), which a sender must not spend on every message."""
    try:
        _ping_client(celery_app.conf.broker_url).ping()
    except redis.RedisError as exc:
        return exc
    return None


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
    """Publish `messages` (taken by this sender) in order and mark those the broker took as
    sent; returns how many were sent. At the first broker failure the rest are postponed."""
    published: list[OutboxMessage] = []
    try:
        # A connection of the app's broker pool, kept between drains.
        with celery_app.pool.acquire(block=True) as broker:
            for position, message in enumerate(messages):
                try:
                    _publish(message, broker)
                except BROKER_ERRORS as exc:
                    broker.collect()  # broken: the next sender reconnects
                    _postpone(messages[position:], exc)
                    break
                except Exception as exc:
                    # A message the broker cannot take (it would fail every time) must not
                    # hold up the others; it stays in the outbox with its error.
                    logger.exception("Outbox message %s could not be sent", message.pk)
                    _postpone([message], exc)
                    continue
                published.append(message)
    finally:
        _mark_sent(published)
    return len(published)


def _mark_sent(messages: Sequence[OutboxMessage]) -> None:
    if not messages:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            MARK_SENT,
            [
                [message.pk for message in messages],
                [message.task_id for message in messages],
                [message.sent_at for message in messages],
                [message.attempts for message in messages],
            ],
        )


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


def relay(*, stop: threading.Event | None = None, wait: float = DRAIN_INTERVAL) -> None:
    """Send each message as soon as its transaction commits, until `stop` is set: drain, then
    wait for the outbox's notification (or `wait` seconds: postponed rows fall due without
    one). Survives PostgreSQL restarts and broker outages; what it cannot send waits."""
    stop = stop or threading.Event()
    try:
        while not stop.is_set():
            try:
                with _listener() as listener:
                    while not stop.is_set():
                        close_old_connections()
                        drain()
                        _wait_for_notification(listener, wait, stop)
            except (DatabaseError, psycopg.OperationalError) as exc:
                logger.warning("Outbox relay lost PostgreSQL (%s); trying again.", exc)
                connection.close()
                stop.wait(RECONNECT_PAUSE)
    finally:
        connection.close()  # this thread's own


def _listener() -> psycopg.Connection[Any]:
    """A connection of its own (not one of the pool's, which it would hold for good), in
    autocommit, listening on CHANNEL: notifications arriving while the relay drains wait on
    its socket for the next wait."""
    listener = psycopg.connect(**connection.get_connection_params(), autocommit=True)
    listener.execute(f"LISTEN {CHANNEL}")
    return listener


def _wait_for_notification(
    listener: psycopg.Connection[Any], wait: float, stop: threading.Event
) -> None:
    """Until a notification comes, `wait` seconds pass or `stop` is set (looked at every
    STOP_CHECK seconds, so that a stopping relay ends promptly)."""
    deadline = time.monotonic() + wait
    while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
        if any(True for _n in listener.notifies(timeout=min(left, STOP_CHECK), stop_after=1)):
            # Let the commits of a busy moment gather: one sending for all of them costs a
            # claim, a PING and a "sent" UPDATE once, instead of once per message.
            stop.wait(GATHER)
            break
    for _notification in listener.notifies(timeout=0):
        pass  # those that came meanwhile: the next drain sends their messages
