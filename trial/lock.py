"""The freeze and the lock in PostgreSQL: the one trigger every trial-data table carries, and
how its refusal is recognised. The state itself is the newest row of trial.models.DatasetLock
(read it with trial.selectors.lock_level)."""

from __future__ import annotations

import pgtrigger
from django.db import connection

from trial.errors import LOCKED_SQLSTATE, sqlstate_of
from trial.models import DatasetLock

LOCK_TABLE = DatasetLock._meta.db_table


def refuse_when_locked(*, during_freeze: bool = True, frozen_unless: str = "") -> pgtrigger.Trigger:
    """A BEFORE trigger for a trial-data table: no row changes while the database is locked,
    and (for data-entry tables, `during_freeze=True`) none while it is frozen either.

    `frozen_unless` is an SQL condition on OLD/NEW/TG_OP under which a change passes while
    the database is frozen (source-data verification of a completed form); never after lock.

    The state is the newest row of the lock table, an append-only log of freeze/lock
    decisions. The check runs in PostgreSQL, so the admin, the shell, Celery tasks and raw
    `QuerySet.update()` calls are refused exactly as the pages and the API are."""
    frozen_too = "TRUE" if during_freeze else "FALSE"
    exception = (
        f"""
            IF current_level = 'freeze' AND {frozen_unless} THEN
                RETURN NEW;
            END IF;"""
        if frozen_unless
        else ""
    )
    return pgtrigger.Trigger(
        name="refuse_when_locked",
        when=pgtrigger.Before,
        operation=pgtrigger.Insert | pgtrigger.Update | pgtrigger.Delete,
        declare=[("current_level", "text")],
        func=f"""
            SELECT level INTO current_level FROM {LOCK_TABLE} ORDER BY id DESC LIMIT 1;{exception}
            IF current_level = 'lock' OR (current_level = 'freeze' AND {frozen_too}) THEN
                RAISE EXCEPTION 'The trial database is %: % cannot be changed.',
                    CASE current_level WHEN 'lock' THEN 'locked' ELSE 'frozen' END,
                    TG_TABLE_NAME
                    USING ERRCODE = '{LOCKED_SQLSTATE}';
            END IF;
            IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
            RETURN NEW;
        """,  # noqa: S608 (no user input: the lock table's name, a boolean, a fixed condition)
    )


def is_lock_refusal(exc: BaseException) -> bool:
    """True when `exc` is the lock trigger refusing a change (a services may then say more
    than trial.errors.from_database_error's generic 409, e.g. "nobody can be randomised")."""
    return sqlstate_of(exc) == LOCKED_SQLSTATE


def serialize_lock_changes() -> None:
    """Take the lock log's SHARE ROW EXCLUSIVE lock (one change of state at a time) through
    the owner's function: the runtime role may not lock the table in that mode itself."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT trial_serialize_lock_changes()")


def wait_for_writers(*, timeout: str) -> None:
    """Make a new freeze or lock hold from the moment it is committed: SHARE locks on every
    lock-aware table wait for the transactions that already wrote trial data (their trigger
    ran before the new state existed) and hold back new writers until the commit, after which
    their trigger sees the new state and refuses. Waits at most `timeout` (then
    LockNotAvailable)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [timeout])
        cursor.execute("SELECT trial_wait_for_writers()")
