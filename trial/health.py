"""What /healthz reports: can the app reach PostgreSQL and Redis, and has a Celery worker
done its periodic heartbeat (trial.tasks.heartbeat, sent by beat) within the last minute.
Each check answers "ok" or "down" quickly; none raises."""

from __future__ import annotations

import logging
import time

import redis
from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection

logger = logging.getLogger(__name__)

HEARTBEAT_KEY = "trial:worker-heartbeat"
# Beat sends the heartbeat every HEARTBEAT_INTERVAL seconds; older than HEARTBEAT_MAX_AGE
# means no worker took it (or beat is not running).
HEARTBEAT_INTERVAL = 20.0
HEARTBEAT_MAX_AGE = 60.0
OK, DOWN = "ok", "down"


def database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return OK
    except DatabaseError as exc:
        logger.warning("Health check: database down (%s)", exc)
        return DOWN


def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)


def redis_state() -> str:
    try:
        _redis().ping()
        return OK
    except redis.RedisError as exc:
        logger.warning("Health check: Redis down (%s)", exc)
        return DOWN


def record_heartbeat(now: float | None = None) -> None:
    cache.set(HEARTBEAT_KEY, now if now is not None else time.time(), timeout=3600)


def worker(now: float | None = None) -> str:
    try:
        beat = cache.get(HEARTBEAT_KEY)
    except redis.RedisError:
        return DOWN
    current = now if now is not None else time.time()
    if beat is None or current - float(beat) > HEARTBEAT_MAX_AGE:
        return DOWN
    return OK


def report() -> dict[str, str]:
    states = {"database": database(), "redis": redis_state()}
    states["worker"] = worker() if states["redis"] == OK else DOWN
    return states
