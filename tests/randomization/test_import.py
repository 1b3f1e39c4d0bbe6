"""Import of an externally generated list: every rule, all or nothing, reasons by line."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from randomization import generator
from randomization.models import AllocationList, AllocationSlot, RandomizationLogEntry
from randomization.services.list_reads import stored_slots
from tests.factories import api_client, make_staff
from trial.roles import Role

Kind = RandomizationLogEntry.Kind
HEADER = "site,sequence,block,block_size,arm"


def rows(site: str = "BAL", length: int = 20, seed: int = 11, **kwargs: Any) -> list[str]:
    return [
        f"{s.site},{s.sequence},{s.block},{s.block_size},{s.arm}"
        for s in generator.generate_list(seed=seed, stratum=site, min_length=length, **kwargs)
    ]


def text(*row_lists: list[str], header: str = HEADER) -> str:
    return "\n".join([header, *[r for rows_ in row_lists for r in rows_]]) + "\n"


def post(statistician: Any, csv: str, **extra: Any) -> Any:
    return api_client(statistician).post(
        "/api/v1/allocation-lists/import/", {"csv": csv, **extra}, format="json"
    )


def refused(statistician: Any, csv: str, *needles: str, **extra: Any) -> list[str]:
    before = (AllocationList.objects.count(), AllocationSlot.objects.count())
    response = post(statistician, csv, **extra)
    assert response.status_code == 400, response.content
    errors = response.json()["file"] if "file" in response.json() else response.json()
    joined = " ".join(errors) if isinstance(errors, list) else str(errors)
    for needle in needles:
        assert needle in joined, joined
    assert (AllocationList.objects.count(), AllocationSlot.objects.count()) == before
    assert "IMR" not in joined.replace("IMR or TAU", "") and "TAU," not in joined
    return errors


def test_a_valid_list_for_several_sites_is_imported_whole(sites: dict, statistician: Any) -> None:
    bal, gla = rows("BAL", 20), rows("GLA", 14)
    response = post(statistician, text(bal, gla), filename="external.csv")
    assert response.status_code == 201, response.content
    created = {item["site"]: item for item in response.json()}
    assert set(created) == {"BAL", "GLA"}
    for code, expected in (("BAL", bal), ("GLA", gla)):
        allocation_list = AllocationList.objects.get(site__code=code)
        assert allocation_list.source == AllocationList.Source.IMPORTED
        assert allocation_list.seed_sealed == ""
        lines = generator.canonical_csv(stored_slots(allocation_list)).decode().splitlines()[1:]
        assert lines == expected
        assert created[code]["sha256"] == allocation_list.sha256
        assert allocation_list.parameters["filename"] == "external.csv"
    assert RandomizationLogEntry.objects.filter(kind=Kind.LIST_IMPORTED).count() == 2


def test_other_tools_column_names_and_semicolons_are_understood(
    sites: dict, statistician: Any
) -> None:
    # R blockrand writes id, stratum, block.id, block.size, treatment; Excel in Denmark ";".
    header = "id;stratum;block.id;block.size;treatment"
    body = [
        f"{s.sequence};{s.site};{s.block};{s.block_size};{s.arm}"
        for s in generator.generate_list(seed=5, stratum="FRB", min_length=10)
    ]
    response = post(statistician, "\ufeff" + text(body, header=header).replace("\n", "\r\n"))
    assert response.status_code == 201, response.content


def swap(rows_: list[str], index: int, column: int, value: str) -> list[str]:
    changed = list(rows_)
    fields = changed[index].split(",")
    fields[column] = value
    changed[index] = ",".join(fields)
    return changed


def test_a_block_size_other_than_6_8_or_10_is_refused(sites: dict, statistician: Any) -> None:
    refused(statistician, text(swap(rows(), 0, 3, "7")), "line 2", "block size '7'")


def test_an_unbalanced_block_is_refused(sites: dict, statistician: Any) -> None:
    original = rows()
    arm = original[0].split(",")[4]
    flipped = swap(original, 0, 4, "TAU" if arm == "IMR" else "IMR")
    refused(statistician, text(flipped), "block 1", "not balanced", "lines 2-")


def test_an_incomplete_block_is_refused(sites: dict, statistician: Any) -> None:
    refused(statistician, text(rows()[:-1]), "only whole blocks")


def test_a_gap_in_the_sequence_is_refused(sites: dict, statistician: Any) -> None:
    original = rows()
    refused(statistician, text(original[:3] + original[4:]), "sequence 5 follows 3", "missing")


def test_a_duplicated_sequence_is_refused(sites: dict, statistician: Any) -> None:
    original = rows()
    duplicated = [*original[:4], original[3], *original[4:]]
    refused(statistician, text(duplicated), "line 6", "sequence 4 at BAL appears again")


def test_a_list_that_does_not_start_at_1_is_refused(sites: dict, statistician: Any) -> None:
    shifted = rows(first_sequence=5)
    refused(statistician, text(shifted), "starts at sequence 5", "must start at 1")


def test_a_gap_in_the_block_numbers_is_refused(sites: dict, statistician: Any) -> None:
    original = rows(length=30)
    second = original[0].split(",")[3]
    renumbered = [
        r if r.split(",")[2] == "1" else swap([r], 0, 2, str(int(r.split(",")[2]) + 1))[0]
        for r in original
    ]
    assert second
    refused(statistician, text(renumbered), "block 3 at BAL where block 2 was expected")


def test_a_block_stating_two_sizes_is_refused(sites: dict, statistician: Any) -> None:
    original = rows()
    size = original[0].split(",")[3]
    other = "8" if size != "8" else "6"
    refused(statistician, text(swap(original, 1, 3, other)), "states different sizes")


def test_an_unknown_site_is_refused(sites: dict, statistician: Any) -> None:
    refused(statistician, text(rows("BAL"), rows("XYZ")), "unknown site 'XYZ'")


def test_an_unknown_arm_is_refused(sites: dict, statistician: Any) -> None:
    refused(statistician, text(swap(rows(), 2, 4, "A")), "line 4", "the arm is not IMR or TAU")


def test_a_missing_or_unknown_column_is_refused(sites: dict, statistician: Any) -> None:
    refused(
        statistician, text(rows(), header="site,sequence,block,arm"), "lacks column(s) block_size"
    )
    extra = [r + ",x" for r in rows()]
    refused(statistician, text(extra, header=HEADER + ",note"), "unknown column(s) note")


def test_malformed_rows_are_refused_by_line(sites: dict, statistician: Any) -> None:
    refused(statistician, text(swap(rows(), 0, 1, "one")), "line 2", "sequence number")
    refused(statistician, text([*rows(), "BAL,21"]), "fields where the header has 5")


def test_an_empty_file_is_refused(sites: dict, statistician: Any) -> None:
    refused(statistician, "", "empty")
    refused(statistician, HEADER + "\n", "no rows")


def test_one_bad_site_refuses_the_whole_file(sites: dict, statistician: Any) -> None:
    refused(statistician, text(rows("BAL"), swap(rows("GLA"), 0, 3, "12")), "block size '12'")
    assert AllocationList.objects.count() == 0


def test_every_problem_is_reported_not_just_the_first(sites: dict, statistician: Any) -> None:
    broken = swap(swap(rows(), 0, 3, "7"), 5, 4, "X")
    errors = refused(statistician, text(broken))
    assert any("line 2" in e for e in errors) and any("line 7" in e for e in errors)


def test_an_existing_list_is_never_overwritten_by_an_import(sites: dict, statistician: Any) -> None:
    assert post(statistician, text(rows("BAL"))).status_code == 201
    refused(statistician, text(rows("BAL")), "already has an allocation list", "overwrite")


def test_an_extension_appends_complete_blocks_numbered_on(sites: dict, statistician: Any) -> None:
    assert post(statistician, text(rows("BAL", 20))).status_code == 201
    first = AllocationList.objects.get(site__code="BAL")
    last_block = first.parameters["last_block"]
    more = rows("BAL", 12, seed=12, first_block=last_block + 1, first_sequence=first.length + 1)
    refused(statistician, text(more), "already has an allocation list")
    refused(statistician, text(more), "reason", extend=True)
    response = post(statistician, text(more), extend=True, reason="Recruitment extended")
    assert response.status_code == 201, response.content
    second = AllocationList.objects.get(site__code="BAL", version=2)
    assert second.source == AllocationList.Source.EXTENSION
    assert RandomizationLogEntry.objects.filter(kind=Kind.LIST_EXTENDED).count() == 1
    # An extension must continue where the stored list ends.
    restart = rows("BAL", 12, seed=13)
    refused(statistician, text(restart), "must start at", extend=True, reason="x")
    refused(
        statistician, text(rows("GLA")), "no allocation list to extend", extend=True, reason="x"
    )


def test_refusals_are_logged_with_their_reasons(sites: dict, statistician: Any) -> None:
    refused(statistician, text(swap(rows(), 0, 3, "7")))
    entry = RandomizationLogEntry.objects.get(kind=Kind.LIST_REFUSED)
    assert entry.user == statistician
    assert "line 2" in " ".join(entry.detail["errors"]["file"])


@pytest.mark.parametrize("role", [Role.COORDINATOR, Role.DATA_MANAGER, Role.ASSESSOR, Role.ADMIN])
def test_only_statisticians_import(sites: dict, role: str) -> None:
    user = make_staff("someone", role, sites=["BAL"])
    response = post(user, text(rows()))
    assert response.status_code in (403, 404)
    assert AllocationList.objects.count() == 0


def test_the_import_command_and_the_page_follow_the_same_rules(
    sites: dict, statistician: Any, tmp_path: Path, client: Any
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(text(swap(rows(), 0, 3, "7")))
    with pytest.raises(CommandError, match="line 2"):
        call_command(
            "import_allocation_list", str(bad), "--by", "statistician", stdout=io.StringIO()
        )
    good = tmp_path / "good.csv"
    good.write_text(text(rows("GLA")))
    out = io.StringIO()
    call_command("import_allocation_list", str(good), "--by", "statistician", stdout=out)
    assert out.getvalue().startswith("GLA v1 ")
    client.force_login(statistician)
    upload = SimpleUploadedFile("bad.csv", text(swap(rows("FRB"), 0, 3, "7")).encode())
    page = client.post("/randomisation/lists/import/", {"file": upload})
    assert page.status_code == 400
    assert "line 2" in page.content.decode()
    upload = SimpleUploadedFile("frb.csv", text(rows("FRB")).encode())
    assert client.post("/randomisation/lists/import/", {"file": upload}).status_code == 302
    assert AllocationList.objects.filter(site__code="FRB").exists()
