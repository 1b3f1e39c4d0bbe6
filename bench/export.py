"""Benchmark of the export pipeline at fifty times the trial's size (10,000 participants).

Builds a synthetic trial of 10,000 participants (randomised at three sites) with every
participant-level instrument at each of its timepoints, in a database of its own
(<DATABASE_URL name>_bench, made afresh), then runs one blinded export in every format through a
real Celery worker (solo pool, so the worker is one process) and prints:

- the wall time from the request to the published files, and the build time on the worker;
- the worker's peak memory (psutil samples and the kernel's high-water mark, VmHWM);
- in the same run, the time of a PostgreSQL `COPY` of the raw response rows to /dev/null, and
  the ratio of the export to it.

Run from the project root: `.venv/bin/python bench/export.py [--participants N]`.
Results are recorded in docs/benchmarks.md."""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Instruments as the trial uses them: items (code, low, high, step), scores as sums.
INSTRUMENTS: dict[str, dict] = {
    "GAF": {"items": [("GAF_S", 1, 100, 1), ("GAF_F", 1, 100, 1)], "tp": (0, 1, 2)},
    "PSP": {
        "items": [(f"PSP_{x}", 1, 6, 1) for x in "ABCD"] + [("PSP_TOTAL", 1, 100, 1)],
        "tp": (0, 1, 2),
    },
    "PANSS": {
        "items": [(f"P{i}", 1, 7, 1) for i in range(1, 8)]
        + [(f"N{i}", 1, 7, 1) for i in range(1, 8)]
        + [(f"G{i}", 1, 7, 1) for i in range(1, 17)],
        "tp": (0, 1, 2),
    },
    "HAMD6": {
        "items": [(f"HAMD6_{i}", 0, 4 if i < 6 else 2, 1) for i in range(1, 7)],
        "tp": (0, 1, 2),
    },
    "YMRS": {
        "items": [
            (f"YMRS_{i}", 0, 8 if i in (5, 6, 8, 9) else 4, 1 if i in (5, 6, 8, 9) else 0.5)
            for i in range(1, 12)
        ],
        "tp": (0, 1, 2),
    },
    "IMRS_P": {"items": [(f"IMRS_P_{i}", 1, 5, 1) for i in range(1, 16)], "tp": (0, 1, 2)},
    "IMRS_C": {"items": [(f"IMRS_C_{i}", 1, 5, 1) for i in range(1, 16)], "tp": (0, 1, 2)},
    "MHRM": {"items": [(f"MHRM_{i}", 0, 4, 1) for i in range(1, 31)], "tp": (0, 1, 2)},
    "SHS": {"items": [(f"SHS_{i}", 1, 8, 1) for i in range(1, 7)], "tp": (0, 1, 2)},
    "CSQ8": {"items": [(f"CSQ8_{i}", 1, 4, 1) for i in range(1, 9)], "tp": (1, 2)},
    "DEMOG": {
        "items": [
            ("HOUSING", 1, 4, 1),
            ("EMPLOYMENT", 1, 3, 1),
            ("EDUCATION", 1, 4, 1),
            ("LIVING", 1, 2, 1),
            ("DX_GROUP", 1, 2, 1),
            ("SUBSTANCE", 0, 1, 1),
        ],
        "tp": (0,),
    },
}
TIMEPOINTS = ("baseline", "post", "followup")
MISSING_REASONS = ("refused", "not_answered", "not_assessed", "insufficient_information")


def configure(participants: int) -> str:
    """Point Django at a fresh benchmark database and set it up."""
    from imrtrial.env import load_dotenv

    load_dotenv(ROOT / ".env")
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/imrtrial")
    url = base.rsplit("/", 1)[0] + "/" + base.rsplit("/", 1)[1].split("?")[0] + "_bench"
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imrtrial.settings")
    export_root = Path(tempfile.mkdtemp(prefix="imrtrial-bench-"))
    os.environ["EXPORT_ROOT"] = str(export_root)
    import django

    django.setup()
    from django.conf import settings

    db = settings.DATABASES["default"]
    import psycopg
    from psycopg import sql

    with psycopg.connect(
        host=db["HOST"], port=db["PORT"] or 5432, user=db["USER"],
        password=db["PASSWORD"] or None, dbname="postgres", autocommit=True,
    ) as admin:  # fmt: skip
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(db["NAME"])))  # fmt: skip
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db["NAME"])))
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("setup_trial", stdout=io.StringIO())
    print(f"database {db['NAME']}, exports in {export_root}, {participants} participants")
    return url


def _copy(cursor: object, table: str, columns: list[str], rows: list[tuple]) -> None:
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
        for row in rows:
            copy.write_row(row)


