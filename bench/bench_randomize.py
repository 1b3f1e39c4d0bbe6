"""Randomisation over HTTP under concurrency, against a real gunicorn server.

    .venv/bin/python bench/bench_randomize.py [--participants 900] [--clients 16] [--workers 4]
                                              [--relay]

What it does, in one run:
1. creates (or recreates) a separate database `<DATABASE_URL name>_bench`, migrates it, sets up
   the trial, coordinators with API tokens, allocation lists and N participants ready to be
   randomised (eligible, consented, baseline complete), spread over the three sites;
2. starts gunicorn (`--workers W`, DEBUG off) on $PORT (from .env) against that database;
3. in alternating rounds, measures `GET /api/v1/sites/` with C concurrent clients and
   randomises a share of the participants (`POST /api/v1/participants/{id}/randomize/` with an
   Idempotency-Key) with C concurrent clients, 10% of them retried with the same key by another
   client (a double click); every participant is randomised exactly once over the rounds;
4. prints throughput, p50/p95 latency and errors of each endpoint, duplicates found in the
   answers and in the database (a slot used twice, a participant twice, a gap in a site's
   list), and the ratio of randomisation throughput to sites throughput;
5. stops gunicorn and drops the bench database (unless --keep).

The request writes its confirmation e-mail to the outbox; sending it is the outbox relay's
work (`manage.py outbox_relay`), not the request's. With --relay the relay runs beside
gunicorn on the same machine (its CPU then counts against both endpoints' rounds) and the
bench reports how many of the messages it had sent by the end; without it, as with the Celery
worker, which is not run either, the messages wait in the outbox and the queue.

Goal (issue #3): ratio >= 0.5, no errors, no duplicates. Results: docs/benchmarks.md."""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def bench_environment() -> dict[str, str]:
    from trial.env import load_dotenv

    load_dotenv(ROOT / ".env")
    env = dict(os.environ)
    base = env.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/imrtrial")
    env["DATABASE_URL"] = base.rstrip("/") + "_bench"
    env["DEBUG"] = "false"
    env["SECURE_SSL_REDIRECT"] = "false"
    env["ALLOWED_HOSTS"] = "127.0.0.1,localhost"
    env["EMAIL_BACKEND"] = "django.core.mail.backends.dummy.EmailBackend"
    env["LOG_LEVEL"] = "WARNING"
    env["PYTHONWARNINGS"] = "ignore::UserWarning"  # WhiteNoise: no collectstatic here
    env["DJANGO_SETTINGS_MODULE"] = "imrtrial.settings"
    return env


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True
    )


def prepare(env: dict[str, str], participants: int) -> dict[str, Any]:
    """Fresh bench database with staff, lists and participants ready to be randomised."""
    import dj_database_url
    import psycopg

    config = dj_database_url.parse(env["DATABASE_URL"])
    admin_dsn = (
        f"host={config['HOST']} port={config['PORT'] or 5432} user={config['USER']} dbname=postgres"
    )
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{config["NAME"]}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{config["NAME"]}"')
    # The server connects as the least-privilege runtime role, which ensure_database creates;
    # this process migrates and builds as the owner role (trial/dbconfig.py), as
    # bench_pages.py does.
    manage(env, "ensure_database")
    owner = {**env, "DATABASE_ROLE": "owner"}
    manage(owner, "migrate", "--no-input")
    manage(owner, "setup_trial")
    os.environ.update(owner)
    import django

    django.setup()
    from django.utils import timezone

    from accounts.tokens import token_issue
    from demo.builders import ELIGIBLE_ANSWERS, complete_baseline, make_staff
    from participants import services
    from randomization.services import allocation_lists_generate
    from trial.roles import Role

    statistician = make_staff("bench-statistician", Role.STATISTICIAN)
    per_site = participants // 3 + 1
    allocation_lists_generate(per_site=per_site + 10, user=statistician, channel="cli")
    tokens: dict[str, str] = {}
    ids: list[tuple[int, str]] = []
    sites = ("BAL", "GLA", "FRB")
    for code in sites:
        coordinator = make_staff(f"bench-coordinator-{code}", Role.COORDINATOR, sites=[code])
        tokens[code], _ = token_issue(user=coordinator)
    today = timezone.localdate()
    for n in range(participants):
        code = sites[n % 3]
        from django.contrib.auth import get_user_model

        coordinator = get_user_model().objects.get(username=f"bench-coordinator-{code}")
        cpr = f"{1 + n % 28:02d}{1 + (n // 28) % 12:02d}{50 + n // 336:02d}-{1000 + n:04d}"
        participant = services.participant_register(
            user=coordinator, site_code=code, cpr=cpr, sex="female" if n % 2 else "male"
        )
        services.participant_screen(
            user=coordinator, participant=participant, answers=dict(ELIGIBLE_ANSWERS)
        )
        services.participant_record_consent(
            user=coordinator, participant=participant, consent_date=today
        )
        complete_baseline(participant)
        ids.append((participant.pk, code))
    return {"tokens": tokens, "participants": ids}


