"""Fixtures of the export tests: staff, a trial with data, and real Celery workers.

Workers are real `celery worker` processes against Redis (REDIS_URL) and the test database:
their DATABASE_URL names the test database, so the tests that use them commit their data
(`transactional_db`). Each test session uses its own queue, so a worker never takes another
session's tasks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings
from django.db import connection

from imrtrial.celery import app as celery_app
from tests.factories import make_staff
from trial.roles import Role

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def dm(sites: dict) -> Any:
    return make_staff("dm", Role.DATA_MANAGER)


@pytest.fixture
def statistician(sites: dict) -> Any:
    return make_staff("stat", Role.STATISTICIAN)


@pytest.fixture(scope="session")
def export_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("exports")


@pytest.fixture
def export_root(settings: Any, export_dir: Path) -> Path:
    settings.EXPORT_ROOT = export_dir
    return export_dir


@pytest.fixture(scope="session", autouse=True)
def test_queue() -> Iterator[str]:
    """This session's Celery queue (the test process publishes to it, its workers read it)."""
    name = f"imrtest-{uuid.uuid4().hex[:10]}"
    previous = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = name
    yield name
    celery_app.conf.task_default_queue = previous
    forget_queue(redis.Redis.from_url(settings.REDIS_URL), name)


def forget_queue(client: redis.Redis, name: str) -> None:
    """Remove a test queue and kombu's bookkeeping of it from Redis, including messages left
    unacknowledged by a worker a test killed (kombu would restore them an hour later)."""
    client.delete(name, f"_kombu.binding.{name}", f"_kombu.binding_permanent.{name}")
    for tag, payload in client.hgetall("unacked").items():
        try:
            routing_key = json.loads(payload)[2]
        except (ValueError, IndexError, TypeError):
            continue
        if routing_key == name:
            client.hdel("unacked", tag)
            client.zrem("unacked_index", tag)


def database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


class Worker:
    """A `celery worker` subprocess on the given queue."""

    def __init__(self, queue: str, export_dir: Path, log: Path, **env: str) -> None:
        self.log = log
        environment = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "EXPORT_ROOT": str(export_dir),
            "PYTHONPATH": str(ROOT),
            "DJANGO_SETTINGS_MODULE": "imrtrial.settings",
            "IMRTEST_QUEUE": queue,
            **env,
        }
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "imrtrial", "worker",
                "-Q", queue, "-c", "1", "--pool", "prefork", "-l", "INFO",
                "-n", f"{queue}-{uuid.uuid4().hex[:6]}@%h",
                "-I", "tests.exports.worker_probe",
                "--without-gossip", "--without-mingle", "--without-heartbeat",
            ],
            cwd=ROOT,
            env=environment,
            stdout=open(log, "ab"),  # noqa: SIM115 (kept open for the process' lifetime)
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        self._wait_ready()

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"The Celery worker exited:\n{self.log.read_text()}")
            if " ready." in self.log.read_text(errors="replace"):
                return
            time.sleep(0.1)
        raise RuntimeError(f"The Celery worker did not start:\n{self.log.read_text()}")

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and pool), as a crash would."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture(scope="session")
def celery_worker(
    django_db_setup: Any,
    django_db_blocker: Any,
    test_queue: str,
    export_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Worker]:
    """One real worker for the session, against the test database."""
    with django_db_blocker.unblock():
        url = database_url()
    assert "test" in url.rsplit("/", 1)[-1], url
    log = tmp_path_factory.mktemp("celery") / "worker.log"
    worker = Worker(test_queue, export_dir, log)
    yield worker
    worker.stop()


@pytest.fixture
def worker_factory(django_db_blocker: Any, export_dir: Path, tmp_path: Path) -> Iterator[Any]:
    """Start extra workers inside one test (stopped at its end)."""
    started: list[Worker] = []

    def start(queue: str, **env: str) -> Worker:
        worker = Worker(queue, export_dir, tmp_path / f"worker-{len(started)}.log", **env)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def redis_client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)
