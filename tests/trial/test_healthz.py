"""/healthz: the database, Redis and a worker's heartbeat, for docker-compose and proxies."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from trial import health
from trial.tasks import heartbeat

# One heartbeat key in the shared Redis: these cases write it, so they run on one worker.
pytestmark = pytest.mark.xdist_group("healthz")


def test_it_answers_ok_when_the_database_redis_and_a_worker_are_there(db: None) -> None:
    heartbeat.apply()
    answer = Client().get("/healthz")
    assert answer.status_code == 200
    assert answer.json() == {"database": "ok", "redis": "ok", "worker": "ok"}
    assert "no-cache" in answer["Cache-Control"]


def test_it_needs_no_login_and_sets_no_cookie(db: None) -> None:
    heartbeat.apply()
    answer = Client().get("/healthz")
    assert answer.status_code == 200
    assert not answer.cookies


def test_a_heartbeat_older_than_a_minute_names_the_worker(db: None) -> None:
    health.record_heartbeat(time.time() - health.HEARTBEAT_MAX_AGE - 1)
    answer = Client().get("/healthz")
    assert answer.status_code == 503
    assert answer.json() == {"database": "ok", "redis": "ok", "worker": "down"}
    assert answer["Retry-After"]


def test_no_heartbeat_at_all_names_the_worker(db: None) -> None:
    cache.delete(health.HEARTBEAT_KEY)
    assert Client().get("/healthz").json()["worker"] == "down"


def test_redis_unreachable_is_named(db: None, settings: Any) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    answer = Client().get("/healthz")
    assert answer.status_code == 503
    assert answer.json()["redis"] == "down"
    assert answer.json()["database"] == "ok"
