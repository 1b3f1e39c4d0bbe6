"""The worklist's SQL in-process, at 10,000 participants: the statement's time per role and
filter, without HTTP, templates or the other queries of the page.

    .venv/bin/python bench/bench_worklist.py [--repeats 30] [--explain] [--roles assessor,...]

It reuses the database that `bench/bench_pages.py --build-only --keep` built
(`<DATABASE_URL name>_pages`, with its `pages-<role>` accounts) and never changes it. For each
role and view (the page's default `active`, each state, `all`, the third page of completed
visits, and the API's `all` with its page of 50) it calls `worklist_page` R times after two
warm-up calls and prints p50/p95 of the whole call and of its main statement alone
(EXPLAIN ANALYZE's execution time, which leaves out the round trip and Python). With
--explain it prints the plan of the assessor's default view (ANALYZE, BUFFERS).

Run it in two checkouts against the same database, one after the other, to compare code on
a shared machine: the load moves, so compare runs made side by side. Results:
docs/benchmarks.md (issue #14)."""

from __future__ import annotations

import argparse
import inspect
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


# Whether worklist_page takes `counts` (not in the code before issue #14's third run), so that
# the script can time both.
COUNTS_OPTIONAL = False


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


def main_statement(call: Any) -> tuple[str, list[Any]]:
    """The worklist's largest statement of one call (the visits), with its parameters."""
    from django.db import connection

    captured: list[tuple[str, Any]] = []

    def keep(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        captured.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(keep):
        call()
    sql, params = max(captured, key=lambda c: len(c[0]))
    return sql, list(params or [])


def execution_ms(sql: str, params: list[Any]) -> float:
    """The statement's execution time as PostgreSQL measures it (EXPLAIN ANALYZE)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return float(plan[0]["Execution Time"])


def explain_text(sql: str, params: list[Any]) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--roles", default="assessor,clinician,coordinator")
    parser.add_argument("--explain", action="store_true")
    args = parser.parse_args()
    setup()
    from django.contrib.auth import get_user_model

    from assessments.worklist import worklist_page

    global COUNTS_OPTIONAL
    COUNTS_OPTIONAL = "counts" in inspect.signature(worklist_page).parameters

    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(
        f"{'role':<12} {'view':<13} {'call p50':>9} {'call p95':>9} {'SQL p50':>8} {'SQL p95':>8}"
    )
    for role in args.roles.split(","):
        user = get_user_model().objects.get(username=f"pages-{role}")
        for label, states, offset, counts in VIEWS:

            def call(
                user: Any = user,
                states: tuple[str, ...] = states,
                offset: int = offset,
                counts: bool = counts,
            ) -> Any:
                # The API asks for no counts per state (the code before it had no choice).
                extra: dict[str, Any] = {"counts": counts} if not counts and COUNTS_OPTIONAL else {}
                return worklist_page(user=user, states=states, offset=offset, limit=50, **extra)

            sql, params = main_statement(call)
            if args.explain and role == "assessor" and label == "active":
                print(explain_text(sql, params))
            for _ in range(2):
                call()
            calls, statements = [], []
            for _ in range(args.repeats):
                start = time.perf_counter()
                call()
                calls.append(1000 * (time.perf_counter() - start))
                statements.append(execution_ms(sql, params))
            print(
                f"{role:<12} {label:<13} {statistics.median(calls):9.1f} "
                f"{percentile(calls, 95):9.1f} {statistics.median(statements):8.1f} "
                f"{percentile(statements, 95):8.1f}"
            )
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