def build_trial(n: int) -> object:
    """Load the synthetic trial with COPY (triggers off: this measures exports, not loading)."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from imrtrial.models import RoleAssignment
    from imrtrial.sealing import seal
    from participants import cpr as cpr_module
    from participants.models import Site
    from participants.studyid import make_study_id

    rng = random.Random(20110601)
    user_model = get_user_model()
    staff = user_model.objects.create_user("bench-dm", password=None)
    RoleAssignment.objects.create(user=staff, role="data_manager")
    sites = list(Site.objects.order_by("number"))
    now = datetime.now(UTC)
    day0 = date.today() - timedelta(days=700)
    started = time.perf_counter()
    with connection.cursor() as django_cursor:
        cursor = django_cursor.cursor  # psycopg cursor: COPY support
        cursor.execute("SET session_replication_role = replica")
        people, screenings, lists, slots, allocations, responses = [], [], [], [], [], []
        sealed = {"IMR": seal("arm", "IMR"), "TAU": seal("arm", "TAU")}
        numbers = {site.pk: 0 for site in sites}
        token = cpr_module.encrypt(cpr_module.Cpr(digits="0101600000", birth_date=date(1960, 1, 1)))
        for site in sites:
            lists.append(
                (site.pk, site.pk, 1, "generated", 1, n, "0" * 64, "", "{}", staff.pk, now)
            )
        response_id = 0
        for pid in range(1, n + 1):
            site = sites[pid % len(sites)]
            numbers[site.pk] += 1
            number = numbers[site.pk]
            randomised = day0 + timedelta(days=rng.randrange(0, 300))
            at = datetime(randomised.year, randomised.month, randomised.day, 10, tzinfo=UTC)
            born = date(1950, 1, 1) + timedelta(days=rng.randrange(0, 15000))
            people.append((
                pid, site.pk, number, make_study_id(site.code, number), token,
                hashlib.sha256(f"bench-{pid}".encode()).hexdigest(), born,
                rng.choice(("female", "male")), "randomized", at - timedelta(days=14), staff.pk,
                randomised - timedelta(days=7), staff.pk, None, "",
            ))  # fmt: skip
            screenings.append((
                pid, rng.choice(("F20", "F31")), True, True, True, False, False, False, False,
                False, True, "[]", at - timedelta(days=10), staff.pk,
            ))  # fmt: skip
            arm = "IMR" if pid % 2 else "TAU"
            slots.append((pid, site.pk, site.pk, number, (number - 1) // 6 + 1, 6, sealed[arm]))
            allocations.append((pid, pid, pid, arm, f"R{pid:07d}", at, staff.pk, ""))
            for code, spec in INSTRUMENTS.items():
                for tp in spec["tp"]:
                    items, missing = {}, {}
                    for item, low, high, step in spec["items"]:
                        if rng.random() < 0.02:
                            missing[item] = rng.choice(MISSING_REASONS)
                            continue
                        steps = int((high - low) / step)
                        value = low + step * rng.randrange(0, steps + 1)
                        items[item] = int(value) if float(value).is_integer() else value
                    scores = {f"{code}_TOTAL": sum(items.values())} if not missing else {
                        f"{code}_TOTAL": None}  # fmt: skip
                    response_id += 1
                    interview = randomised + timedelta(
                        days=(0, 270, 630)[tp] - (7 if tp == 0 else 0)
                    )
                    responses.append((
                        response_id, pid, TIMEPOINTS[tp], code, json.dumps(items),
                        json.dumps(missing), json.dumps(scores), "complete", 1, interview,
                        staff.pk, "assessor", at, at, at,
                    ))  # fmt: skip
        _copy(cursor, "participants_participant",
              ["id", "site_id", "number", "study_id", "cpr_ciphertext", "cpr_hash",
               "date_of_birth", "sex", "status", "registered_at", "registered_by_id",
               "consent_date", "consent_recorded_by_id", "status_date", "status_reason"],
              people)  # fmt: skip
        _copy(cursor, "participants_eligibilityscreening",
              ["participant_id", "diagnosis", "pse_confirmed", "age_18_or_over",
               "danish_fluent", "guardian_or_forensic", "dementia_or_intellectual_disability",
               "active_substance_use_disorder", "community_residential_home",
               "in_psychoeducation_course", "eligible", "reasons", "screened_at",
               "screened_by_id"], screenings)  # fmt: skip
        _copy(cursor, "randomization_allocationlist",
              ["id", "site_id", "version", "source", "first_sequence", "length", "sha256",
               "seed_sealed", "parameters", "created_by_id", "created_at"], lists)  # fmt: skip
        _copy(cursor, "randomization_allocationslot",
              ["id", "allocation_list_id", "site_id", "sequence", "block", "block_size",
               "arm_sealed"], slots)  # fmt: skip
        _copy(cursor, "randomization_allocation",
              ["id", "participant_id", "slot_id", "arm", "randomization_code", "randomized_at",
               "randomized_by_id", "idempotency_key"], allocations)  # fmt: skip
        _copy(cursor, "assessments_instrumentresponse",
              ["id", "participant_id", "timepoint", "instrument", "items", "missing", "scores",
               "status", "version", "interview_date", "rater_id", "rater_role",
               "first_completed_at", "created_at", "updated_at"], responses)  # fmt: skip
        cursor.execute("SET session_replication_role = origin")
        for table in ("participants_participant", "participants_eligibilityscreening",
                      "randomization_allocationlist", "randomization_allocationslot",
                      "randomization_allocation", "assessments_instrumentresponse"):  # fmt: skip
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        cursor.execute("ANALYZE")
    print(
        f"built the trial: {len(people)} participants, {len(responses)} responses "
        f"in {time.perf_counter() - started:.1f} s"
    )
    return staff


def copy_to_devnull() -> float:
    """The floor: PostgreSQL streaming the raw response rows, discarded."""
    from django.db import connection

    started = time.perf_counter()
    size = 0
    query = "COPY (SELECT * FROM assessments_instrumentresponse) TO STDOUT"
    with (
        connection.cursor() as django_cursor,
        open(os.devnull, "wb") as sink,
        django_cursor.cursor.copy(query) as copy,
    ):
        for block in copy:
            size += len(block)
            sink.write(block)
    elapsed = time.perf_counter() - started
    print(f"COPY of the raw response rows to /dev/null: {elapsed:.2f} s ({size / 1e6:.0f} MB)")
    return elapsed


class Sampler(threading.Thread):
    """Samples the worker's resident memory every 20 ms."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        import psutil

        self.process = psutil.Process(pid)
        self.peak = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.02):
            try:
                self.peak = max(self.peak, self.process.memory_info().rss)
            except Exception:  # the process may be gone
                return


