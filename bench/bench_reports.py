"""Benchmark of the reports at fifty times the trial's size (10,000 participants).

Builds the synthetic trial of bench/bench_export.py (10,000 randomised participants at three
sites, every form at every timepoint, queries, IMR groups, attendance, fidelity ratings) in a
database of its own (<DATABASE_URL name>_bench, made afresh), starts gunicorn on it, and then,
in one run and alternating so that drift on a shared machine hits all alike, requests:

- `GET /api/v1/sites/` (the trivial endpoint every ratio is taken against);
- the home page `/` of each role (coordinator, assessor, clinician, data manager, monitor,
  statistician, instructor, investigator);
- the record status matrix, first page, all sites (data manager);
- `GET /api/v1/reports/consort/` (data manager).

It prints, per request, the first (cold: the report cache is empty) time, then p50/p95 of the
warm requests, the ratio of each p95 to the sites endpoint's p95 (goal <= 3) and the number of
database queries each page took in-process. Results are recorded in docs/benchmarks.md.

    .venv/bin/python bench/bench_reports.py [--participants N] [--requests N] [--workers N]
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import bench_export  # noqa: E402  (the synthetic trial is built the same way as there)

ROLES = ("coordinator", "assessor", "clinician", "data_manager", "monitor", "statistician",
         "instructor", "investigator")  # fmt: skip


def staff() -> dict[str, Any]:
    """One user per role (site-scoped roles at Ballerup), each with a verified session."""
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from trial.access import needs_two_factor
    from trial.models import RoleAssignment, Site

    bal = Site.objects.get(code="BAL")
    cookies = {}
    for role in ROLES:
        user = get_user_model().objects.create_user(f"bench-report-{role}", password=None)
        scoped = role in ("coordinator", "assessor", "clinician", "instructor", "investigator")
        RoleAssignment.objects.create(user=user, role=role, site=bal if scoped else None)
        client = Client()
        client.force_login(user)
        if needs_two_factor(user):
            device = TOTPDevice.objects.create(user=user, name="bench", confirmed=True)
            session = client.session
            session[DEVICE_ID_SESSION_KEY] = device.persistent_id
            session.save()
        cookies[role] = client.cookies["sessionid"].value
    return cookies


def queries_of(cookie_role: str, url: str) -> int:
    """Database queries of one request, in-process, with the report cache emptied."""
    from django.contrib.auth import get_user_model
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    user = get_user_model().objects.get(username=f"bench-report-{cookie_role}")
    client = Client()
    client.force_login(user)
    device = TOTPDevice.objects.filter(user=user).first()
    if device is not None:
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
    cache.clear()
    with CaptureQueriesContext(connection) as captured:
        status = client.get(url, SERVER_NAME="127.0.0.1").status_code
    assert status == 200, (url, status)
    return len(captured.captured_queries)


def configure(participants: int) -> None:
    """A fresh benchmark database (<DATABASE_URL name>_bench) as bench_export makes it, with
    the runtime role of trial.dbconfig: this process loads it as the owner (COPY with the
    triggers off), the server reads it as the runtime role, as in production."""
    from trial.env import load_dotenv

    load_dotenv(ROOT / ".env")
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/imrtrial")
    os.environ["DATABASE_URL"] = base.split("?")[0] + "_bench"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imrtrial.settings")
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_ROLE"}
    manage = [sys.executable, str(ROOT / "manage.py")]
    # ensure_database runs as the runtime role's process (it creates that role); under
    # DATABASE_ROLE=owner its "runtime role" would be the owner itself.
    subprocess.run([*manage, "ensure_database"], cwd=ROOT, env=env, check=True)
    os.environ["DATABASE_ROLE"] = "owner"
    import django

    django.setup()
    import psycopg
    from django.conf import settings
    from django.core.management import call_command
    from psycopg import sql

    db = settings.DATABASES["default"]
    with psycopg.connect(
        host=db["HOST"], port=db["PORT"] or 5432, user=db["USER"],
        password=db["PASSWORD"] or None, dbname="postgres", autocommit=True,
    ) as admin:  # fmt: skip
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db["NAME"]))
        )
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db["NAME"])))
    call_command("migrate", verbosity=0)
    call_command("setup_trial", stdout=io.StringIO())
    print(f"database {db['NAME']}, {participants} participants")


def start_server(port: int, workers: int) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.update(DEBUG="false", ALLOWED_HOSTS="127.0.0.1,localhost", SECURE_SSL_REDIRECT="false")
    env.pop("DATABASE_ROLE", None)  # the server connects as the runtime role
    process = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "gunicorn"), "imrtrial.wsgi", "--workers", str(workers),
         "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "--timeout", "120"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    for _ in range(150):
        try:
            httpx.get(f"http://127.0.0.1:{port}/accounts/login/", timeout=1)
            return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.terminate()
    raise SystemExit("The server did not start.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=40, help="warm requests per target")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    args = parser.parse_args()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    configure(args.participants)
    started = time.perf_counter()
    bench_export.build_trial(args.participants)
    print(f"trial built in {time.perf_counter() - started:.0f} s")
    from django.core.cache import cache
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    cookies = staff()
    targets: list[tuple[str, str, str]] = [("sites", "data_manager", "/api/v1/sites/")]
    targets += [(f"home: {role}", role, "/") for role in ROLES]
    targets += [
        ("matrix, first page", "data_manager", "/reports/matrix/"),
        ("CONSORT endpoint", "data_manager", "/api/v1/reports/consort/"),
    ]
    port = int(os.environ.get("PORT", "8000"))
    url = f"http://127.0.0.1:{port}"
    cache.clear()
    server = start_server(port, args.workers)
    cold: dict[str, float] = {}
    warm: dict[str, list[float]] = {name: [] for name, _r, _u in targets}
    try:
        clients = {
            role: httpx.Client(base_url=url, cookies={"sessionid": cookie}, timeout=120)
            for role, cookie in cookies.items()
        }
        for name, role, path in targets:
            began = time.perf_counter()
            response = clients[role].get(path)
            cold[name] = time.perf_counter() - began
            if response.status_code != 200:
                raise SystemExit(f"{name}: {path} answered {response.status_code}")
        for _round in range(args.requests):
            for name, role, path in targets:
                began = time.perf_counter()
                response = clients[role].get(path)
                warm[name].append(time.perf_counter() - began)
                if response.status_code != 200:
                    raise SystemExit(f"{name}: {path} answered {response.status_code}")
    finally:
        server.terminate()
        server.wait(timeout=30)
    counts = {name: queries_of(role, path) for name, role, path in targets}

    def p95(values: list[float]) -> float:
        ordered = sorted(values)
        return ordered[int(0.95 * (len(ordered) - 1))] * 1000

    base = p95(warm["sites"])
    print(f"\n{args.participants} participants, {args.requests} warm requests each, "
          f"{args.workers} gunicorn workers, {url}")  # fmt: skip
    print(f"{'target':<28} {'cold ms':>9} {'p50 ms':>8} {'p95 ms':>8} {'p95/sites':>10} "
          f"{'queries':>8}")  # fmt: skip
    for name, _role, _path in targets:
        values = warm[name]
        print(
            f"{name:<28} {cold[name] * 1000:>9.0f} {statistics.median(values) * 1000:>8.1f} "
            f"{p95(values):>8.1f} {p95(values) / base:>10.2f} {counts[name]:>8}"
        )
    print("goal: p95 / sites <= 3 for every report")


if __name__ == "__main__":
    main()
