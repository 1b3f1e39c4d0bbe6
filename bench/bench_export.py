"""Benchmark of the export pipeline at fifty times the trial's size (10,000 participants).

Builds a synthetic trial of 10,000 participants (randomised at three sites) in a database of
its own (<DATABASE_URL name>_bench, made afresh): every form instrument of the registry at each
of its timepoints with valid item values drawn from the instrument modules (about 2 % of items
missing with a reason, IMRS item 13 "not applicable" now and then, scores computed by the
modules), IMR groups of ten with weekly sessions, attendance and fidelity ratings for the IMR
arm, a register import with quarterly service-use periods, data queries and blinding guesses.
It then locks the database and runs one UNBLINDED export (every format unless --formats; every
dataset is built) through a real Celery worker (solo pool, so the worker is one process) and prints:

- the wall time from the request to the published files, and the build time on the worker;
- the worker's peak memory (psutil samples and the kernel's high-water mark, VmHWM);
- in the same run, the time of a PostgreSQL `COPY` of the raw response rows to /dev/null, and
  the ratio of the export to it.

Run from the project root:
`.venv/bin/python bench/bench_export.py [--participants N] [--blinded] [--keep] [--formats a,b]`
(the exported files are removed afterwards unless --keep).
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
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TIMEPOINTS = ("baseline", "post", "followup")
OFFSETS = {"baseline": -7, "post": 270, "followup": 630}
MISSING_REASONS = ("refused", "not_answered", "not_assessed", "insufficient_information")
TEMPLATES = 400  # distinct filled-in forms per instrument, drawn at random for each form
GROUP_SIZE = 10
SESSIONS = 40


def configure(participants: int) -> str:
    """Point Django at a fresh benchmark database and set it up."""
    from trial.env import load_dotenv

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

    from trial.dbconfig import OWNER_ALIAS

    # The owner role (trial/dbconfig.py) makes the database, migrates and loads the trial; the
    # export runs as the runtime role, as in production.
    db = settings.DATABASES[OWNER_ALIAS]
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

    call_command("ensure_database", stdout=io.StringIO())
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_ROLE": "owner"},
        check=True,
    )
    call_command("setup_trial", stdout=io.StringIO())
    print(f"database {db['NAME']}, exports in {export_root}, {participants} participants")
    return url


def _copy(cursor: Any, model: Any, rows: Iterable[dict[str, Any]]) -> int:
    """COPY rows (dicts by column name) into the model's table; other columns get their
    default. JSON values are dumped."""
    rows = list(rows)
    if not rows:
        return 0
    # The primary key is the database's unless the rows give it (other rows refer to it).
    fields = [f for f in model._meta.concrete_fields if not f.primary_key or f.column in rows[0]]
    columns = [f.column for f in fields]
    defaults = {}
    for f in fields:
        default = f.get_default() if f.has_default() else None
        defaults[f.column] = json.dumps(default) if isinstance(default, dict | list) else default
    count = 0
    table = model._meta.db_table
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(
                [
                    json.dumps(row[c])
                    if isinstance(row.get(c), dict | list)
                    else row[c]
                    if c in row
                    else defaults[c]
                    for c in columns
                ]
            )
            count += 1
    return count


def _pick(item: Any, rng: random.Random, values: dict[str, Any]) -> Any:
    if item.type == "text":  # DX_ICD10, consistent with the diagnosis group
        return "F31.1" if values.get("DX_GROUP") == 2 else "F20.0"
    allowed = item.allowed_values()
    if allowed:
        return rng.choice(allowed)
    low = int(item.min if item.min is not None else 0)
    high = int(item.max if item.max is not None else low + 30)
    return rng.randint(low, high)


def form_templates(code: str, rng: random.Random) -> list[tuple[str, str, str]]:
    """Filled-in forms of one instrument: valid values from the module, some items missing
    with a reason, the scores computed by the module (as the services store them)."""
    from instruments import registry

    instrument = registry.get(code)
    templates = []
    for _ in range(TEMPLATES):
        values: dict[str, Any] = {}
        missing: dict[str, str] = {}
        for item in instrument.entered_items:
            if item.is_relevant(values) is not True:
                continue
            if item.na_structural and rng.random() < 0.1:
                missing[item.code] = "not_applicable"
            elif rng.random() < 0.02:
                missing[item.code] = rng.choice(MISSING_REASONS)
            else:
                values[item.code] = _pick(item, rng, values)
        scores = instrument.compute_scores(values, missing)
        templates.append((json.dumps(values), json.dumps(missing), json.dumps(scores)))
    return templates


def add_months(day: date, months: int) -> date:
    from assessments.windows import add_months as months_later

    return months_later(day, months)


def build_trial(n: int) -> tuple[Any, Any]:
    """Load the synthetic trial with COPY (triggers off: this measures exports, not loading)."""
    from django.contrib.auth import get_user_model
    from django.db import connections

    from assessments import models as am
    from fidelity import models as fm
    from instruments import registry
    from participants import cpr as cpr_module
    from participants.models import EligibilityScreening, Participant
    from participants.studyid import make_study_id
    from randomization import models as rm
    from trial.dbconfig import OWNER_ALIAS
    from trial.models import RoleAssignment, Site
    from trial.sealing import seal

    rng = random.Random(20110601)
    users = get_user_model()
    dm = users.objects.create_user("bench-dm", password=None)
    RoleAssignment.objects.create(user=dm, role="data_manager")
    statistician = users.objects.create_user("bench-stat", password=None)
    RoleAssignment.objects.create(user=statistician, role="statistician")
    sites = list(Site.objects.order_by("number"))
    assessors = {}
    for site in sites:
        assessors[site.pk] = users.objects.create_user(f"bench-assessor-{site.code}")
        RoleAssignment.objects.create(user=assessors[site.pk], role="assessor", site=site)
    instructor = users.objects.create_user("bench-instructor", password=None)
    raters = [users.objects.create_user(f"bench-rater-{i}", password=None) for i in (1, 2)]
    now = datetime.now(UTC)
    first_day = date.today() - timedelta(days=1200)
    forms = [i for i in registry.forms()]
    templates = {i.code: form_templates(i.code, rng) for i in forms}
    started = time.perf_counter()
    Rows = list[dict[str, Any]]
    people: Rows = []
    screenings: Rows = []
    lists: Rows = []
    slots: Rows = []
    allocations: Rows = []
    responses: Rows = []
    queries: Rows = []
    messages: Rows = []
    guesses: Rows = []
    sealed = {"IMR": seal("arm", "IMR"), "TAU": seal("arm", "TAU")}
    numbers = {site.pk: 0 for site in sites}
    token = cpr_module.encrypt(cpr_module.Cpr(digits="0101600000", birth_date=date(1960, 1, 1)))
    for site in sites:
        lists.append({
            "id": site.pk, "site_id": site.pk, "version": 1, "source": "generated",
            "first_sequence": 1, "length": n, "sha256": "0" * 64, "seed_sealed": "",
            "parameters": {}, "created_by_id": statistician.pk, "created_at": now,
        })  # fmt: skip
    randomized_on: dict[int, date] = {}
    imr_by_site: dict[int, list[int]] = {site.pk: [] for site in sites}
    response_id = query_id = 0
    for pid in range(1, n + 1):
        site = sites[pid % len(sites)]
        numbers[site.pk] += 1
        number = numbers[site.pk]
        day0 = first_day + timedelta(days=rng.randrange(0, 300))
        randomized_on[pid] = day0
        at = datetime(day0.year, day0.month, day0.day, 10, tzinfo=UTC)
        people.append({
            "id": pid, "site_id": site.pk, "number": number,
            "study_id": make_study_id(site.code, number), "cpr_ciphertext": token,
            "cpr_hash": hashlib.sha256(f"bench-{pid}".encode()).hexdigest(),
            "date_of_birth": date(1950, 1, 1) + timedelta(days=rng.randrange(0, 15000)),
            "sex": rng.choice(("female", "male")), "status": "randomized",
            "registered_at": at - timedelta(days=14), "registered_by_id": dm.pk,
            "consent_date": day0 - timedelta(days=7), "consent_recorded_by_id": dm.pk,
            "status_date": None, "status_reason": "", "randomized_at": at,
        })  # fmt: skip
        screenings.append({
            "participant_id": pid, "diagnosis": rng.choice(("F20", "F31")),
            "pse_confirmed": True, "age_18_or_over": True, "danish_fluent": True,
            "guardian_or_forensic": False, "dementia_or_intellectual_disability": False,
            "active_substance_use_disorder": False, "community_residential_home": False,
            "in_psychoeducation_course": False, "eligible": True, "reasons": [],
            "screened_at": at - timedelta(days=10), "screened_by_id": dm.pk,
        })  # fmt: skip
        arm = "IMR" if pid % 2 else "TAU"
        if arm == "IMR":
            imr_by_site[site.pk].append(pid)
        slots.append({"id": pid, "allocation_list_id": site.pk, "site_id": site.pk,
                      "sequence": number, "block": (number - 1) // 6 + 1, "block_size": 6,
                      "arm_sealed": sealed[arm]})  # fmt: skip
        allocations.append({"id": pid, "participant_id": pid, "slot_id": pid, "arm": arm,
                            "randomization_code": f"R{pid:07d}", "randomized_at": at,
                            "randomized_by_id": dm.pk, "idempotency_key": ""})  # fmt: skip
        for instrument in forms:
            for timepoint in instrument.timepoints:
                items, missing, scores = rng.choice(templates[instrument.code])
                response_id += 1
                interview = day0 + timedelta(days=OFFSETS[timepoint])
                moment = datetime(interview.year, interview.month, interview.day, 12, tzinfo=UTC)
                responses.append({
                    "id": response_id, "participant_id": pid, "timepoint": timepoint,
                    "instrument": instrument.code, "items": items, "missing": missing,
                    "comments": "{}", "scores": scores,
                    "status": "verified" if rng.random() < 0.3 else "complete", "version": 1,
                    "interview_date": interview, "rater_id": assessors[site.pk].pk,
                    "rater_role": "assessor", "first_completed_at": moment,
                    "created_at": moment, "updated_at": moment,
                })  # fmt: skip
                if rng.random() < 0.03:
                    query_id += 1
                    closed = rng.random() < 0.98
                    queries.append({
                        "id": query_id, "response_id": response_id, "item": "",
                        "kind": rng.choice(("manual", "automatic")), "edit_check": "",
                        "status": "closed" if closed else "open", "message": "Please check",
                        "raised_by_id": dm.pk, "raised_at": moment + timedelta(days=2),
                        "answered_at": moment + timedelta(days=5) if closed else None,
                        "closed_by_id": dm.pk if closed else None,
                        "closed_at": moment + timedelta(days=9) if closed else None,
                    })  # fmt: skip
                    messages.append({"query_id": query_id, "action": "raised",
                                     "text": "Please check", "author_id": dm.pk,
                                     "author_role": "data_manager",
                                     "at": moment + timedelta(days=2)})  # fmt: skip
        for timepoint in ("post", "followup"):
            guess_day = day0 + timedelta(days=OFFSETS[timepoint])
            guesses.append({"participant_id": pid, "timepoint": timepoint,
                            "assessor_id": assessors[site.pk].pk,
                            "guess": rng.choice(("IMR", "TAU", "dont_know")),
                            "recorded_at": datetime(guess_day.year, guess_day.month,
                                                    guess_day.day, 15, tzinfo=UTC)})  # fmt: skip
    groups, members, sessions, attendance, ratings = _imr_delivery(
        rng, sites, imr_by_site, randomized_on, instructor, raters, now
    )
    periods = _register(rng, randomized_on, n)
    # As the owner: only it may switch the triggers off for the load.
    with connections[OWNER_ALIAS].cursor() as django_cursor:
        cursor = django_cursor.cursor  # psycopg cursor: COPY support
        cursor.execute("SET session_replication_role = replica")
        loaded = {
            "participants": _copy(cursor, Participant, people),
            "screenings": _copy(cursor, EligibilityScreening, screenings),
        }
        _copy(cursor, rm.AllocationList, lists)
        _copy(cursor, rm.AllocationSlot, slots)
        _copy(cursor, rm.Allocation, allocations)
        loaded["responses"] = _copy(cursor, am.InstrumentResponse, responses)
        loaded["queries"] = _copy(cursor, am.Query, queries)
        _copy(cursor, am.QueryMessage, messages)
        loaded["guesses"] = _copy(cursor, rm.BlindingGuess, guesses)
        _copy(cursor, rm.UnblindingIncident, [{
            "person_id": assessors[sites[0].pk].pk, "participant_id": 3,
            "learned_on": first_day + timedelta(days=400), "how": "participant_told",
            "description": "", "reported_by_id": dm.pk, "reported_at": now,
        }])  # fmt: skip
        loaded["groups"] = _copy(cursor, fm.ImrGroup, groups)
        _copy(cursor, fm.GroupMembership, members)
        loaded["sessions"] = _copy(cursor, fm.GroupSession, sessions)
        loaded["attendance"] = _copy(cursor, fm.Attendance, attendance)
        loaded["fidelity ratings"] = _copy(cursor, fm.FidelityRating, ratings)
        _copy(cursor, am.RegisterImport, [{
            "id": 1, "imported_by_id": dm.pk, "imported_at": now, "file_sha256": "0" * 64,
            "lines": len(periods), "participants": len({p["participant_id"] for p in periods}),
            "note": "bench", "superseded_by_id": None, "superseded_at": None,
        }])  # fmt: skip
        loaded["register periods"] = _copy(cursor, am.ServiceUsePeriod, periods)
        cursor.execute("SET session_replication_role = origin")
        # The load bypassed the trigger that keeps each visit's progress (the worklist's
        # source): fill it from the responses, as a trigger-kept database would have it.
        cursor.execute(am.REBUILD_VISIT_PROGRESS_SQL)
        for model in (Participant, EligibilityScreening, rm.AllocationList, rm.AllocationSlot,
                      rm.Allocation, am.InstrumentResponse, am.Query, am.QueryMessage,
                      rm.BlindingGuess, rm.UnblindingIncident, fm.ImrGroup, fm.GroupMembership,
                      fm.GroupSession, fm.Attendance, fm.FidelityRating, am.RegisterImport,
                      am.ServiceUsePeriod):  # fmt: skip
            table = model._meta.db_table
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        cursor.execute("ANALYZE")
    print(
        "built the trial: "
        + ", ".join(f"{count} {what}" for what, count in loaded.items())
        + f" in {time.perf_counter() - started:.1f} s"
    )
    return dm, statistician


def _imr_delivery(
    rng: random.Random,
    sites: list[Any],
    imr_by_site: dict[int, list[int]],
    randomized_on: dict[int, date],
    instructor: Any,
    raters: list[Any],
    now: datetime,
) -> tuple[list[dict], list[dict], list[dict], list[dict], list[dict]]:
    """Groups of ten participants randomised to IMR at the same site (in order of
    randomisation), 40 weekly sessions (two cancelled), attendance by each member's own
    propensity (about one in eight never comes), and rater 1, rater 2 and consensus ratings at
    midway and at the end."""
    groups: list[dict] = []
    members: list[dict] = []
    sessions: list[dict] = []
    attendance: list[dict] = []
    ratings: list[dict] = []
    session_id = 0
    for site in sites:
        pids = sorted(imr_by_site[site.pk], key=lambda pid: randomized_on[pid])
        for start in range(0, len(pids), GROUP_SIZE):
            cohort = pids[start : start + GROUP_SIZE]
            group_id = len(groups) + 1
            begin = max(randomized_on[pid] for pid in cohort) + timedelta(days=14)
            groups.append({"id": group_id, "site_id": site.pk, "name": f"{site.code}-{group_id}",
                           "start_date": begin, "capacity": GROUP_SIZE,
                           "enrolment_closed": True, "created_by_id": instructor.pk,
                           "created_at": now})  # fmt: skip
            propensity = {pid: 0.0 if rng.random() < 0.13 else rng.uniform(0.2, 0.95)
                          for pid in cohort}  # fmt: skip
            for pid in cohort:
                members.append({"group_id": group_id, "participant_id": pid, "joined_on": begin,
                                "added_by_id": instructor.pk, "added_at": now})  # fmt: skip
            for week in range(SESSIONS):
                session_id += 1
                cancelled = week in (7, 23)
                sessions.append({
                    "id": session_id, "group_id": group_id,
                    "date": begin + timedelta(weeks=week), "module": 1 + week * 11 // SESSIONS,
                    "status": "cancelled" if cancelled else "held",
                    "cancel_reason": "Holiday" if cancelled else "", "attendance_version": 1,
                    "attendance_recorded_at": now, "created_by_id": instructor.pk,
                    "created_at": now, "updated_at": now,
                })  # fmt: skip
                if cancelled:
                    continue
                for pid in cohort:
                    attendance.append({"session_id": session_id, "participant_id": pid,
                                       "present": rng.random() < propensity[pid],
                                       "recorded_by_id": instructor.pk,
                                       "recorded_at": now})  # fmt: skip
            for timepoint, week in (("midway", 17), ("end", SESSIONS)):
                day = begin + timedelta(weeks=week)
                base = rng.randint(2, 5)
                for kind, rater in (("rater1", 0), ("rater2", 1), ("consensus", 0)):
                    items = {f"FID_{i}": min(5, max(1, base + rng.choice((-1, 0, 0, 1))))
                             for i in range(1, 14)}  # fmt: skip
                    ratings.append({"group_id": group_id, "timepoint": timepoint,
                                    "rater_kind": kind, "rater_id": raters[rater].pk,
                                    "items": items, "rated_on": day, "notes": "",
                                    "submitted_at": now, "updated_at": now})  # fmt: skip
    return groups, members, sessions, attendance, ratings


def _register(rng: random.Random, randomized_on: dict[int, date], n: int) -> list[dict]:
    """Quarterly register periods from 12 months before randomisation to the follow-up due
    date (they fall inside the analysis windows); 1 % have a period across the W1/W2 boundary
    and 2 % are not in the file at all (linkage failed)."""
    periods = []
    line = 0
    for pid in range(1, n + 1):
        if rng.random() < 0.02:
            continue
        day0 = randomized_on[pid]
        bounds = [add_months(day0, -12 + 3 * k) for k in range(12)]
        spans = [(bounds[k], bounds[k + 1] - timedelta(days=1)) for k in range(11)]
        if rng.random() < 0.01:
            spans[6:8] = [(spans[6][0], spans[7][1])]  # across W1/W2
        for start, end in spans:
            line += 1
            admissions = rng.choice((0, 0, 0, 0, 0, 0, 1, 1, 2))
            periods.append({
                "register_import_id": 1, "participant_id": pid, "line": line,
                "period_start": start, "period_end": end, "admissions": admissions,
                "admission_days": admissions * rng.randint(3, 30),
                "emergency_visits": rng.choice((0, 0, 0, 1, 1, 2, 3)),
                "outpatient_contacts": rng.randint(0, 12),
            })  # fmt: skip
    return periods


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


def run_export(
    url: str, staff: Any, *, blinded: bool, formats: list[str]
) -> tuple[float, float, int, int, Any]:
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
        job = services.export_request(user=staff, formats=formats, blinded=blinded)
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
    assert job.finished_at is not None and job.started_at is not None
    build = (job.finished_at - job.started_at).total_seconds()
    return wall, build, sampler.peak, hwm, job


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=10_000)
    parser.add_argument(
        "--blinded", action="store_true", help="a blinded export (data manager) instead"
    )
    parser.add_argument("--keep", action="store_true", help="keep the exported files")
    parser.add_argument(
        "--formats", default="", help="comma-separated formats (default: every format)"
    )
    args = parser.parse_args()
    url = configure(args.participants)
    try:
        measure(url, args)
    finally:
        if not args.keep:
            import shutil

            from django.conf import settings

            shutil.rmtree(settings.EXPORT_ROOT, ignore_errors=True)


def measure(url: str, args: argparse.Namespace) -> None:
    dm, statistician = build_trial(args.participants)
    from exports import services
    from exports.models import ExportFormat

    services.dataset_lock(
        user=dm, reason="Benchmark: the analysis lock", override_open_queries=True
    )
    copy_seconds = copy_to_devnull()
    formats = args.formats.split(",") if args.formats else list(ExportFormat.values)
    wall, build, peak, hwm, job = run_export(
        url, dm if args.blinded else statistician, blinded=args.blinded, formats=formats
    )
    copy_again = copy_to_devnull()
    floor = min(copy_seconds, copy_again)
    rows = {d["name"]: d["rows"] for d in job.manifest["datasets"]}
    sizes: dict[str, int] = {}
    for entry in job.files:
        sizes[entry["format"]] = sizes.get(entry["format"], 0) + entry["bytes"]
    wide = next(d for d in job.manifest["datasets"] if d["name"] == "responses_wide")
    print(f"formats: {', '.join(job.formats)}")
    print(f"export: {'blinded' if args.blinded else 'unblinded'}, {len(rows)} datasets, "
          f"{sum(rows.values())} rows")  # fmt: skip
    print("rows by dataset: " + ", ".join(
        f"{name} {count}" for name, count in rows.items() if not name.startswith("responses_long")
    ) + f", responses_long_* {sum(c for n, c in rows.items() if n.startswith('responses_long'))}"
    + f" (wide: {len(wide['variables'])} variables)")  # fmt: skip
    print(
        "bytes by format: " + ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in sorted(sizes.items()))
    )
    stages = job.manifest["build_seconds"]
    print("build stages (s): " + ", ".join(f"{k} {v:.1f}" for k, v in stages.items()))
    print(f"export wall time (request -> published): {wall:.2f} s")
    print(f"export build time on the worker:        {build:.2f} s")
    print(f"worker peak memory: {max(peak, hwm) / 2**20:.0f} MiB "
          f"(sampled {peak / 2**20:.0f} MiB, VmHWM {hwm / 2**20:.0f} MiB)")  # fmt: skip
    print(f"ratio export wall time / COPY to /dev/null: {wall / floor:.1f}")
    print(f"ratio export build time / COPY to /dev/null: {build / floor:.1f}")


if __name__ == "__main__":
    main()
