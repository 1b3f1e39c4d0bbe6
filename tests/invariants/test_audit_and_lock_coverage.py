"""DESIGN.md invariants 4 (audit) and 7 (locks hold), model by model: every table of the project
apps is tracked by django-pghistory and carries the lock trigger, or stands below with the reason
it does not; every pghistory event table refuses UPDATE and DELETE in PostgreSQL.

The checks read PostgreSQL's own catalogue (pg_trigger), so they hold for the admin, the shell,
raw SQL and Celery tasks as much as for the pages and the API."""

from __future__ import annotations

from typing import Any

import pytest
from django.apps import apps
from django.db import DatabaseError, connection, transaction
from pghistory.models import Event

from tests.invariants.world import PROJECT_APPS, Trial
from trial.errors import LOCKED_SQLSTATE

# Models that are not tracked by pghistory, and why.
UNTRACKED = {
    "randomization.AllocationSlot": "an event row would copy the sealed arm into a table more "
    "people can read; slots never change (immutable trigger) and every read is logged",
    "randomization.SiteSequence": "the lock row and counter of randomisation, derived from the "
    "allocations; changed only in the transaction that writes a (tracked) allocation",
    "randomization.RandomizationLogEntry": "an append-only log (RANDOMISATION.md §4): it is its "
    "own audit trail",
    "exports.ExportDownload": "an append-only log of downloads",
    "exports.MaskingKey": "written once and never changed (append-only trigger)",
    "exports.MaskingKeyRelease": "an append-only log of who was shown the masking key",
    "accounts.AuthEvent": "the append-only security log",
    "accounts.ApiToken": "credentials, not trial data; an event row would copy token digests",
    "assessments.VisitProgress": "derived from the (tracked) responses by their trigger in the "
    "same statement; it holds form codes only",
    "assessments.WorklistVisit": "derived from the (tracked) participants and visit progress by "
    "their triggers in the same statement; a copy of their columns for the worklist's indexes",
    "trial.OutboxMessage": "delivery bookkeeping of Celery tasks (task name, ids, when sent), not "
    "trial data; the change each row announces is audited itself",
}

# Models without the lock trigger (trial.lock.refuse_when_locked), and why.
NOT_LOCKED = {
    "trial.Site": "configuration: codes and numbers never change (read-only in the "
    "admin); a display name may be corrected after lock (datasets carry SITE codes with fixed "
    "labels from the DEMOG module, never Site.name)",
    "randomization.SiteSequence": "changed only in the transaction that writes an allocation, "
    "which the allocation's own lock trigger refuses",
    "randomization.RandomizationLogEntry": "reading a list after the lock is still recorded",
    "trial.DatasetLock": "the freeze/lock log itself",
    "exports.ExportJob": "exports happen after the lock",
    "exports.ExportDownload": "downloads happen after the lock",
    "exports.MaskingKey": "made by the first blinded export, which may follow the lock",
    "exports.MaskingKeyRelease": "the key is shown only after the lock",
    "trial.RoleAssignment": "accounts, not trial data",
    "accounts.AuthEvent": "logins happen after the lock",
    "accounts.ApiToken": "credentials, not trial data",
    "accounts.AccountPreference": "a member of staff's own choice of language, not trial data; "
    "it stays open after lock",
    "accounts.PasswordChangeDemand": "accounts, not trial data: a user changes a password "
    "after the lock too",
    "assessments.VisitProgress": "derived: written only by the responses' trigger, after their "
    "own lock trigger has let the change through (verification while frozen included)",
    "assessments.WorklistVisit": "derived: written only by the participants' and the visit "
    "progress's triggers, after the participants' and responses' own lock triggers",
    "trial.OutboxMessage": "exports are asked for after the lock and their builds go through "
    "the outbox",
}

ROW, BEFORE, INSERT, DELETE, UPDATE = 1, 2, 4, 8, 16


def project_models() -> list[Any]:
    """The concrete tables of the project apps, less pghistory's event models."""
    found = []
    for model in apps.get_models():
        meta = model._meta
        if meta.app_label not in PROJECT_APPS or meta.proxy or not meta.managed:
            continue
        if issubclass(model, Event):
            continue
        found.append(model)
    return found


def event_models() -> list[Any]:
    """pghistory's event tables (not its read-only aggregate view of them)."""
    return [
        m
        for m in apps.get_models()
        if issubclass(m, Event) and m._meta.managed and not m._meta.proxy
    ]


