"""`manage.py generate_allocation_lists --per-site N [--sites BAL,GLA,FRB]` (API.md)."""

from __future__ import annotations

import hashlib
import io
import re
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from randomization import generator
from randomization.models import AllocationList, AllocationSlot, RandomizationLogEntry, SiteSequence
from randomization.services.list_reads import stored_slots
from tests.factories import make_staff
from trial.audit import events_of
from trial.roles import Role
from trial.sealing import unseal

Kind = RandomizationLogEntry.Kind


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("generate_allocation_lists", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_it_stores_one_sealed_list_per_site_and_prints_only_the_hashes(sites: dict) -> None:
    output = run("--per-site", "66")
    lists = list(AllocationList.objects.order_by("site__number"))
    assert [a.site.code for a in lists] == ["BAL", "GLA", "FRB"]
    lines = output.strip().splitlines()
    assert lines == [f"{a.site.code} v1 {a.sha256}" for a in lists]
    assert all(re.fullmatch(r"[A-Z]{3} v1 [0-9a-f]{64}", line) for line in lines)
    assert "IMR" not in output and "TAU" not in output
    for allocation_list in lists:
        slots = stored_slots(allocation_list)
        assert len(slots) == allocation_list.length >= 66
        assert len(slots) - slots[-1].block_size < 66  # whole blocks, none more than needed
        canonical = generator.canonical_csv(slots)
        assert hashlib.sha256(canonical).hexdigest() == allocation_list.sha256
        seed_hex = unseal("seed", allocation_list.seed_sealed)
        assert seed_hex not in output
        # The stored list is exactly what the documented algorithm gives for the seed.
        regenerated = generator.generate_list(
            seed=generator.seed_from_hex(seed_hex),
            stratum=allocation_list.site.code,
            min_length=66,
        )
        assert generator.canonical_csv(regenerated) == canonical
        assert allocation_list.parameters["seed_commitment"] == generator.seed_commitment(
            generator.seed_from_hex(seed_hex)
        )
        assert allocation_list.parameters["algorithm"] == generator.ALGORITHM
        assert SiteSequence.objects.get(site=allocation_list.site).next_sequence == 1
    # One seed per run, different strata: different lists.
    assert len({a.sha256 for a in lists}) == 3


def test_neither_seed_nor_arm_is_stored_in_plain_text(sites: dict) -> None:
    run("--per-site", "12", "--sites", "BAL")
    allocation_list = AllocationList.objects.get()
    seed_hex = unseal("seed", allocation_list.seed_sealed)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM randomization_allocationslot WHERE arm_sealed IN ('IMR', 'TAU')"
        )
        assert cursor.fetchone()[0] == 0
        for table in ("randomization_allocationlist", "randomization_allocationlistevent"):
            cursor.execute(
                f"SELECT count(*) FROM {table} t WHERE t::text LIKE %s", [f"%{seed_hex}%"]
            )
            assert cursor.fetchone()[0] == 0


def test_it_refuses_to_overwrite_an_existing_list(sites: dict) -> None:
    run("--per-site", "12", "--sites", "GLA")
    before = list(AllocationSlot.objects.values_list("id", flat=True))
    with pytest.raises(CommandError, match="already has an allocation list"):
        run("--per-site", "12", "--sites", "BAL,GLA")
    assert list(AllocationSlot.objects.values_list("id", flat=True)) == before
    assert AllocationList.objects.count() == 1  # not even BAL, which had none: all or nothing
    assert RandomizationLogEntry.objects.filter(kind=Kind.LIST_REFUSED).count() == 1


