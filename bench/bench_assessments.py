"""Benchmark: concurrent assessors saving full PANSS forms over HTTP (issue 4).

Each client thread is one assessor with a token and participants of its own; it PUTs complete
PANSS forms (the first save creates the form, every later one changes a rating with a reason,
so every request writes a new audited version). In the same run, alternating with the writes,
the same number of clients call `GET /api/v1/sites/`, the cheapest authenticated endpoint. The
script prints throughput, p50/p95 latency, errors, and the ratio of PANSS saves per second to
site reads per second. Goal: ratio >= 0.4 and zero errors.

    .venv/bin/python bench/bench_assessments.py --start-server     # gunicorn on $PORT, then stop
    .venv/bin/python bench/bench_assessments.py --url http://127.0.0.1:8103  # a running server

Setup writes staff, tokens and consented participants into the database of DATABASE_URL
(the development database; never a trial database)."""

from __future__ import annotations

import argparse
import logging
import os
import random
import secrets
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imrtrial.settings")

PANSS_CODES = (
    [f"P{i}" for i in range(1, 8)]
    + [f"N{i}" for i in range(1, 8)]
    + [f"G{i}" for i in range(1, 17)]
)
PASSWORD = "Bench-" + secrets.token_urlsafe(12)


@dataclass
class Assessor:
    token: str
    participants: list[int]
    versions: dict[int, int] = field(default_factory=dict)
    saves: int = 0


def _unique_cpr(taken: set[str]) -> str:
    from participants import cpr as cpr_module
    from participants.models import Participant

    while True:
        born = date(1950, 1, 1) + timedelta(days=random.randrange(18000))
        serial = f"{random.randrange(4)}{random.randrange(1000):03d}"
        text = f"{born:%d%m%y}-{serial}"
        parsed = cpr_module.parse_cpr(text)
        if text in taken:
            continue
        if not Participant.objects.filter(cpr_hash__in=cpr_module.lookup_hashes(parsed)).exists():
            taken.add(text)
            return text


