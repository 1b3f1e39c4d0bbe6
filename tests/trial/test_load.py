"""Sixty concurrent clients for twenty seconds against the server `make run` starts (gunicorn,
several workers, a small connection pool each): no 5xx, no refused connection. Before the
pool, one server under 24 clients held 74 of PostgreSQL's 100 connections and the next
requests failed with 500 "too many clients"."""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from accounts.tokens import token_issue
from tests.factories import make_participant, make_staff
from trial.roles import Role

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = 60
SECONDS = 20.0

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_run_web_server(port: int) -> list[str]:
    """The web server command of `make run`, read from the Makefile (make -n)."""
    done = subprocess.run(
        ["make", "-n", "run"],
        cwd=ROOT,
        env={**os.environ, "PORT": str(port)},
        capture_output=True,
        text=True,
        check=True,
    )
    found = re.search(r"(\.venv/bin/gunicorn .*)$", done.stdout, re.MULTILINE)
    assert found, done.stdout
    return shlex.split(found.group(1))


def database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def server(transactional_db: None, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    command = make_run_web_server(port)
    command[0] = str(ROOT / command[0])
    log = tmp_path / "gunicorn.log"
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        # The test database; on a one-URL machine the server connects as the runtime role
        # (tests/conftest.py passes its name and password on).
        env={**os.environ, "DATABASE_URL": database_url(), "PYTHONPATH": str(ROOT)},
        stdout=open(log, "ab"),  # noqa: SIM115 (kept open for the process' lifetime)
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{base}/accounts/login/", timeout=5).close()  # noqa: S310
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn did not start:\n{log.read_text()}") from None
                time.sleep(0.5)
        yield base
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=30)


def hammer(base: str, token: str, participant_id: int, until: float, counts: Counter) -> None:
    paths = [
        ("/accounts/login/", None),
        ("/api/v1/participants/", token),
        (f"/api/v1/participants/{participant_id}/", token),
        ("/api/v1/sites/", token),
    ]
    turn = 0
    while time.monotonic() < until:
        path, key = paths[turn % len(paths)]
        turn += 1
        request = urllib.request.Request(base + path)  # noqa: S310 (http://127.0.0.1)
        if key:
            request.add_header("Authorization", f"Token {key}")
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310
                counts[answer.status] += 1
        except urllib.error.HTTPError as error:
            counts[error.code] += 1
        except OSError as error:
            counts[f"connection: {type(error).__name__}"] += 1


def test_sixty_clients_for_twenty_seconds_get_no_server_error(
    server: str, sites: dict, settings: Any
) -> None:
    coordinator = make_staff("load-coordinator", Role.COORDINATOR, sites=["BAL"])
    participant = make_participant("BAL", user=coordinator)
    token, _ = token_issue(user=coordinator)
    counts: Counter = Counter()
    until = time.monotonic() + SECONDS
    threads = [
        threading.Thread(target=hammer, args=(server, token, participant.pk, until, counts))
        for _ in range(CLIENTS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    total = sum(counts.values())
    summary = f"{CLIENTS} clients, {SECONDS:.0f} s: {total} requests, {dict(counts)}"
    print("\n" + summary, file=sys.stderr)
    assert total > CLIENTS
    failures = {key: n for key, n in counts.items() if not isinstance(key, int) or key >= 500}
    assert failures == {}
