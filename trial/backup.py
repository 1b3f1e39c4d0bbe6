"""Backups that restore: a pg_dump (custom format) of one consistent snapshot, with a manifest
(SHA-256, time, schema version, row counts, lock state), and its restore into an empty
database, verified against the manifest. The CPR keys are never in either: the dump holds the
CPR numbers encrypted, the keys live in the environment (CPR_KEYS) and are kept apart.

pg_dump and pg_restore run as the owner role (DATABASE_OWNER_URL)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

MANIFEST_FORMAT = 1


class BackupError(Exception):
    pass


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    user: str
    password: str
    name: str

    @classmethod
    def from_settings(cls, db: dict[str, Any]) -> Target:
        return cls(
            host=db["HOST"] or "127.0.0.1",
            port=int(db["PORT"] or 5432),
            user=db["USER"],
            password=db["PASSWORD"] or "",
            name=db["NAME"],
        )

    def connect(self, **kwargs: Any) -> psycopg.Connection:
        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password or None,
            dbname=self.name,
            **kwargs,
        )

    def tool_args(self) -> list[str]:
        return ["-h", self.host, "-p", str(self.port), "-U", self.user]

    def tool_env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.password:
            env["PGPASSWORD"] = self.password
        return env


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not installed (apt-get install postgresql-client).")
    return found


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def tables(cursor: psycopg.Cursor) -> list[str]:
    cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
    return [name for (name,) in cursor.fetchall()]


def row_counts(cursor: psycopg.Cursor) -> dict[str, int]:
    counts = {}
    for table in tables(cursor):
        cursor.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
        (counts[table],) = cursor.fetchone()  # type: ignore[misc]
    return counts


def schema_version(cursor: psycopg.Cursor) -> dict[str, str]:
    """The newest migration applied in each app."""
    cursor.execute("SELECT app, max(name) FROM django_migrations GROUP BY app ORDER BY app")
    return {app: name for app, name in cursor.fetchall()}


def lock_state(cursor: psycopg.Cursor) -> dict[str, Any]:
    cursor.execute("SELECT id, level FROM trial_datasetlock ORDER BY id DESC LIMIT 1")
    row = cursor.fetchone()
    return {"id": row[0], "level": row[1]} if row else {"id": None, "level": "open"}


def audit_triggers(cursor: psycopg.Cursor) -> int:
    """How many audit (pghistory), lock and truncate-guard triggers exist."""
    cursor.execute(
        "SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal AND "
        "(tgname LIKE 'pgtrigger_%' OR tgname = 'trial_refuse_truncate')"
    )
    (count,) = cursor.fetchone()  # type: ignore[misc]
    return int(count)


def backup(source: Target, directory: Path, *, now: datetime | None = None) -> Path:
    """Dump `source` into `directory`; returns the manifest's path. The counts and the dump
    come from one snapshot (pg_export_snapshot), so they agree even while people work."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    dump = directory / f"{source.name}-{stamp}.dump"
    with source.connect() as connection:
        connection.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        connection.read_only = True
        with connection.transaction(), connection.cursor() as cursor:
            cursor.execute("SELECT pg_export_snapshot()")
            (snapshot,) = cursor.fetchone()  # type: ignore[misc]
            counts = row_counts(cursor)
            version = schema_version(cursor)
            lock = lock_state(cursor)
            triggers = audit_triggers(cursor)
            done = subprocess.run(  # noqa: S603 (fixed program, arguments from settings)
                [tool("pg_dump"), *source.tool_args(), "--format=custom", f"--snapshot={snapshot}",
                 "--file", str(dump), source.name],
                env=source.tool_env(), capture_output=True, text=True, check=False,
            )  # fmt: skip
            if done.returncode != 0:
                dump.unlink(missing_ok=True)
                raise BackupError(f"pg_dump failed: {done.stderr.strip()}")
    manifest = {
        "format": MANIFEST_FORMAT,
        "file": dump.name,
        "sha256": sha256_of(dump),
        "bytes": dump.stat().st_size,
        "created_at": (now or datetime.now(UTC)).isoformat(),
        "database": source.name,
        "schema_version": version,
        "row_counts": counts,
        "lock": lock,
        "audit_triggers": triggers,
        # The CPR numbers in the dump are encrypted; their keys are not in the backup.
        "cpr_keys": "not included: restore needs the CPR_KEYS kept apart from the backups",
    }
    path = directory / f"{dump.name}.manifest.json"
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return path


def restore(manifest_path: Path, target: Target) -> dict[str, Any]:
    """Restore the backup described by `manifest_path` into `target`, an existing empty
    database, and verify it against the manifest. Raises BackupError on any difference."""
    manifest = json.loads(manifest_path.read_text())
    dump = manifest_path.parent / manifest["file"]
    if sha256_of(dump) != manifest["sha256"]:
        raise BackupError(f"{dump.name} does not match its manifest's SHA-256.")
    with target.connect() as connection, connection.cursor() as cursor:
        existing = tables(cursor)
    if existing:
        raise BackupError(
            f"The database {target.name} is not empty ({len(existing)} tables): restore into "
            "an empty database."
        )
    done = subprocess.run(  # noqa: S603 (fixed program, arguments from settings)
        [tool("pg_restore"), *target.tool_args(), "--dbname", target.name, "--exit-on-error",
         "--single-transaction", str(dump)],
        env=target.tool_env(), capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise BackupError(f"pg_restore failed: {done.stderr.strip()}")
    with target.connect() as connection, connection.cursor() as cursor:
        found = {
            "row_counts": row_counts(cursor),
            "schema_version": schema_version(cursor),
            "lock": lock_state(cursor),
            "audit_triggers": audit_triggers(cursor),
        }
    differences = [key for key, value in found.items() if manifest[key] != value]
    if differences:
        raise BackupError(
            "The restored database differs from the manifest in: " + ", ".join(differences)
        )
    return found
