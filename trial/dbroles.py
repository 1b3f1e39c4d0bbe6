"""What the runtime database role may do, and the guards that hold even for the owner
(DESIGN.md invariant 9). Applied by the owner after every migration (`post_migrate`, see
trial.apps), so a new table gets its privileges the moment it exists:

- every table gets the privileges of its class below, and nothing else: the runtime role never
  has TRUNCATE, REFERENCES or TRIGGER, and owns nothing (the owner creates every table);
- pghistory event tables and tables whose rows are immutable (an `append_only` or `immutable`
  trigger) are SELECT + INSERT only; the lock log is SELECT only (it changes through
  `trial_record_lock_level()`, trial/migrations/0004); a site's allocation position may move
  forward (SELECT, INSERT, UPDATE: its trigger allows +1 only);
- a BEFORE TRUNCATE trigger refuses to empty any trial, audit, allocation or lock table;
- pgtrigger's "ignore this trigger" switch (a session variable anyone may set) is honoured
  only for the owner, so the runtime role cannot switch a lock or audit trigger off.

`session_replication_role` and `ALTER TABLE ... DISABLE TRIGGER` need a superuser or the
table's owner, which the runtime role never is."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pghistory.models
from django.apps import apps
from django.conf import settings
from django.db import connections, models
from psycopg import sql

from trial.models import LOCK_FUNCTION


class Access(enum.Enum):
    READ = ("SELECT",)
    APPEND = ("SELECT", "INSERT")
    ADVANCE = ("SELECT", "INSERT", "UPDATE")
    READ_WRITE = ("SELECT", "INSERT", "UPDATE", "DELETE")


# Tables whose class does not follow from the rules of `access_of` (app_label.ModelName).
DECLARED: dict[str, Access] = {
    # The freeze/lock log: only trial_record_lock_level() writes it (who, why, one step a time).
    "trial.DatasetLock": Access.READ,
    # A site's next allocation position: taken with UPDATE ... + 1 (its trigger refuses rewinds,
    # skips and deletes); a row is inserted when a site's first list is written.
    "randomization.SiteSequence": Access.ADVANCE,
    # The outbox (trial.outbox): rows are written and marked sent, never deleted, so a task
    # cannot vanish before it reached the broker.
    "trial.OutboxMessage": Access.ADVANCE,
    # Written by the owner's post_migrate only.
    "contenttypes.ContentType": Access.READ,
    "auth.Permission": Access.READ,
}
# Triggers that make a table's rows immutable once written.
IMMUTABLE_TRIGGERS = frozenset({"append_only", "immutable"})
# Tables without a model: Django's migration log.
UNMODELLED: dict[str, Access] = {"django_migrations": Access.READ}

TRUNCATE_GUARD = "trial_refuse_truncate"
# A superuser that sets this (the test suite emptying its own database between tests) may
# truncate; nobody else, and no role the application connects with is a superuser.
ALLOW_TRUNCATE_SETTING = "imr.allow_truncate"


@dataclass(frozen=True)
class TablePrivileges:
    table: str
    access: Access


def _label(model: type[models.Model]) -> str:
    return f"{model._meta.app_label}.{model._meta.object_name}"


def access_of(model: type[models.Model]) -> Access:
    declared = DECLARED.get(_label(model))
    if declared is not None:
        return declared
    if issubclass(model, pghistory.models.Event):
        return Access.APPEND
    names = {getattr(trigger, "name", "") for trigger in getattr(model._meta, "triggers", [])}
    if names & IMMUTABLE_TRIGGERS:
        return Access.APPEND
    return Access.READ_WRITE


def _tables() -> list[type[models.Model]]:
    return [
        model
        for model in apps.get_models(include_auto_created=True)
        if model._meta.managed and not model._meta.proxy
    ]


def table_privileges() -> list[TablePrivileges]:
    found = {m._meta.db_table: TablePrivileges(m._meta.db_table, access_of(m)) for m in _tables()}
    for table, access in UNMODELLED.items():
        found[table] = TablePrivileges(table, access)
    return sorted(found.values(), key=lambda p: p.table)


def guarded_tables() -> list[str]:
    """The trial's own tables (audit events, allocations and the lock log among them) and
    pghistory's context table: none of them can be emptied with TRUNCATE."""
    base = Path(settings.BASE_DIR).resolve()
    tables = {
        model._meta.db_table
        for model in _tables()
        if Path(apps.get_app_config(model._meta.app_label).path).resolve().is_relative_to(base)
        or issubclass(model, pghistory.models.Event)
    }
    tables.add(pghistory.models.Context._meta.db_table)
    return sorted(tables)