def start_server(env: dict[str, str], port: str, workers: int) -> subprocess.Popen:
    server = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "imrtrial.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
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


def start_relay(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "outbox_relay"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )


def sent_confirmations(expected: int, patience: float = 10.0) -> int:
    """How many confirmations the relay has sent, once it has sent them all or `patience`
    seconds have passed (it may still be sending the last round's when the clients stop)."""
    from trial.models import OutboxMessage

    deadline = time.monotonic() + patience
    while True:
        sent = OutboxMessage.objects.filter(
            task="randomization.tasks.send_randomization_confirmation", sent_at__isnull=False
        ).count()
        if sent >= expected or time.monotonic() > deadline:
            return sent
        time.sleep(0.2)


def run_clients(clients: int, jobs: list[Any], do: Any) -> tuple[float, list[Any]]:
    """Run `do(client, job)` for every job with `clients` threads; wall time and results."""
    queue = list(jobs)
    lock = threading.Lock()
    results: list[Any] = []
    barrier = threading.Barrier(clients + 1)

    def worker() -> None:
        with httpx.Client(timeout=30) as client:
            barrier.wait()
            while True:
                with lock:
                    if not queue:
                        return
                    job = queue.pop()
                outcome = do(client, job)
                with lock:
                    results.append(outcome)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start, results


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def summarise(name: str, elapsed: float, latencies: list[float], errors: int) -> float:
    throughput = len(latencies) / elapsed
    print(
        f"{name:<28} {len(latencies):>6} req  {throughput:8.1f} req/s  "
        f"p50 {1000 * statistics.median(latencies):7.1f} ms  "
        f"p95 {1000 * percentile(latencies, 95):7.1f} ms  errors {errors}"
    )
    return throughput


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--participants", type=int, default=900)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--sites-requests", type=int, default=1800)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    parser.add_argument("--relay", action="store_true", help="run the outbox relay beside gunicorn")
    args = parser.parse_args()

    env = bench_environment()
    port = env.get("PORT", "8000")
    print(f"Preparing {args.participants} participants in a fresh bench database ...")
    data = prepare(env, args.participants)
    server = start_server(env, port, args.workers)
    relay = start_relay(env) if args.relay else None
    base = f"http://127.0.0.1:{port}"
    try:
        any_token = next(iter(data["tokens"].values()))

        def get_sites(client: httpx.Client, _: Any) -> tuple[float, bool]:
            start = time.perf_counter()
            response = client.get(
                f"{base}/api/v1/sites/", headers={"Authorization": f"Token {any_token}"}
            )
            return time.perf_counter() - start, response.status_code == 200

        # Warm every worker up (imports, connections) before measuring.
        run_clients(args.clients, list(range(args.clients * 4)), get_sites)

        jobs = [(pk, code, f"bench-{pk}") for pk, code in data["participants"]]
        rng = random.Random(1361698)
        retried = rng.sample(jobs, len(jobs) // 10)
        mixed = jobs + retried
        rng.shuffle(mixed)

        def randomize(client: httpx.Client, job: tuple[int, str, str]) -> tuple:
            pk, code, key = job
            start = time.perf_counter()
            response = client.post(
                f"{base}/api/v1/participants/{pk}/randomize/",
                json={},
                headers={"Authorization": f"Token {data['tokens'][code]}", "Idempotency-Key": key},
            )
            latency = time.perf_counter() - start
            body = response.json() if response.status_code == 201 else None
            return latency, pk, response.status_code, body

        # The two workloads alternate in rounds, so that a change in the machine's background
        # load during the run affects both alike; each endpoint's throughput is its requests
        # over its total time.
        elapsed_of = {"sites": 0.0, "randomise": 0.0}
        sites_results: list[Any] = []
        results: list[tuple] = []
        per_round = -(-len(mixed) // args.rounds)
        sites_per_round = args.sites_requests // args.rounds
        for index in range(args.rounds):
            elapsed, round_results = run_clients(
                args.clients, list(range(sites_per_round)), get_sites
            )
            elapsed_of["sites"] += elapsed
            sites_results.extend(round_results)
            chunk = mixed[index * per_round : (index + 1) * per_round]
            elapsed, chunk_results = run_clients(args.clients, chunk, randomize)
            elapsed_of["randomise"] += elapsed
            results.extend(chunk_results)
        sites_rate = summarise(
            "GET /api/v1/sites/",
            elapsed_of["sites"],
            [r[0] for r in sites_results],
            sum(1 for r in sites_results if not r[1]),
        )
        errors = sum(1 for r in results if r[2] != 201)
        randomize_rate = summarise(
            "POST .../randomize/", elapsed_of["randomise"], [r[0] for r in results], errors
        )

        bodies: dict[int, set[str]] = defaultdict(set)
        for _, pk, status, body in results:
            if status == 201:
                bodies[pk].add(repr(sorted(body.items())))
        answer_duplicates = sum(1 for seen in bodies.values() if len(seen) > 1)
        database_duplicates = check_database()
        print(f"participants randomised      {len(bodies)} of {len(jobs)}")
        print(f"retries (same key)           {len(retried)} answered with the first allocation")
        print(f"duplicates in answers        {answer_duplicates}")
        print(f"duplicates/gaps in database  {database_duplicates}")
        print(f"ratio randomise / sites      {randomize_rate / sites_rate:.2f}")
        if relay is not None:
            sent = sent_confirmations(len(jobs))
            print(f"confirmations sent by relay  {sent} of {len(jobs)}")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        if relay is not None:
            relay.terminate()
            relay.wait(timeout=30)
        from imrtrial.celery import app

        app.control.purge()  # the confirmation e-mails queued by the bench are not sent
        if not args.keep:
            from django.db import connections

            connections.close_all()
            import dj_database_url
            import psycopg

            config = dj_database_url.parse(env["DATABASE_URL"])
            dsn = f"host={config['HOST']} port={config['PORT'] or 5432} user={config['USER']}"
            with psycopg.connect(dsn + " dbname=postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{config["NAME"]}" WITH (FORCE)')


def check_database() -> int:
    """Slots used twice, participants randomised twice, gaps in a site's used positions."""
    from django.db.models import Count

    from randomization.models import Allocation

    problems = Allocation.objects.values("slot").annotate(n=Count("id")).filter(n__gt=1).count()
    problems += (
        Allocation.objects.values("participant").annotate(n=Count("id")).filter(n__gt=1).count()
    )
    by_site: dict[int, list[int]] = defaultdict(list)
    for site, sequence in Allocation.objects.values_list("slot__site_id", "slot__sequence"):
        by_site[site].append(sequence)
    for sequences in by_site.values():
        if sorted(sequences) != list(range(1, len(sequences) + 1)):
            problems += 1
    return problems


if __name__ == "__main__":
    main()