def triggers(table: str) -> list[tuple[str, int, str]]:
    """(name, type bits, function source) of a table's own triggers."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT t.tgname, t.tgtype, p.prosrc
            FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
            WHERE t.tgrelid = %s::regclass AND NOT t.tgisinternal AND t.tgenabled <> 'D'
            """,
            [table],
        )
        return list(cursor.fetchall())


def lock_trigger(table: str) -> bool:
    """A row trigger firing before every insert, update and delete that reads the freeze/lock
    log and raises the trial's "locked" SQLSTATE."""
    wanted = ROW | BEFORE | INSERT | UPDATE | DELETE
    return any(
        kind & wanted == wanted and "trial_datasetlock" in source and LOCKED_SQLSTATE in source
        for _, kind, source in triggers(table)
    )


def refuses_change(table: str) -> bool:
    """A row trigger firing before every update and every delete that raises."""
    return all(
        any(
            kind & (ROW | BEFORE | op) == ROW | BEFORE | op and "RAISE" in source.upper()
            for _, kind, source in triggers(table)
        )
        for op in (UPDATE, DELETE)
    )


def test_every_project_model_is_tracked_by_pghistory_or_exempt_with_a_reason(db: None) -> None:
    labels = {m._meta.label for m in project_models()}
    untracked = {m._meta.label for m in project_models() if not hasattr(m, "pgh_event_model")}
    assert untracked - set(UNTRACKED) == set(), "track these with @pghistory.track()"
    assert set(UNTRACKED) - untracked == set(), "these are tracked now: drop them from UNTRACKED"
    assert set(UNTRACKED) <= labels


def test_every_project_model_carries_the_lock_trigger_or_is_exempt_with_a_reason(
    db: None,
) -> None:
    unlocked = {m._meta.label for m in project_models() if not lock_trigger(m._meta.db_table)}
    assert unlocked - set(NOT_LOCKED) == set(), "add refuse_when_locked() to Meta.triggers"
    assert set(NOT_LOCKED) - unlocked == set(), "these carry it now: drop them from NOT_LOCKED"


def test_the_staff_account_proxy_is_tracked() -> None:
    from accounts.models import StaffAccount

    assert hasattr(StaffAccount, "pgh_event_model")


def test_every_event_table_refuses_update_and_delete_in_the_database(db: None) -> None:
    tables = [m._meta.db_table for m in event_models()]
    assert len(tables) >= 20
    open_tables = [t for t in tables if not refuses_change(t)]
    assert open_tables == [], "event tables without an append-only trigger"


def test_every_event_row_in_a_real_trial_refuses_an_update_and_a_delete(
    trial: Trial, db: None
) -> None:
    """The catalogue check above, tried for real on the event tables the trial filled."""
    tried, accepted = [], []
    for model in event_models():
        table = connection.ops.quote_name(model._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT pgh_id FROM {table} LIMIT 1")
            row = cursor.fetchone()
        if row is None:
            continue
        tried.append(model._meta.label)
        for sql in (
            f"UPDATE {table} SET pgh_label = 'forged' WHERE pgh_id = %s",
            f"DELETE FROM {table} WHERE pgh_id = %s",
        ):
            try:
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute(sql, [row[0]])
            except DatabaseError:
                continue
            accepted.append(f"{model._meta.label}: {sql.split()[0]}")
    assert len(tried) >= 15, tried
    assert accepted == []


@pytest.mark.parametrize(
    "label",
    sorted({"randomization.AllocationList", "randomization.AllocationSlot"}),
)
def test_allocation_lists_refuse_new_rows_after_the_lock(
    label: str, trial: Trial, db: None
) -> None:
    """The list services refuse after freeze or lock; the database now does too (a list or a
    slot added in the shell after the lock would change what the locked data says)."""
    from trial.models import DatasetLock
    from trial.roles import Role

    DatasetLock.objects.create(level="lock", reason="Final", set_by=trial.user(Role.DATA_MANAGER))
    model = apps.get_model(label)
    source = model.objects.first()
    table = connection.ops.quote_name(model._meta.db_table)
    columns = [f.column for f in model._meta.concrete_fields if f.column != "id"]
    names = ", ".join(connection.ops.quote_name(c) for c in columns)
    with pytest.raises(DatabaseError) as refused, transaction.atomic(), connection.cursor() as c:
        c.execute(
            f"INSERT INTO {table} ({names}) SELECT {names} FROM {table} WHERE id = %s",
            [source.pk],
        )
    assert LOCKED_SQLSTATE in str(getattr(refused.value.__cause__, "sqlstate", "")) or (
        "locked" in str(refused.value)
    )