TRUNCATE_GUARD_FUNCTION = sql.SQL(
    """
    CREATE OR REPLACE FUNCTION public.{guard}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF current_setting({setting}, true) = 'on'
           AND (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
            RETURN NULL;
        END IF;
        RAISE EXCEPTION '% cannot be emptied: trial data, the audit trail, allocations and '
            'the lock log are kept for good.', TG_TABLE_NAME USING ERRCODE = 'IMR02';
    END;
    $$
    """
)

# pgtrigger's own function (pgtrigger/compiler.py), with one difference: only a member of the
# owner role may skip a trigger with `pgtrigger.ignore`.
IGNORE_FUNCTION = sql.SQL(
    """
    CREATE OR REPLACE FUNCTION public._pgtrigger_should_ignore(trigger_name NAME)
    RETURNS BOOLEAN AS $$
        DECLARE
            _pgtrigger_ignore TEXT[];
            _result BOOLEAN;
        BEGIN
            IF NOT pg_has_role(current_user, {owner}, 'MEMBER') THEN
                RETURN FALSE;
            END IF;
            BEGIN
                SELECT INTO _pgtrigger_ignore CURRENT_SETTING('pgtrigger.ignore');
                EXCEPTION WHEN OTHERS THEN
            END;
            IF _pgtrigger_ignore IS NOT NULL THEN
                SELECT trigger_name = ANY(_pgtrigger_ignore) INTO _result;
                RETURN _result;
            ELSE
                RETURN FALSE;
            END IF;
        END;
    $$ LANGUAGE plpgsql
    """
)