def setup(assessors: int, per_assessor: int) -> list[Assessor]:
    """Staff with tokens, and consented participants at BAL, through the real services."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    from accounts.tokens import token_issue
    from demo.builders import ELIGIBLE_ANSWERS
    from participants import services
    from trial.audit import task_context
    from trial.roles import Role
    from trial.services import staff_save

    call_command("setup_trial", stdout=open(os.devnull, "w"))  # noqa: SIM115
    run = secrets.token_hex(3)
    taken: set[str] = set()
    result = []
    with task_context("bench_assessments", None):
        coordinator = staff_save(
            username=f"bench-coordinator-{run}",
            roles=[Role.COORDINATOR],
            site_codes=["BAL"],
            password=PASSWORD,
        )
        for n in range(assessors):
            user = staff_save(
                username=f"bench-assessor-{run}-{n}",
                roles=[Role.ASSESSOR],
                site_codes=["BAL"],
                password=PASSWORD,
            )
            key, _ = token_issue(user=user)
            ids = []
            for _ in range(per_assessor):
                person = services.participant_register(
                    user=coordinator, site_code="BAL", cpr=_unique_cpr(taken), sex="female"
                )
                services.participant_screen(
                    user=coordinator, participant=person, answers=ELIGIBLE_ANSWERS
                )
                services.participant_record_consent(
                    user=coordinator, participant=person, consent_date=timezone.localdate()
                )
                ids.append(person.pk)
            result.append(Assessor(token=key, participants=ids))
    return result


def save_panss(client: httpx.Client, assessor: Assessor) -> tuple[int, int]:
    participant = assessor.participants[assessor.saves % len(assessor.participants)]
    assessor.saves += 1
    version = assessor.versions.get(participant, 0)
    items = {code: 1 + (i + assessor.saves) % 7 for i, code in enumerate(PANSS_CODES)}
    body: dict[str, Any] = {"items": items, "status": "complete", "version": version}
    if version:
        body["reason"] = "Benchmark re-rating"
    response = client.put(
        f"/api/v1/participants/{participant}/assessments/baseline/PANSS/", json=body
    )
    if response.status_code in (200, 201):
        assessor.versions[participant] = response.json()["version"]
    return response.status_code, 201 if version == 0 else 200


def read_sites(client: httpx.Client, assessor: Assessor) -> tuple[int, int]:
    return client.get("/api/v1/sites/").status_code, 200


@dataclass
class Phase:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    elapsed: float = 0.0

    @property
    def count(self) -> int:
        return len(self.latencies)


def run_phase(
    url: str, assessors: list[Assessor], action: Any, seconds: float, phase: Phase
) -> None:
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds
    start = time.perf_counter()

    def work(assessor: Assessor) -> None:
        headers = {"Authorization": f"Token {assessor.token}"}
        with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
            while time.perf_counter() < deadline:
                began = time.perf_counter()
                try:
                    status, expected = action(client, assessor)
                except httpx.HTTPError:
                    status, expected = -1, 0
                took = time.perf_counter() - began
                with lock:
                    phase.latencies.append(took)
                    if status != expected:
                        phase.errors += 1

    threads = [threading.Thread(target=work, args=(a,)) for a in assessors]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    phase.elapsed += time.perf_counter() - start


def describe(name: str, phase: Phase) -> dict[str, float]:
    ordered = sorted(phase.latencies)
    p50 = statistics.median(ordered) * 1000
    p95 = ordered[int(0.95 * (len(ordered) - 1))] * 1000
    rate = phase.count / phase.elapsed
    print(
        f"{name:<34} {phase.count:>7} req  {rate:>8.1f} req/s  p50 {p50:>7.1f} ms  "
        f"p95 {p95:>7.1f} ms  errors {phase.errors}"
    )
    return {"rate": rate, "p50": p50, "p95": p95, "errors": phase.errors}


def start_server(port: int, workers: int) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.update(DEBUG="false", ALLOWED_HOSTS="127.0.0.1,localhost", SECURE_SSL_REDIRECT="false")
    process = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "imrtrial.wsgi",
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    for _ in range(100):
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/v1/sites/", timeout=1)
            return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.terminate()
    raise SystemExit("The server did not start.")


def main() -> None:
    from trial.env import env, load_dotenv

    load_dotenv(ROOT / ".env")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="")
    parser.add_argument("--start-server", action="store_true")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (--start-server)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent assessors")
    parser.add_argument("--participants", type=int, default=5, help="participants per assessor")
    parser.add_argument("--seconds", type=float, default=5.0, help="per phase")
    parser.add_argument("--rounds", type=int, default=4, help="alternating read/save rounds")
    args = parser.parse_args()

    port = int(env("PORT", default="8000"))
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request would dominate
    url = args.url or f"http://127.0.0.1:{port}"
    assessors = setup(args.clients, args.participants)
    per_round: list[float] = []
    server = start_server(port, args.workers) if args.start_server else None
    try:
        warm = Phase()
        run_phase(url, assessors, read_sites, 1.0, warm)
        run_phase(url, assessors, save_panss, 1.0, warm)
        sites, panss = Phase(), Phase()
        for _ in range(args.rounds):  # alternate, so drift on a shared machine hits both alike
            round_sites, round_panss = Phase(), Phase()
            run_phase(url, assessors, read_sites, args.seconds, round_sites)
            run_phase(url, assessors, save_panss, args.seconds, round_panss)
            per_round.append(
                (round_panss.count / round_panss.elapsed)
                / (round_sites.count / round_sites.elapsed)
            )
            for total, part in ((sites, round_sites), (panss, round_panss)):
                total.latencies += part.latencies
                total.errors += part.errors
                total.elapsed += part.elapsed
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
    print(f"\n{args.clients} concurrent assessors, {args.participants} participants each, {url}")
    base = describe("GET /api/v1/sites/", sites)
    saves = describe("PUT full PANSS (complete, audited)", panss)
    ratio = saves["rate"] / base["rate"]
    print(f"ratio PANSS saves / site reads: {ratio:.2f} (goal >= 0.40)")
    print("ratio per round: " + ", ".join(f"{r:.2f}" for r in per_round))
    print(f"errors: {int(base['errors'] + saves['errors'])} (goal 0)")


if __name__ == "__main__":
    main()
