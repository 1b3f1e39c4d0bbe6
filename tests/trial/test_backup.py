"""`manage.py backup` and `manage.py restore`: a backup of a built trial restores into an
empty database with every table exactly as it was, verified against the manifest."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from psycopg import sql

from exports.services import dataset_lock
from tests.factories import make_allocation_lists, make_participant, make_staff, randomize
from trial import backup
from trial.roles import Role


def content(target: backup.Target) -> dict[str, tuple[int, str]]:
    """Every table: its row count and a digest of all its rows."""
    found = {}
    with target.connect() as conn, conn.cursor() as cursor:
        for table in backup.tables(cursor):
            cursor.execute(
                sql.SQL(
                    "SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), ''))"
                    " FROM {} AS t"
                ).format(sql.Identifier(table))
            )
            row = cursor.fetchone()
            assert row is not None  # (count(*) always answers one row)
            found[table] = (row[0], row[1])
    return found


@pytest.fixture
def source(transactional_db: None, sites: dict, settings: Any) -> backup.Target:
    """A small trial, committed: staff, allocation lists, randomised participants, the lock."""
    settings.RANDOMIZATION_REQUIRES_BASELINE = False
    coordinator = make_staff("coord", Role.COORDINATOR, sites=["BAL", "GLA", "FRB"])
    dm = make_staff("dm", Role.DATA_MANAGER)
    make_allocation_lists(per_site=6)
    for site in ("BAL", "GLA", "BAL"):
        randomize(make_participant(site, user=coordinator), user=coordinator)
    make_participant("FRB", user=coordinator)
    dataset_lock(user=dm, reason="Final analysis", override_open_queries=True)
    return backup.Target.from_settings(connection.settings_dict)


@pytest.fixture
def empty(source: backup.Target) -> Iterator[backup.Target]:
    target = replace(source, name=f"{source.name}_restored")
    admin = replace(source, name="postgres")
    with admin.connect(autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(target.name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(target.name)))
    yield target
    with admin.connect(autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(target.name))
        )


def test_a_backup_of_a_built_trial_restores_every_table_exactly(
    source: backup.Target, empty: backup.Target, tmp_path: Path
) -> None:
    manifest_path = backup.backup(source, tmp_path)
    manifest = json.loads(manifest_path.read_text())
    assert manifest["lock"]["level"] == "lock"
    assert manifest["row_counts"]["randomization_allocation"] == 3
    assert manifest["row_counts"]["participants_participantevent"] > 0
    with source.connect() as conn, conn.cursor() as cursor:
        assert manifest["schema_version"] == backup.schema_version(cursor)
    assert manifest["schema_version"]["trial"] >= "0004_lock_log_written_by_function"
    assert len(manifest["sha256"]) == 64
    # No key material in the manifest or the dump.
    dump = (tmp_path / manifest["file"]).read_bytes()
    for key in settings.CPR_KEYS:
        assert key.encode() not in dump
        assert key not in manifest_path.read_text()

    found = backup.restore(manifest_path, empty)
    assert found["row_counts"] == manifest["row_counts"]
    assert content(empty) == content(source)


def test_restore_refuses_a_database_that_is_not_empty(
    source: backup.Target, tmp_path: Path
) -> None:
    manifest_path = backup.backup(source, tmp_path)
    with pytest.raises(backup.BackupError, match="not empty"):
        backup.restore(manifest_path, source)


def test_restore_refuses_a_dump_that_does_not_match_its_manifest(
    source: backup.Target, empty: backup.Target, tmp_path: Path
) -> None:
    manifest_path = backup.backup(source, tmp_path)
    dump = tmp_path / json.loads(manifest_path.read_text())["file"]
    dump.write_bytes(dump.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(backup.BackupError, match="SHA-256"):
        backup.restore(manifest_path, empty)
    with (
        psycopg.connect(
            host=empty.host, port=empty.port, user=empty.user, dbname=empty.name
        ) as conn,
        conn.cursor() as cursor,
    ):
        assert backup.tables(cursor) == []


def test_the_backup_command_writes_the_dump_and_its_manifest(
    source: backup.Target, tmp_path: Path
) -> None:
    call_command("backup", "--output", str(tmp_path), stdout=open("/dev/null", "w"))  # noqa: SIM115
    manifests = list(tmp_path.glob("*.manifest.json"))
    assert len(manifests) == 1
    assert (tmp_path / json.loads(manifests[0].read_text())["file"]).exists()
