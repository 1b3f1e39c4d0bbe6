"""How long the first export request of a fresh web worker takes.

    .venv/bin/python bench/bench_first_export.py

A fresh process does what a gunicorn worker does when it starts (loads imrtrial.wsgi), then
asks for a blinded export over the API (`POST /api/v1/exports/`) through the whole Django stack
(middleware, URL resolution, authentication, the service, the outbox) against the database of
.env, then asks again. Prints the time to start and the time of each request. Goal (issue #11):
the first request under a second. It leaves a data manager `bench-first-export` and two queued
export jobs behind (harmless: a worker builds them). Results: docs/benchmarks.md."""

from __future__ import annotations

import os
import sys
import time
from io import StringIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imrtrial.settings")


def main() -> None:
    started = time.perf_counter()
    from imrtrial.wsgi import application  # noqa: F401  (what a gunicorn worker loads)

    booted = time.perf_counter() - started

    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client

    from accounts.tokens import token_issue

    username = "bench-first-export"
    if not get_user_model().objects.filter(username=username).exists():
        call_command(
            "create_staff",
            username,
            role=["data_manager"],
            password=os.urandom(16).hex() + "Aa1!",
            stdout=StringIO(),
        )
    key, _token = token_issue(user=get_user_model().objects.get(username=username))
    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Token {key}")
    timings = []
    for _ in range(2):
        started = time.perf_counter()
        response = client.post(
            "/api/v1/exports/",
            {"formats": ["csv"], "blinded": True},
            content_type="application/json",
        )
        timings.append(time.perf_counter() - started)
        assert response.status_code == 202, response.content
    print(f"worker start (imrtrial.wsgi): {booted:.2f} s")
    print(f"first POST /api/v1/exports/: {timings[0] * 1000:.0f} ms")
    print(f"second POST /api/v1/exports/: {timings[1] * 1000:.0f} ms")


if __name__ == "__main__":
    main()