def test_extending_is_explicit_needs_a_reason_and_adds_a_new_version(sites: dict) -> None:
    run("--per-site", "12", "--sites", "FRB")
    with pytest.raises(CommandError, match="reason"):
        run("--per-site", "12", "--sites", "FRB", "--extend")
    output = run("--per-site", "20", "--sites", "FRB", "--extend", "--reason", "Ran out")
    first, second = AllocationList.objects.order_by("version")
    assert output.strip() == f"FRB v2 {second.sha256}"
    assert second.source == AllocationList.Source.EXTENSION
    assert second.first_sequence == first.length + 1
    assert second.parameters["first_block"] == first.parameters["last_block"] + 1
    assert second.parameters["reason"] == "Ran out"
    assert second.seed_sealed and unseal("seed", second.seed_sealed) != unseal(
        "seed", first.seed_sealed
    )
    sequences = list(
        AllocationSlot.objects.filter(site__code="FRB")
        .order_by("sequence")
        .values_list("sequence", flat=True)
    )
    assert sequences == list(range(1, first.length + second.length + 1))
    entry = RandomizationLogEntry.objects.get(kind=Kind.LIST_EXTENDED)
    assert entry.detail["reason"] == "Ran out"
    with pytest.raises(CommandError, match="no allocation list to extend"):
        run("--per-site", "6", "--sites", "BAL", "--extend", "--reason", "x")


def test_the_acting_statistician_is_recorded(sites: dict) -> None:
    statistician = make_staff("stats", Role.STATISTICIAN)
    run("--per-site", "6", "--sites", "BAL", "--by", "stats")
    allocation_list = AllocationList.objects.get()
    assert allocation_list.created_by == statistician
    event = events_of(allocation_list).get()
    assert event.pgh_context["user"] == statistician.pk
    assert event.pgh_context["task"] == "generate_allocation_lists"
    entry = RandomizationLogEntry.objects.get(kind=Kind.LIST_GENERATED)
    assert entry.user == statistician
    assert entry.channel == "cli"


def test_without_by_the_operating_system_user_is_recorded(sites: dict) -> None:
    import getpass

    run("--per-site", "6", "--sites", "BAL")
    entry = RandomizationLogEntry.objects.get(kind=Kind.LIST_GENERATED)
    assert entry.user is None
    assert entry.username == f"os:{getpass.getuser()}"
    event = events_of(AllocationList.objects.get()).get()
    assert event.pgh_context["os_user"] == getpass.getuser()


@pytest.mark.parametrize("role", [Role.COORDINATOR, Role.DATA_MANAGER, Role.ASSESSOR])
def test_only_a_statistician_may_be_named_as_the_actor(sites: dict, role: str) -> None:
    make_staff("someone", role)
    with pytest.raises(CommandError, match="statistician"):
        run("--per-site", "6", "--by", "someone")
    assert AllocationList.objects.count() == 0


def test_bad_arguments_are_refused_with_the_reason(sites: dict) -> None:
    with pytest.raises(CommandError, match="Unknown site"):
        run("--per-site", "6", "--sites", "BAL,XYZ")
    with pytest.raises(CommandError, match="positive"):
        run("--per-site", "0")
    with pytest.raises(CommandError, match="No active user"):
        run("--per-site", "6", "--by", "nobody")
    assert AllocationList.objects.count() == 0


def test_a_locked_database_gets_no_new_lists(sites: dict) -> None:
    from trial.models import DatasetLock

    DatasetLock.objects.create(
        level="lock", reason="Final", set_by=make_staff("dm", Role.DATA_MANAGER)
    )
    with pytest.raises(CommandError, match="locked"):
        run("--per-site", "6")
    assert AllocationList.objects.count() == 0


def test_the_statistician_can_generate_and_extend_from_the_lists_page(
    sites: dict, statistician: Any, client: Any
) -> None:
    client.force_login(statistician)
    response = client.post(
        "/randomisation/lists/generate/", {"per_site": "10", "sites": ["BAL", "GLA"]}
    )
    assert response.status_code == 302
    assert AllocationList.objects.count() == 2
    again = client.post("/randomisation/lists/generate/", {"per_site": "10", "sites": ["BAL"]})
    assert again.status_code == 409
    assert "already has an allocation list" in again.content.decode()
    extended = client.post(
        "/randomisation/lists/generate/",
        {"per_site": "10", "sites": ["BAL"], "extend": "on", "reason": "Planned extension"},
    )
    assert extended.status_code == 302
    assert AllocationList.objects.filter(site__code="BAL").count() == 2