def statements(
    *, runtime_role: str, owner_role: str, existing: set[str]
) -> Iterable[sql.Composable]:
    """Everything the owner runs after a migration, in order."""
    runtime = sql.Identifier(runtime_role)
    yield sql.SQL("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    yield sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(runtime)
    # New tables start with nothing for the runtime role until classified here.
    yield sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {}").format(runtime)
    for privileges in table_privileges():
        if privileges.table not in existing:
            continue  # a partial migration: granted once the table exists
        yield sql.SQL("GRANT {privileges} ON TABLE {table} TO {role}").format(
            privileges=sql.SQL(", ").join(sql.SQL(p) for p in privileges.access.value),
            table=sql.Identifier(privileges.table),
            role=runtime,
        )
    # nextval() for inserts; never setval() (UPDATE), so no sequence is rewound.
    yield sql.SQL("REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {}").format(runtime)
    yield sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {}").format(runtime)
    lock_function = sql.SQL("public.{}(text, text, bigint, integer, boolean)").format(
        sql.Identifier(LOCK_FUNCTION)
    )
    for function in (
        lock_function,
        sql.SQL("public.trial_serialize_lock_changes()"),
        sql.SQL("public.trial_wait_for_writers()"),
    ):
        if LOCK_FUNCTION not in existing:
            break  # migrated to before trial 0004: the functions do not exist yet
        yield sql.SQL("REVOKE ALL ON FUNCTION {} FROM PUBLIC").format(function)
        yield sql.SQL("GRANT EXECUTE ON FUNCTION {} TO {}").format(function, runtime)
    yield IGNORE_FUNCTION.format(owner=sql.Literal(owner_role))
    yield TRUNCATE_GUARD_FUNCTION.format(
        guard=sql.Identifier(TRUNCATE_GUARD), setting=sql.Literal(ALLOW_TRUNCATE_SETTING)
    )
    for table in guarded_tables():
        if table not in existing:
            continue
        yield sql.SQL(
            "CREATE OR REPLACE TRIGGER {guard} BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION public.{guard}()"
        ).format(guard=sql.Identifier(TRUNCATE_GUARD), table=sql.Identifier(table))


def apply(connection: Any, *, runtime_role: str) -> None:
    """Run `statements` as the connection's role (the owner)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        (owner_role,) = cursor.fetchone()
        if owner_role == runtime_role:
            raise RuntimeError(
                f"The runtime role {runtime_role!r} is the owner: migrate with the owner's URL "
                "(DATABASE_OWNER_URL, `manage.py migrate --database owner`)."
            )
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [runtime_role])
        if cursor.fetchone() is None:
            raise RuntimeError(
                f"The runtime role {runtime_role!r} does not exist: run "
                "`manage.py ensure_database` (or create it, README.md 'Configuration')."
            )
        cursor.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "UNION SELECT proname FROM pg_proc WHERE proname = %s",
            [LOCK_FUNCTION],
        )
        existing = {name for (name,) in cursor.fetchall()}
        raw = connection.connection
        for statement in statements(
            runtime_role=runtime_role, owner_role=owner_role, existing=existing
        ):
            cursor.execute(statement.as_string(raw))


def after_migrate(*, using: str, **kwargs: Any) -> None:
    """post_migrate receiver (trial.apps)."""
    apply(connections[using], runtime_role=settings.DATABASE_RUNTIME_ROLE)


# --- the runtime role itself ---------------------------------------------------------------

RUNTIME_ROLE_ATTRIBUTES = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"


def ensure_runtime_role(cursor: Any, *, role: str, password: str) -> bool:
    """Create the runtime role (or reset its password and attributes); True if created. Needs
    a superuser or a role with CREATEROLE; roles are shared by every database of a server.
    Run it in a transaction (the advisory lock below lasts until its end)."""
    # Several processes may do this at once (pytest-xdist workers): PostgreSQL refuses
    # concurrent changes of one role ("tuple concurrently updated"), so take turns. The lock
    # is released when the caller's transaction (or, in autocommit, this statement) ends.
    cursor.execute("SELECT current_user")
    (connected_as,) = cursor.fetchone()
    if role == connected_as:
        # Making the connecting (owner) role the runtime role would take its own rights away.
        raise ValueError(f"The runtime role {role} is the role this connection uses.")
    cursor.execute("SELECT pg_advisory_xact_lock(hashtext('imrtrial.ensure_runtime_role'))")
    cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
    exists = cursor.fetchone() is not None
    verb = "ALTER" if exists else "CREATE"
    statement = sql.SQL("{verb} ROLE {role} WITH {attributes} PASSWORD {password}").format(
        verb=sql.SQL(verb),
        role=sql.Identifier(role),
        attributes=sql.SQL(RUNTIME_ROLE_ATTRIBUTES),
        password=sql.Literal(password),
    )
    cursor.execute(statement)
    return not exists


def runtime_role_problems(cursor: Any, *, role: str, owner: str) -> list[str]:
    """Why `role` is not a least-privilege runtime role (empty: it is one)."""
    if role == owner:
        return [f"{role} is also the owner role: set DATABASE_OWNER_URL to another role."]
    cursor.execute(
        "SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls "
        "FROM pg_roles WHERE rolname = %s",
        [role],
    )
    row = cursor.fetchone()
    if row is None:
        return [f"The runtime role {role} does not exist."]
    names = ("SUPERUSER", "CREATEROLE", "CREATEDB", "REPLICATION", "BYPASSRLS")
    problems = [f"{role} has {name}." for name, held in zip(names, row, strict=True) if held]
    cursor.execute(
        "SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner "
        "WHERE r.rolname = %s",
        [role],
    )
    (owned,) = cursor.fetchone()
    if owned:
        problems.append(f"{role} owns {owned} tables, sequences or other relations.")
    return problems
