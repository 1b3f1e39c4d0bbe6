"""The worklist's SQL in-process, at 10,000 participants: the statement's time per role and
filter, without HTTP, templates or the other queries of the page.

    .venv/bin/python bench/bench_worklist.py [--repeats 30] [--explain] [--roles assessor,...]
                                             [--against REV] [--backlog FRACTION]

It reuses the database that `bench/bench_pages.py --keep` built (`<DATABASE_URL name>_pages`,
with its `pages-<role>` accounts) and never changes it. For each role and view (the page's
default `active`, each state, `all`, the third page of completed visits, and the API's `all`
with its page of 50) it calls `worklist_page` R times after two warm-up calls and prints
p50/p95 of the whole call and of its main statement alone (EXPLAIN ANALYZE's execution time,
which leaves out the round trip and Python). With --explain it prints the plan of the
assessor's default view (ANALYZE, BUFFERS).

--against REV times the worklist module of git revision REV as well, call for call beside
this checkout's (alternating, same database, same moment), so that the two can be compared
on a shared machine. --backlog F first sets the forms of a fraction F of the participants'
post and follow-up visits back to draft, in a transaction that is rolled back at the end (the
bench trial has every form of every visit done; a real trial has visits still to do).
Results: docs/benchmarks.md (issue #14)."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

# (label, states, offset, counts per state): what the page and the API ask for.
VIEWS = (
    ("active", ("due", "open", "overdue"), 0, True),
    ("due", ("due",), 0, True),
    ("open", ("open",), 0, True),
    ("overdue", ("overdue",), 0, True),
    ("completed", ("completed",), 0, True),
    ("completed p3", ("completed",), 100, True),
    ("all (API)", (), 0, False),
)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def setup() -> None:
    from bench_pages import bench_environment

    env = bench_environment()
    os.environ.update(env)
    os.environ["DATABASE_ROLE"] = "owner"
    import django

    django.setup()


def main_statement(call: Any) -> tuple[str, Any]:
    """The worklist's largest statement of one call (the visits), with its parameters."""
    from django.db import connection

    captured: list[tuple[str, Any]] = []

    def keep(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        captured.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(keep):
        call()
    sql, params = max(captured, key=lambda c: len(c[0]))
    return sql, params if isinstance(params, dict) else list(params or [])


def execution_ms(sql: str, params: Any) -> float:
    """The statement's execution time as PostgreSQL measures it (EXPLAIN ANALYZE)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return float(plan[0]["Execution Time"])


def explain_text(sql: str, params: Any) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def module_at(revision: str) -> Any:
    """assessments/worklist.py as it was at `revision`, loaded beside this checkout's."""
    import importlib.util
    import subprocess
    import tempfile

    source = subprocess.run(
        ["git", "show", f"{revision}:assessments/worklist.py"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "worklist_then.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("worklist_then", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def make_backlog(fraction: float) -> int:
    """Sets the post and follow-up forms of about `fraction` of the participants back to
    draft (the triggers keep the visits' progress); the caller rolls it back."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """UPDATE assessments_instrumentresponse SET status = 'draft'
               WHERE timepoint IN ('post', 'followup') AND status <> 'draft'
                 AND participant_id %% 1000 < %s""",
            [round(fraction * 1000)],
        )
        return cursor.rowcount


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--roles", default="assessor,clinician,coordinator")
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--against", help="git revision whose worklist to time beside this one")
    parser.add_argument("--backlog", type=float, default=0.0, help="fraction set back to draft")
    args = parser.parse_args()
    setup()
    from django.db import transaction

    with transaction.atomic():
        if args.backlog:
            print(f"backlog: {make_backlog(args.backlog)} forms set back to draft (rolled back)")
        run(args)
        transaction.set_rollback(True)


def run(args: argparse.Namespace) -> None:
    from django.contrib.auth import get_user_model

    from assessments.worklist import worklist_page

    codes = {"now": worklist_page}
    if args.against:
        codes[args.against] = module_at(args.against).worklist_page

    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(
        f"{'role':<12} {'view':<13} {'code':<8} {'call p50':>9} {'call p95':>9} "
        f"{'SQL p50':>8} {'SQL p95':>8}"
    )
    for role in args.roles.split(","):
        user = get_user_model().objects.get(username=f"pages-{role}")
        for label, states, offset, counts in VIEWS:
            calls: dict[str, Any] = {}
            for name, page in codes.items():

                def call(
                    page: Any = page,
                    user: Any = user,
                    states: tuple[str, ...] = states,
                    offset: int = offset,
                    counts: bool = counts,
                ) -> Any:
                    # The API asks for no counts per state.
                    extra: dict[str, Any] = {"counts": counts} if not counts else {}
                    return page(user=user, states=states, offset=offset, limit=50, **extra)

                calls[name] = call
            statements = {name: main_statement(call) for name, call in calls.items()}
            if args.explain and role == "assessor" and label == "active":
                print(explain_text(*statements["now"]))
            for call in calls.values():
                call()
                call()
            timed: dict[str, tuple[list[float], list[float]]] = {n: ([], []) for n in calls}
            for _ in range(args.repeats):
                for name, call in calls.items():  # alternating: the same moment for each
                    start = time.perf_counter()
                    call()
                    timed[name][0].append(1000 * (time.perf_counter() - start))
                    timed[name][1].append(execution_ms(*statements[name]))
            for name, (whole, sql) in timed.items():
                print(
                    f"{role:<12} {label:<13} {name[:8]:<8} {statistics.median(whole):9.1f} "
                    f"{percentile(whole, 95):9.1f} {statistics.median(sql):8.1f} "
                    f"{percentile(sql, 95):8.1f}"
                )
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
