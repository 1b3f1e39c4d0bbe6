"""The database defends itself against the application's own role (DESIGN.md invariant 9):
connected as the runtime role, PostgreSQL refuses what an attacker holding the application's
credentials would try. Each test acts as the runtime role with `SET LOCAL ROLE` inside the
test's transaction, so privileges are checked exactly as for the web app's connection."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.db import DatabaseError, connection, transaction

from exports.services import dataset_freeze, dataset_unlock
from randomization.models import Allocation, SiteSequence
from tests.factories import make_participant, make_staff, randomize
from trial import dbroles
from trial.errors import IMMUTABLE_SQLSTATE, LOCKED_SQLSTATE, from_database_error, sqlstate_of
from trial.models import DatasetLock
from trial.roles import Role
from trial.selectors import lock_level

INSUFFICIENT_PRIVILEGE = "42501"
RUNTIME = settings.DATABASE_RUNTIME_ROLE


def run(statement: str, params: list[Any] | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def refused(statement: str, params: list[Any] | None = None) -> str:
    """Run `statement` in a savepoint; return the SQLSTATE PostgreSQL refused it with."""
    try:
        with transaction.atomic():
            run(statement, params)
    except DatabaseError as exc:
        state = sqlstate_of(exc)
        assert state, exc
        return state
    raise AssertionError(f"PostgreSQL accepted: {statement}")


def as_runtime_role() -> None:
    run(f'SET LOCAL ROLE "{RUNTIME}"')


@pytest.fixture
def randomized(db: None, sites: dict, settings: Any) -> Iterator[Allocation]:
    """A randomised participant (allocation, events and log rows exist), built as the owner."""
    from tests.factories import make_allocation_lists

    settings.RANDOMIZATION_REQUIRES_BASELINE = False
    make_allocation_lists(per_site=6)
    participant = make_participant("BAL")
    outcome = randomize(participant)
    allocation = getattr(outcome, "allocation", outcome)
    yield allocation


def test_the_runtime_role_is_no_superuser_and_owns_nothing(db: None) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        (owner,) = cursor.fetchone()
        assert dbroles.runtime_role_problems(cursor, role=RUNTIME, owner=owner) == []
        cursor.execute(
            "SELECT count(*) FROM information_schema.table_privileges "
            "WHERE grantee = %s AND privilege_type IN ('TRUNCATE', 'TRIGGER', 'REFERENCES')",
            [RUNTIME],
        )
        assert cursor.fetchone() == (0,)


def test_it_cannot_truncate_the_audit_trail_or_trial_data(randomized: Allocation) -> None:
    as_runtime_role()
    for table in (
        "participants_participantevent",
        "participants_participant",
        "randomization_allocation",
        "trial_datasetlock",
    ):
        assert refused(f"TRUNCATE {table} CASCADE") == INSUFFICIENT_PRIVILEGE


def test_truncate_triggers_refuse_even_the_owner(db: None) -> None:
    run(f"SET LOCAL {dbroles.ALLOW_TRUNCATE_SETTING} = off")
    for table in (
        "participants_participantevent",
        "randomization_allocation",
        "randomization_randomizationlogentry",
        "trial_datasetlock",
        "pghistory_context",
    ):
        assert refused(f"TRUNCATE {table} CASCADE") == IMMUTABLE_SQLSTATE, table


def test_it_cannot_disable_triggers_or_alter_tables(db: None) -> None:
    as_runtime_role()
    assert refused("ALTER TABLE randomization_allocation DISABLE TRIGGER ALL") == (
        INSUFFICIENT_PRIVILEGE
    )
    assert refused("ALTER TABLE participants_participant ADD COLUMN x int") == (
        INSUFFICIENT_PRIVILEGE
    )
    assert refused("DROP TRIGGER IF EXISTS trial_refuse_truncate ON trial_site") == (
        INSUFFICIENT_PRIVILEGE
    )
    assert refused("CREATE TABLE public.intruder (id int)") == INSUFFICIENT_PRIVILEGE


def test_it_cannot_set_session_replication_role(db: None) -> None:
    as_runtime_role()
    assert refused("SET LOCAL session_replication_role = replica") == INSUFFICIENT_PRIVILEGE
    assert refused("SET session_replication_role = replica") == INSUFFICIENT_PRIVILEGE


def test_it_cannot_write_the_lock_table_directly(db: None, sites: dict) -> None:
    dm = make_staff("dm", Role.DATA_MANAGER)
    DatasetLock.objects.create(level="lock", reason="Final analysis", set_by=dm)
    as_runtime_role()
    insert = (
        "INSERT INTO trial_datasetlock (level, reason, set_by_id, set_at, "
        "open_queries_override) VALUES ('open', 'sneaky', %s, now(), false)"
    )
    assert refused(insert, [dm.pk]) == INSUFFICIENT_PRIVILEGE
    assert refused("UPDATE trial_datasetlock SET level = 'open'") == INSUFFICIENT_PRIVILEGE
    assert refused("DELETE FROM trial_datasetlock") == INSUFFICIENT_PRIVILEGE
    assert lock_level() == "lock"


def test_not_even_the_owner_writes_the_lock_table_directly(db: None, sites: dict) -> None:
    dm = make_staff("dm", Role.DATA_MANAGER)
    insert = (
        "INSERT INTO trial_datasetlock (level, reason, set_by_id, set_at, "
        "open_queries_override) VALUES ('lock', 'sneaky', %s, now(), false)"
    )
    assert refused(insert, [dm.pk]) == INSUFFICIENT_PRIVILEGE


def test_the_lock_function_records_who_and_why(db: None, sites: dict) -> None:
    dm = make_staff("dm", Role.DATA_MANAGER)
    as_runtime_role()
    state = DatasetLock.objects.create(level="freeze", reason="Interim analysis", set_by=dm)
    assert (state.level, state.reason, state.set_by_id) == ("freeze", "Interim analysis", dm.pk)
    assert state.transaction_id is not None
    assert lock_level() == "freeze"
    with pytest.raises(DatabaseError), transaction.atomic():
        DatasetLock.objects.create(level="lock", reason="  ", set_by=dm)


def test_open_then_lock_in_one_transaction_is_refused(db: None, sites: dict) -> None:
    dm = make_staff("dm", Role.DATA_MANAGER)
    DatasetLock.objects.create(level="lock", reason="Final analysis", set_by=dm)
    as_runtime_role()
    DatasetLock.objects.create(level="open", reason="Late correction", set_by=dm)
    with pytest.raises(DatabaseError) as caught, transaction.atomic():
        DatasetLock.objects.create(level="lock", reason="Locked again", set_by=dm)
    assert sqlstate_of(caught.value) == LOCKED_SQLSTATE
    translated = from_database_error(caught.value)
    assert translated is not None and translated.status == 409
    assert lock_level() == "open"


def test_it_cannot_change_or_delete_events_allocations_or_log_rows(
    randomized: Allocation,
) -> None:
    as_runtime_role()
    for table in (
        "participants_participantevent",
        "randomization_allocation",
        "randomization_allocationevent",
        "randomization_allocationslot",
        "randomization_randomizationlogentry",
        "accounts_authevent",
        "trial_datasetlockevent",
    ):
        assert refused(f"UPDATE {table} SET id = id") == INSUFFICIENT_PRIVILEGE, table
        assert refused(f"DELETE FROM {table}") == INSUFFICIENT_PRIVILEGE, table


def test_the_allocation_position_cannot_be_rewound_or_skipped(randomized: Allocation) -> None:
    site_id = randomized.participant.site_id
    before = SiteSequence.objects.get(site_id=site_id).next_sequence
    as_runtime_role()
    rewind = "UPDATE randomization_sitesequence SET next_sequence = %s WHERE site_id = %s"
    assert refused(rewind, [before - 1, site_id]) == IMMUTABLE_SQLSTATE
    assert refused(rewind, [before + 2, site_id]) == IMMUTABLE_SQLSTATE
    assert refused("DELETE FROM randomization_sitesequence") == INSUFFICIENT_PRIVILEGE
    # Nor can a table's id sequence be set back.
    assert refused("SELECT setval(pg_get_serial_sequence('trial_site', 'id'), 1)") == (
        INSUFFICIENT_PRIVILEGE
    )
    assert SiteSequence.objects.get(site_id=site_id).next_sequence == before


def test_a_refused_rewind_is_a_conflict_not_a_server_error(randomized: Allocation) -> None:
    with pytest.raises(DatabaseError) as caught, transaction.atomic():
        run("UPDATE randomization_sitesequence SET next_sequence = 1")
    translated = from_database_error(caught.value)
    assert translated is not None and translated.status == 409


def test_pgtrigger_ignore_does_not_switch_off_a_trigger_for_the_runtime_role(
    randomized: Allocation,
) -> None:
    dm = make_staff("dm", Role.DATA_MANAGER)
    DatasetLock.objects.create(level="lock", reason="Final analysis", set_by=dm)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = 'participants_participant'::regclass "
            "AND tgname LIKE 'pgtrigger_refuse_when_locked%%'"
        )
        (trigger,) = cursor.fetchone()
    as_runtime_role()
    run("SELECT set_config('pgtrigger.ignore', %s, true)", ["{" + trigger + "}"])
    assert refused("UPDATE participants_participant SET sex = sex") == LOCKED_SQLSTATE


def test_a_working_day_needs_nothing_more_than_the_runtime_role(
    db: None, sites: dict, settings: Any
) -> None:
    """Registration, screening, consent, randomisation, freeze and unlock through the real
    services, connected as the runtime role."""
    from tests.factories import make_allocation_lists

    settings.RANDOMIZATION_REQUIRES_BASELINE = False
    coordinator = make_staff("coord", Role.COORDINATOR, sites=["GLA"])
    dm = make_staff("dm", Role.DATA_MANAGER)
    as_runtime_role()
    make_allocation_lists(per_site=6)
    participant = make_participant("GLA", user=coordinator)
    outcome = randomize(participant, user=coordinator)
    allocation = getattr(outcome, "allocation", outcome)
    assert allocation.participant_id == participant.pk
    assert SiteSequence.objects.get(site=participant.site).next_sequence == 2
    dataset_freeze(user=dm, reason="Interim analysis")
    assert lock_level() == "freeze"
    dataset_unlock(user=dm, reason="Interim analysis done")
    assert lock_level() == "open"


def test_the_owner_is_never_made_the_runtime_role(db: None) -> None:
    # `ensure_database` run as the owner once stripped the owner's own rights: refused now.
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user")
        (owner, was_superuser) = cursor.fetchone()
        with pytest.raises(ValueError, match="is the role this connection uses"):
            dbroles.ensure_runtime_role(cursor, role=owner, password="x")
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", [owner])
        assert cursor.fetchone() == (was_superuser,)
