"""Every menu page and every API collection at 10,000 participants, against a real gunicorn.

    .venv/bin/python bench/bench_pages.py [--participants 10000] [--keep] [--requests 20]

What it does, in one run:
1. builds a synthetic trial of N randomised participants in a database of its own
   (`<DATABASE_URL name>_pages`) with bench/bench_export.py's builder (every form at every
   timepoint, queries, IMR groups, sessions, attendance, fidelity ratings, register data), left
   unlocked, then VACUUM ANALYZEd (as autovacuum keeps a running trial); with --keep an
   existing database of that name is reused as it is (and kept);
2. adds one account per role with a password (a second factor for the roles that need one);
3. starts gunicorn (4 workers, DEBUG off) against it on $PORT;
4. logs each role in through the login page (with its code, for two-factor roles), then for
   every page of the role's menu, a few filtered views (the worklist's states, a second
   page) and every API collection the role may read (GET paths of the OpenAPI schema
   without a path parameter), times R sequential requests after two warm-up requests, one client;
5. prints p50/p95, the answer's size and its SQL query count (the same request made in-process
   with Django's test client, counted with CaptureQueriesContext), each against
   `GET /api/v1/sites/` measured for the same role in the same run, and whether it meets the
   goal of issue #14 (p95 <= 150 ms and <= 10x the trivial endpoint's p95; a documented 409,
   such as a masking key asked for before the lock, is a right answer whose time counts).

The machine is shared: run it once or twice, not in loops. Results: docs/benchmarks.md."""

from __future__ import annotations

import argparse
import io
import os
import re
import signal
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

# The bench accounts' credentials (a throw-away database of its own).
PASSWORD = "bench-pages-Password-1"  # noqa: S105
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # noqa: S105
# One account per role; the site-scoped ones work at all three sites (the heaviest view).
ROLES = (
    "coordinator",
    "assessor",
    "clinician",
    "instructor",
    "fidelity_rater",
    "data_manager",
    "statistician",
    "monitor",
)
TWO_FACTOR = {"data_manager", "statistician"}
# Views beyond the menu's first page: the filters people use every day.
EXTRA_VIEWS = {
    "assessments:worklist": [
        "?state=due",
        "?state=open",
        "?state=overdue",
        "?state=completed",
        "?state=completed&page=3",
    ],
    "participants:list": ["?page=3"],
    "assessments:queries": ["?status=closed"],
}
TRIVIAL = "/api/v1/sites/"


def bench_environment() -> dict[str, str]:
    from trial.env import load_dotenv

    load_dotenv(ROOT / ".env")
    env = dict(os.environ)
    base = env.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/imrtrial")
    env["DATABASE_URL"] = base.rstrip("/") + "_pages"
    env["DEBUG"] = "false"
    env["SECURE_SSL_REDIRECT"] = "false"
    env["ALLOWED_HOSTS"] = "127.0.0.1,localhost,testserver"
    env["EMAIL_BACKEND"] = "django.core.mail.backends.dummy.EmailBackend"
    env["LOG_LEVEL"] = "WARNING"
    env["PYTHONWARNINGS"] = "ignore::UserWarning"  # WhiteNoise: no collectstatic here
    env["DJANGO_SETTINGS_MODULE"] = "imrtrial.settings"
    return env


def admin_dsn(env: dict[str, str]) -> tuple[str, str]:
    """The maintenance database's DSN and the bench database's name."""
    import dj_database_url

    config = dj_database_url.parse(env["DATABASE_URL"])
    host, port, user = config["HOST"], config["PORT"] or 5432, config["USER"]
    return f"host={host} port={port} user={user} dbname=postgres", config["NAME"]


