"""Statistician-only, audited reads of the lists (download, seed, trial-master-file package,
verification), and nobody else reads an unused allocation by any route."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from randomization import generator
from randomization.models import AllocationList, RandomizationLogEntry
from randomization.services.list_reads import stored_slots
from tests.factories import api_client, make_staff
from trial.roles import Role

Kind = RandomizationLogEntry.Kind


def reads() -> int:
    return RandomizationLogEntry.objects.filter(
        kind__in=[Kind.LIST_DOWNLOADED, Kind.SEED_DOWNLOADED, Kind.PACKAGE_DOWNLOADED]
    ).count()


def test_a_statistician_downloads_a_list_version_and_the_read_is_logged(
    lists: list, statistician: Any
) -> None:
    allocation_list = lists[0]
    response = api_client(statistician).get(f"/api/v1/allocation-lists/{allocation_list.pk}/csv/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "no-store" in response["Cache-Control"]
    assert hashlib.sha256(response.content).hexdigest() == allocation_list.sha256
    assert response["X-Content-SHA256"] == allocation_list.sha256
    assert response.content == generator.canonical_csv(stored_slots(allocation_list))
    entry = RandomizationLogEntry.objects.get(kind=Kind.LIST_DOWNLOADED)
    assert (entry.user, entry.allocation_list, entry.channel) == (
        statistician,
        allocation_list,
        "api",
    )


def test_the_seed_regenerates_the_list_and_its_read_is_logged(
    lists: list, statistician: Any
) -> None:
    allocation_list = lists[1]
    client = api_client(statistician)
    body = client.get(f"/api/v1/allocation-lists/{allocation_list.pk}/seed/").json()
    regenerated = generator.generate_list(
        seed=generator.seed_from_hex(body["seed"]),
        stratum=body["site"],
        min_length=allocation_list.parameters["requested_length"],
    )
    assert generator.list_sha256(regenerated) == allocation_list.sha256
    assert body["seed_commitment"] == generator.seed_commitment(int(body["seed"], 16))
    assert RandomizationLogEntry.objects.filter(kind=Kind.SEED_DOWNLOADED).count() == 1


def test_the_trial_master_file_package_holds_every_list_seed_and_a_manifest(
    lists: list, statistician: Any
) -> None:
    response = api_client(statistician).get("/api/v1/allocation-lists/package/")
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    manifest = json.loads(archive.read("manifest.json"))
    assert [item["site"] for item in manifest["lists"]] == ["BAL", "GLA", "FRB"]
    for item, allocation_list in zip(manifest["lists"], lists, strict=True):
        data = archive.read(item["file"])
        assert hashlib.sha256(data).hexdigest() == item["sha256"] == allocation_list.sha256
        seed = archive.read(item["seed_file"]).decode().strip()
        assert generator.seed_commitment(int(seed, 16)) == item["parameters"]["seed_commitment"]
    assert RandomizationLogEntry.objects.filter(kind=Kind.PACKAGE_DOWNLOADED).count() == 1


def test_the_statisticians_page_downloads_by_post_only_and_logs_them(
    lists: list, statistician: Any, client: Any
) -> None:
    client.force_login(statistician)
    page = client.get("/randomisation/lists/")
    assert page.status_code == 200
    content = page.content.decode()
    for allocation_list in lists:
        assert allocation_list.sha256 in content
    assert reads() == 0  # the overview shows metadata, never the list
    path = f"/randomisation/lists/{lists[0].pk}/csv/"
    assert client.get(path).status_code == 405
    download = client.post(path)
    assert download.status_code == 200
    assert hashlib.sha256(download.content).hexdigest() == lists[0].sha256
    seed = client.post(f"/randomisation/lists/{lists[0].pk}/seed/")
    assert seed.status_code == 200 and b"seed: " in seed.content
    package = client.post("/randomisation/lists/package/")
    assert package["Content-Type"] == "application/zip"
    assert reads() == 3


OUTSIDERS = [
    ("coordinator", (Role.COORDINATOR,)),
    ("assessor", (Role.ASSESSOR,)),
    ("clinician", (Role.CLINICIAN,)),
    ("instructor", (Role.INSTRUCTOR,)),
    ("fidelity_rater", (Role.FIDELITY_RATER,)),
    ("data_manager", (Role.DATA_MANAGER,)),
    ("monitor", (Role.MONITOR,)),
    ("admin", (Role.ADMIN,)),
    ("blinded_statistician", (Role.STATISTICIAN, Role.DATA_MANAGER)),
]


@pytest.mark.parametrize(("name", "roles"), OUTSIDERS, ids=[n for n, _ in OUTSIDERS])
def test_nobody_but_a_statistician_reads_a_list_by_any_route(
    lists: list, name: str, roles: tuple[str, ...], client: Any
) -> None:
    user = make_staff(name, *roles)
    pk = lists[0].pk
    api = api_client(user)
    for path in (
        "/api/v1/allocation-lists/",
        f"/api/v1/allocation-lists/{pk}/csv/",
        f"/api/v1/allocation-lists/{pk}/seed/",
        "/api/v1/allocation-lists/package/",
        "/api/v1/randomization-log/",
        "/api/v1/blinding-index/",
    ):
        response = api.get(path)
        assert response.status_code in (403, 404), (path, response.status_code)
        assert lists[0].sha256 not in response.content.decode()
    client.force_login(user)
    for path in (
        "/randomisation/lists/",
        "/randomisation/log/",
        "/randomisation/blinding-index/",
        "/randomisation/methods/",
    ):
        assert client.get(path).status_code in (403, 404), path
    for path in (
        f"/randomisation/lists/{pk}/csv/",
        f"/randomisation/lists/{pk}/seed/",
        "/randomisation/lists/package/",
    ):
        response = client.post(path)
        assert response.status_code in (403, 404), path
        assert b"site,sequence" not in response.content
    assert reads() == 0


def test_blinded_users_are_told_the_list_pages_do_not_exist(lists: list, client: Any) -> None:
    for roles in ((Role.ASSESSOR,), (Role.MONITOR,), (Role.DATA_MANAGER,)):
        user = make_staff(f"blind-{roles[0]}", *roles)
        assert api_client(user).get("/api/v1/allocation-lists/").status_code == 404
        client.force_login(user)
        assert client.get("/randomisation/lists/").status_code == 404


def test_the_admin_offers_no_randomization_model(lists: list, client: Any) -> None:
    admin = make_staff("root", Role.ADMIN)
    client.force_login(admin)
    index = client.get("/admin/")
    assert index.status_code == 200
    assert b"randomization" not in index.content.lower()
    for model in ("allocationslot", "allocation", "allocationlist", "randomizationlogentry"):
        assert client.get(f"/admin/randomization/{model}/").status_code == 404


def test_verification_reports_a_match_and_is_logged(
    lists: list, statistician: Any, tmp_path: Path
) -> None:
    data = api_client(statistician).get(f"/api/v1/allocation-lists/{lists[0].pk}/csv/").content
    response = api_client(statistician).post(
        "/api/v1/allocation-lists/verify/", {"csv": data.decode()}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["matches"] is True
    assert body["versions"] == [
        {
            "site": "BAL",
            "version": 1,
            "sha256": lists[0].sha256,
            "file_sha256": lists[0].sha256,
            "matches": True,
        }
    ]
    path = tmp_path / "bal.csv"
    path.write_bytes(data)
    out = io.StringIO()
    call_command("verify_allocation_list", str(path), "--by", "statistician", stdout=out)
    assert "matches" in out.getvalue()
    assert RandomizationLogEntry.objects.filter(kind=Kind.LIST_VERIFIED).count() == 2


def test_verification_names_the_differing_lines_without_quoting_arms(
    lists: list, statistician: Any, tmp_path: Path, client: Any
) -> None:
    data = api_client(statistician).get(f"/api/v1/allocation-lists/{lists[2].pk}/csv/").content
    lines = data.decode().splitlines()
    fields = lines[3].split(",")
    fields[4] = "TAU" if fields[4] == "IMR" else "IMR"
    lines[3] = ",".join(fields)
    # Keep the changed block balanced, so only the comparison can notice.
    for index in range(4, len(lines)):
        other = lines[index].split(",")
        if other[2] == fields[2] and other[4] == fields[4]:
            other[4] = "TAU" if other[4] == "IMR" else "IMR"
            lines[index] = ",".join(other)
            break
    changed = "\n".join(lines) + "\n"
    body = (
        api_client(statistician)
        .post("/api/v1/allocation-lists/verify/", {"csv": changed}, format="json")
        .json()
    )
    assert body["matches"] is False
    assert any(e.startswith("line 4: FRB sequence 3 differs") for e in body["errors"])
    assert all("IMR" not in e and "TAU" not in e for e in body["errors"])
    path = tmp_path / "frb.csv"
    path.write_text(changed)
    with pytest.raises(CommandError, match="line 4"):
        call_command("verify_allocation_list", str(path), stdout=io.StringIO())
    client.force_login(statistician)
    page = client.post(
        "/randomisation/lists/verify/",
        {"file": SimpleUploadedFile("frb.csv", changed.encode())},
    )
    assert page.status_code == 200
    assert "Does not match" in page.content.decode()


def test_verification_needs_whole_versions(lists: list, statistician: Any) -> None:
    data = api_client(statistician).get(f"/api/v1/allocation-lists/{lists[0].pk}/csv/").content
    partial = "\n".join(data.decode().splitlines()[:7]) + "\n"
    body = (
        api_client(statistician)
        .post("/api/v1/allocation-lists/verify/", {"csv": partial}, format="json")
        .json()
    )
    assert body["matches"] is False
    assert any("verify whole versions" in e for e in body["errors"])


def test_the_list_overview_api_gives_metadata_and_never_arms(
    lists: list, statistician: Any
) -> None:
    body = api_client(statistician).get("/api/v1/allocation-lists/").json()
    assert [(item["site"], item["version"]) for item in body] == [
        ("BAL", 1),
        ("GLA", 1),
        ("FRB", 1),
    ]
    assert all(item["has_seed"] for item in body)
    text = json.dumps(body)
    assert 'IMR"' not in text.replace('"arms": ["IMR", "TAU"]', "")
    assert AllocationList.objects.count() == 3


def test_the_methods_sheet_shows_counts_by_arm_only_after_lock(
    lists: list, statistician: Any, client: Any
) -> None:
    from tests.factories import coordinator_for
    from tests.randomization.conftest import ready_participant
    from trial.models import DatasetLock

    for site in ("BAL", "GLA"):
        participant = ready_participant(site)
        api_client(coordinator_for(site)).post(
            f"/api/v1/participants/{participant.pk}/randomize/", {}, format="json"
        )
    client.force_login(statistician)
    before = client.get("/randomisation/methods/").content.decode()
    assert lists[0].sha256 in before
    assert lists[0].parameters["seed_commitment"] in before
    assert "coordinator-BAL" in before
    assert "Shown only after the database is locked." in before
    DatasetLock.objects.create(level="lock", reason="Final", set_by=statistician)
    after = client.get("/randomisation/methods/").content.decode()
    assert "Shown only after the database is locked." not in after
    assert "<td>BAL</td><td>" in after
    assert RandomizationLogEntry.objects.filter(kind=Kind.REPORT_VIEWED).count() == 2
    client.force_login(make_staff("coord", Role.COORDINATOR))
    assert client.get("/randomisation/methods/").status_code == 403
    client.force_login(make_staff("dm", Role.DATA_MANAGER))
    assert client.get("/randomisation/methods/").status_code == 404