def high_water_mark(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def run_export(url: str, staff: object) -> tuple[float, float, int, int, object]:
    from django.conf import settings

    from exports import services
    from imrtrial.celery import app

    queue = f"bench-{uuid.uuid4().hex[:8]}"
    app.conf.task_default_queue = queue
    log = Path(settings.EXPORT_ROOT) / "worker.log"
    env = {**os.environ, "DATABASE_URL": url, "EXPORT_ROOT": str(settings.EXPORT_ROOT)}
    with open(log, "wb") as output:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "imrtrial", "worker", "-P", "solo",
             "-Q", queue, "-l", "INFO", "--without-gossip", "--without-mingle",
             "--without-heartbeat"],
            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        while " ready." not in log.read_text(errors="replace"):
            if worker.poll() is not None:
                raise RuntimeError(f"The worker did not start:\n{log.read_text()}")
            time.sleep(0.1)
        sampler = Sampler(worker.pid)
        sampler.start()
        started = time.perf_counter()
        job = services.export_request(
            user=staff, formats=["csv", "sav", "dta", "parquet", "odm"], blinded=True
        )
        while True:
            job.refresh_from_db()
            if job.status in ("done", "failed"):
                break
            if worker.poll() is not None:
                raise RuntimeError(f"The worker died:\n{log.read_text()}")
            time.sleep(0.1)
        wall = time.perf_counter() - started
        hwm = high_water_mark(worker.pid)
        sampler.stop.set()
        sampler.join()
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        import redis

        redis.Redis.from_url(settings.REDIS_URL).delete(
            queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}"
        )
    if job.status != "done":
        raise RuntimeError(f"The export failed: {job.error}")
    build = (job.finished_at - job.started_at).total_seconds()
    return wall, build, sampler.peak, hwm, job


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=10_000)
    args = parser.parse_args()
    url = configure(args.participants)
    staff = build_trial(args.participants)
    copy_seconds = copy_to_devnull()
    wall, build, peak, hwm, job = run_export(url, staff)
    copy_again = copy_to_devnull()
    floor = min(copy_seconds, copy_again)
    rows = {d["name"]: d["rows"] for d in job.manifest["datasets"]}  # type: ignore[attr-defined]
    sizes: dict[str, int] = {}
    for entry in job.files:  # type: ignore[attr-defined]
        sizes[entry["format"]] = sizes.get(entry["format"], 0) + entry["bytes"]
    print(f"datasets: {len(rows)}, rows: {sum(rows.values())} "
          f"(participants {rows['participants']})")  # fmt: skip
    print(
        "bytes by format: " + ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in sorted(sizes.items()))
    )
    stages = job.manifest["build_seconds"]  # type: ignore[attr-defined]
    print("build stages (s): " + ", ".join(f"{k} {v:.1f}" for k, v in stages.items()))
    print(f"export wall time (request -> published): {wall:.2f} s")
    print(f"export build time on the worker:        {build:.2f} s")
    print(f"worker peak memory: {max(peak, hwm) / 2**20:.0f} MiB "
          f"(sampled {peak / 2**20:.0f} MiB, VmHWM {hwm / 2**20:.0f} MiB)")  # fmt: skip
    print(f"ratio export wall time / COPY to /dev/null: {wall / floor:.1f}")
    print(f"ratio export build time / COPY to /dev/null: {build / floor:.1f}")


if __name__ == "__main__":
    main()