def drop_database(env: dict[str, str]) -> None:
    import psycopg

    admin, name = admin_dsn(env)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_exists(env: dict[str, str]) -> bool:
    import psycopg

    admin, name = admin_dsn(env)
    with psycopg.connect(admin, autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
    return found is not None


def prepare(env: dict[str, str], participants: int, keep: bool) -> None:
    """A fresh trial of `participants` (or the kept one) with an account per role."""
    import psycopg

    admin, name = admin_dsn(env)
    reuse = keep and database_exists(env)
    if not reuse:
        drop_database(env)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    # The server connects as the least-privilege runtime role, which ensure_database creates;
    # this process builds and migrates as the owner role (trial/dbconfig.py).
    subprocess.run(
        [sys.executable, "manage.py", "ensure_database"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    os.environ.update(env)
    os.environ["DATABASE_ROLE"] = "owner"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    if reuse:
        print(f"database {name}: reused (--keep)")
    else:
        call_command("setup_trial", stdout=io.StringIO())
        from bench_export import build_trial

        build_trial(participants)
        # A trial that has been running is vacuumed by autovacuum; a bulk-built one is not
        # yet, and without its visibility map no count can be read from an index alone.
        bench_dsn = admin.replace("dbname=postgres", f"dbname={name}")
        with psycopg.connect(bench_dsn, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
    for role in ROLES:
        extra = ["--totp-secret", TOTP_SECRET] if role in TWO_FACTOR else []
        call_command(
            "create_staff",
            f"pages-{role}",
            "--role",
            role,
            "--password",
            PASSWORD,
            *extra,
            stdout=io.StringIO(),
        )


def start_server(env: dict[str, str], port: str, workers: int) -> subprocess.Popen:
    server = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "imrtrial.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--timeout",
            "120",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/accounts/login/", timeout=1).status_code:
                return server
        except httpx.HTTPError:
            time.sleep(0.2)
    server.terminate()
    raise SystemExit("gunicorn did not start")


def _csrf(html: str) -> str:
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    if not found:
        raise SystemExit("no CSRF token on the login page")
    return found.group(1)


class Browser:
    """One logged-in user over plain HTTP. DEBUG off marks the cookies Secure, so the server
    is told the request came through an HTTPS proxy and the cookies are kept here by hand."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.cookies: dict[str, str] = {}
        self.client = httpx.Client(
            base_url=base,
            timeout=120,
            headers={"X-Forwarded-Proto": "https", "Origin": base.replace("http:", "https:")},
        )

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        response = self.client.request(method, path, headers=headers, **kwargs)
        for name, value in response.cookies.items():
            self.cookies[name] = value
        return response

    def login(self, username: str, otp: str | None) -> None:
        page = self.request("GET", "/accounts/login/")
        form = {
            "csrfmiddlewaretoken": _csrf(page.text),
            "username": username,
            "password": PASSWORD,
        }
        if otp is not None:
            # The roles with a second factor type its code on the login page itself.
            form["otp"] = otp
        answer = self.request("POST", "/accounts/login/", data=form)
        if answer.status_code != 302:
            raise SystemExit(f"login of {username} refused ({answer.status_code})")

    def close(self) -> None:
        self.client.close()


def fresh_code() -> str:
    """A TOTP code not used yet: each login needs its own (a used code is refused)."""
    import pyotp

    totp = pyotp.TOTP(TOTP_SECRET)
    time.sleep(30 - time.time() % 30 + 0.5)
    return totp.now()


def targets_for(username: str) -> list[str]:
    """The user's menu pages (with their everyday filters) and the API collections: GET
    paths of the schema without a path parameter, other than the schema and its docs."""
    from django.contrib.auth import get_user_model
    from django.urls import reverse
    from drf_spectacular.generators import SchemaGenerator

    from trial.navigation import ENTRIES, menu_for

    user = get_user_model().objects.get(username=username)
    paths = ["/"]
    names = {reverse(e.url_name): e.url_name for e in ENTRIES if not e.url_name.startswith("admin")}
    for item in menu_for(user):
        paths.append(item["url"])
        for extra in EXTRA_VIEWS.get(names.get(item["url"], ""), []):
            paths.append(item["url"] + extra)
    schema = SchemaGenerator().get_schema(request=None, public=True)
    for path, operations in sorted(schema["paths"].items()):
        if (
            "get" in operations
            and "{" not in path
            and not path.endswith(("/schema/", "/docs/"))
            and path != TRIVIAL
        ):
            paths.append(path)
    return paths


def query_counts(username: str, paths: list[str]) -> dict[str, tuple[int, int]]:
    """(status, SQL queries) of each path, asked in-process as the same user."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django_otp.plugins.otp_totp.models import TOTPDevice

    user = get_user_model().objects.get(username=username)
    https: dict[str, Any] = {"wsgi.url_scheme": "https"}
    client = Client(HTTP_HOST="127.0.0.1", **https)
    client.force_login(user)
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is not None:
        session = client.session
        session["otp_device_id"] = device.persistent_id
        session.save()
    counted: dict[str, tuple[int, int]] = {}
    for path in paths:
        client.get(path, secure=True)  # warm caches as the server's workers are
        with CaptureQueriesContext(connection) as queries:
            response = client.get(path, secure=True)
        counted[path] = (response.status_code, len(queries))
    return counted


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def time_path(browser: Browser, path: str, repeats: int) -> tuple[int, int, list[float]]:
    for _ in range(2):
        browser.request("GET", path)
    latencies: list[float] = []
    status = size = 0
    for _ in range(repeats):
        start = time.perf_counter()
        response = browser.request("GET", path)
        latencies.append(time.perf_counter() - start)
        status, size = response.status_code, len(response.content)
    return status, size, latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--participants", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--requests", type=int, default=20, help="timed requests per path")
    parser.add_argument("--keep", action="store_true", help="reuse and keep the bench database")
    parser.add_argument("--roles", default=",".join(ROLES), help="comma-separated roles")
    parser.add_argument("--build-only", action="store_true", help="build the database, stop")
    args = parser.parse_args()
    env = bench_environment()
    started = time.perf_counter()
    prepare(env, args.participants, args.keep)
    print(f"prepared in {time.perf_counter() - started:.0f} s")
    if args.build_only:
        return
    port = env.get("PORT", "8000")
    server = start_server(env, port, args.workers)
    failures: list[str] = []
    try:
        print(f"gunicorn {args.workers} workers; {args.requests} timed requests per path")
        print(
            f"{'role':<15} {'path':<44} {'status':>6} {'p50 ms':>8} {'p95 ms':>8} "
            f"{'x sites':>7} {'KB':>8} {'SQL':>4}  goal"
        )
        for role in args.roles.split(","):
            username = f"pages-{role}"
            browser = Browser(f"http://127.0.0.1:{port}")
            browser.login(username, fresh_code() if role in TWO_FACTOR else None)
            paths = targets_for(username)
            counts = query_counts(username, [TRIVIAL, *paths])
            _, _, trivial = time_path(browser, TRIVIAL, args.requests)
            trivial_p95 = percentile(trivial, 95)
            print(
                f"{role:<15} {TRIVIAL:<44} {200:>6} {1000 * statistics.median(trivial):8.1f} "
                f"{1000 * trivial_p95:8.1f} {1.0:7.1f} {'':>8} {counts[TRIVIAL][1]:>4}  (trivial)"
            )
            for path in paths:
                if counts[path][0] in (400, 403, 404, 405):
                    # Not this role's (the walk tests check those answers), or not a list
                    # without a parameter (imr-instructors needs ?site=).
                    continue
                status, size, latencies = time_path(browser, path, args.requests)
                p95 = percentile(latencies, 95)
                # A documented refusal (409: not before the lock; a list that fails its
                # check) is the right answer of an unlocked bench trial: its time counts.
                met = p95 <= 0.150 and p95 <= 10 * trivial_p95 and status in (200, 409)
                if not met:
                    failures.append(f"{role} {path}")
                print(
                    f"{role:<15} {path:<44} {status:>6} {1000 * statistics.median(latencies):8.1f} "
                    f"{1000 * p95:8.1f} {p95 / trivial_p95:7.1f} {size / 1024:8.1f} "
                    f"{counts[path][1]:>4}  {'ok' if met else 'MISSED'}"
                )
            browser.close()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        if not args.keep:
            from django.db import connections

            connections.close_all()
            drop_database(env)
    missed = ", ".join(failures)
    print(f"goal missed by {len(failures)}: {missed}" if failures else "every goal met")
    print(f"wall time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
