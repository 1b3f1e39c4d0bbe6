"""What makes an export trustworthy: one snapshot, the same bytes from the same locked data,
a manifest that describes every file, a codebook that lists exactly the variables, no direct
identifiers and (blinded) no arm anywhere, and no partial files when it fails."""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from pathlib import Path
from typing import Any

import psycopg
import pyarrow.parquet as pq
import pyreadstat
import pytest
from django.db import connection

from exports import datasets, services
from exports.build.files import BUILDING_PREFIX
from exports.datasets.base import Column, Dataset, VarType
from exports.models import ExportJob
from imrtrial.roles import Role
from participants.models import Participant
from randomization.models import Allocation
from tests.exports.trial import build_trial, new_job, run_inline
from tests.factories import make_staff

pytestmark = pytest.mark.django_db(transaction=True)

DATA_FORMATS = {"csv", "sav", "dta", "parquet", "odm"}


def archive_members(job: ExportJob, root: Path) -> dict[str, bytes]:
    archive = next(f for f in job.files if f["kind"] == "archive")
    with zipfile.ZipFile(root / job.directory / archive["name"]) as packed:
        return {name: packed.read(name) for name in packed.namelist()}


def test_two_exports_of_the_same_locked_data_are_byte_identical(dm: Any, export_root: Path) -> None:
    build_trial()
    services.dataset_lock(user=dm, reason="Primary analysis")
    first, second = run_inline(new_job(dm)), run_inline(new_job(dm))
    assert first.status == second.status == "done"
    hashes = [{f["name"]: f["sha256"] for f in job.files if f["kind"] != "archive"}
              for job in (first, second)]  # fmt: skip
    assert hashes[0] == hashes[1]
    assert {f["format"] for f in first.files} >= DATA_FORMATS
    members = [archive_members(job, export_root) for job in (first, second)]
    assert members[0].keys() == members[1].keys()
    differing = {name for name in members[0] if members[0][name] != members[1][name]}
    assert differing == {"manifest.json"}  # it says when and for whom; nothing else differs

    # Unlocking and locking again changes no data, so it changes no byte either.
    services.dataset_unlock(user=dm, reason="Check")
    services.dataset_lock(user=dm, reason="Primary analysis, again")
    third = run_inline(new_job(dm))
    assert {f["name"]: f["sha256"] for f in third.files if f["kind"] != "archive"} == hashes[0]


def test_the_manifest_describes_every_file_the_snapshot_the_lock_and_who_asked(
    dm: Any, export_root: Path
) -> None:
    build_trial()
    lock = services.dataset_lock(user=dm, reason="Final")
    job = run_inline(new_job(dm))
    folder = export_root / job.directory
    manifest = job.manifest
    assert manifest == __import__("json").loads((folder / "manifest.json").read_text())
    assert manifest["export_id"] == str(job.pk)
    assert manifest["requested_by"] == {"id": dm.pk, "username": "dm"}
    assert manifest["lock"]["level"] == "lock" and manifest["lock"]["log_id"] == lock.pk
    assert manifest["snapshot_at"] == job.snapshot_at.isoformat()
    assert manifest["software"]["version"] == "1.0.0"
    assert manifest["blinded"] is True
    listed = {entry["name"]: entry for entry in manifest["files"]}
    on_disk = {p.name for p in folder.iterdir()} - {"manifest.json"}
    assert set(listed) == {n for n in on_disk if not n.endswith(".zip")}
    for name, entry in listed.items():
        content = (folder / name).read_bytes()
        assert entry["bytes"] == len(content)
        assert entry["sha256"] == hashlib.sha256(content).hexdigest()
    rows = {d["name"]: d["rows"] for d in manifest["datasets"]}
    assert rows["participants"] == Participant.objects.count()
    assert rows["responses_long_panss"] == 8
    assert listed["participants.csv"]["rows"] == rows["participants"]
    # The archive holds the same files and the manifest.
    members = archive_members(job, export_root)
    assert set(members) == set(listed) | {"manifest.json"}


def test_status_changes_are_audited_but_progress_ticks_are_not(dm: Any, export_root: Path) -> None:
    build_trial()
    job = run_inline(new_job(dm))
    events = list(job.events.order_by("pgh_id"))
    assert [e.status for e in events] == ["queued", "running", "done"]
    assert not hasattr(events[0], "progress")


def test_the_codebook_lists_exactly_the_variables_of_every_data_file(
    dm: Any, export_root: Path
) -> None:
    build_trial()
    job = run_inline(new_job(dm))
    folder = export_root / job.directory
    with open(folder / "codebook.csv", encoding="utf-8") as handle:
        codebook = list(csv.DictReader(handle))
    html = (folder / "codebook.html").read_text()
    by_dataset: dict[str, list[str]] = {}
    for row in codebook:
        by_dataset.setdefault(row["dataset"], []).append(row["variable"])
        assert f"<code>{row['variable']}</code>" in html
    assert set(by_dataset) == {d["name"] for d in job.manifest["datasets"]}
    for dataset, variables in by_dataset.items():
        with open(folder / f"{dataset}.csv", encoding="utf-8") as handle:
            assert next(csv.reader(handle)) == variables
        assert (
            pyreadstat.read_sav(str(folder / f"{dataset}.sav"), metadataonly=True)[1].column_names
            == variables
        )
        assert (
            pyreadstat.read_dta(str(folder / f"{dataset}.dta"), metadataonly=True)[1].column_names
            == variables
        )
        assert pq.read_schema(folder / f"{dataset}.parquet").names == variables


def all_text(members: dict[str, bytes]) -> str:
    return "\n".join(content.decode("latin-1") for content in members.values())


def test_no_cpr_number_date_of_birth_or_arm_is_anywhere_in_a_blinded_archive(
    dm: Any, export_root: Path
) -> None:
    trial = build_trial()
    job = run_inline(new_job(dm))
    members = archive_members(job, export_root)
    everything = all_text(members)
    for cpr in trial.cpr_numbers():
        assert cpr not in everything
        assert f"{cpr[:6]}-{cpr[6:]}" not in everything
    for participant in trial.everyone:
        assert participant.date_of_birth.isoformat() not in everything
        assert participant.date_of_birth.strftime("%d%m%Y") not in everything
    for allocation in Allocation.objects.all():
        assert allocation.randomization_code not in everything
    for word in ("TAU", "Treatment as usual", "IMR + treatment", "RAND_CODE"):
        assert word not in everything, word
    for name, content in members.items():
        if name.endswith(".csv") and not name.startswith("codebook"):
            header = next(csv.reader(io.StringIO(content.decode("utf-8"))))
            assert "ARM" not in header and "DOB" not in header and "CPR" not in header


def test_an_unblinded_export_has_the_arm_and_a_blinded_one_only_masked_groups(
    dm: Any, statistician: Any, export_root: Path
) -> None:
    trial = build_trial()
    services.dataset_lock(user=dm, reason="Final")
    blinded = run_inline(new_job(dm))
    unblinded = run_inline(new_job(statistician, blinded=False))
    assert unblinded.status == "done", unblinded.error
    masking = services.masking_mapping(services.masking_key_get_or_create())

    def read(job: ExportJob) -> dict[str, dict[str, str]]:
        with open(export_root / job.directory / "participants.csv", encoding="utf-8") as handle:
            return {row["STUDY_ID"]: row for row in csv.DictReader(handle)}

    open_rows, masked_rows = read(unblinded), read(blinded)
    for participant in trial.randomised.values():
        arm = participant.allocation.arm
        assert open_rows[participant.study_id]["ARM"] == {"IMR": "1", "TAU": "0"}[arm]
        assert open_rows[participant.study_id]["RAND_CODE"] == (
            participant.allocation.randomization_code
        )
        assert masked_rows[participant.study_id]["GROUP"] == {"A": "1", "B": "2"}[masking[arm]]
    assert unblinded.manifest["allocation_variable"] == "ARM"


def test_a_failed_export_says_why_and_offers_no_partial_files(
    dm: Any, export_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_trial()

    class BrokenBuilder:
        name = "broken"
        reveals_allocation = False

        def build(self, context: Any) -> Any:
            def chunks() -> Any:
                yield [("X",)]
                raise OSError(28, "No space left on device")

            yield Dataset("broken", "Broken", [Column("V", "v", VarType.TEXT)], chunks)

    monkeypatch.setattr(datasets, "BUILDERS", (*datasets.BUILDERS, BrokenBuilder()))
    job = run_inline(new_job(dm))
    assert job.status == "failed"
    assert "No space left on device" in job.error
    assert job.files == [] and job.directory == ""
    assert not (export_root / str(job.pk)).exists()
    assert not list(export_root.glob(f"{BUILDING_PREFIX}{job.pk}-*"))


def test_stored_data_that_do_not_fit_their_variable_fail_the_export_with_the_reason(
    dm: Any, export_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import assessments.selectors
    from tests.exports.trial import respond

    trial = build_trial()
    respond(trial.randomised["BAL1"], "followup", "PANSS", items={"P1": "seven"})
    catalogue = [{"code": "PANSS", "name": "PANSS", "timepoints": ["T0", "T1", "T2"],
                  "items": [{"code": "P1", "label": "Delusions", "min": 1, "max": 7, "step": 1}],
                  "scores": []}]  # fmt: skip
    monkeypatch.setattr(
        assessments.selectors, "instrument_catalogue", lambda: catalogue, raising=False
    )
    job = run_inline(new_job(dm))
    assert job.status == "failed"
    assert "PANSS P1 of" in job.error and "'seven'" in job.error and "not a number" in job.error
    assert not (export_root / str(job.pk)).exists()


def test_every_file_comes_from_one_snapshot_even_when_data_change_meanwhile(
    dm: Any, export_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_trial()
    before = Participant.objects.count()
    params = dict(connection.get_connection_params())
    params.pop("cursor_factory", None)
    params.pop("context", None)

    class ChangingBuilder:
        """Between the first datasets and this one, another session commits a change."""

        name = "probe"
        reveals_allocation = False

        def build(self, context: Any) -> Any:
            def chunks() -> Any:
                with psycopg.connect(**params, autocommit=True) as other:
                    other.execute(
                        "UPDATE participants_participant SET status_reason = 'changed' "
                        "WHERE id = (SELECT min(id) FROM participants_participant)"
                    )
                    other.execute("DELETE FROM exports_maskingkeyrelease")
                yield [(Participant.objects.filter(status_reason="changed").count(),)]

            yield Dataset("probe", "Probe", [Column("N", "n", VarType.INTEGER)], chunks)

    monkeypatch.setattr(datasets, "BUILDERS", (*datasets.BUILDERS, ChangingBuilder()))
    job = run_inline(new_job(dm))
    assert job.status == "done", job.error
    probe = (export_root / job.directory / "probe.csv").read_text().splitlines()
    assert probe == ["N", "0"]  # the committed change is not in the snapshot
    assert Participant.objects.filter(status_reason="changed").count() == 1
    assert job.manifest["datasets"][0]["rows"] == before


def test_an_unblinded_export_fails_when_the_lock_was_lifted_before_it_ran(
    dm: Any, statistician: Any, export_root: Path
) -> None:
    build_trial()
    services.dataset_lock(user=dm, reason="Final")
    job = new_job(statistician, blinded=False)
    services.dataset_unlock(user=dm, reason="Correction")
    job = run_inline(job)
    assert job.status == "failed"
    assert "no longer locked" in job.error
    assert job.files == []


def test_the_instrument_registry_supplies_labels_value_labels_and_leaves_out_arm_only_forms(
    dm: Any, export_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import assessments.selectors

    build_trial()
    catalogue = [
        {"code": "GAF", "name": "Global Assessment of Functioning", "timepoints": ["T0", "T1"],
         "items": [{"code": "GAF_S", "label": "GAF symptom score", "min": 1, "max": 100,
                    "step": 1},
                   {"code": "GAF_F", "label": "GAF functioning score", "min": 1, "max": 100,
                    "step": 1}],
         "scores": [{"code": "GAF_MIN", "label": "Lower of GAF-S and GAF-F",
                     "items": ["GAF_S", "GAF_F"], "method": "table", "min": 1, "max": 100,
                     "rule": "min(GAF_S, GAF_F)"}]},
        {"code": "YMRS", "name": "Young Mania Rating Scale", "timepoints": ["T0"],
         "items": [{"code": "YMRS_1", "label": "Elevated mood", "min": 0, "max": 4,
                    "step": 0.5}], "scores": []},
        {"code": "PANSS", "name": "PANSS", "reveals_allocation": True, "items": [],
         "scores": []},
    ]  # fmt: skip
    monkeypatch.setattr(
        assessments.selectors, "instrument_catalogue", lambda: catalogue, raising=False
    )
    job = run_inline(new_job(dm))
    assert job.status == "done", job.error
    names = {d["name"] for d in job.manifest["datasets"]}
    assert "responses_long_panss" not in names  # would reveal the arm to a blinded reader
    with open(export_root / job.directory / "codebook.csv", encoding="utf-8") as handle:
        rows = {(r["dataset"], r["variable"]): r for r in csv.DictReader(handle)}
    gaf_s = rows[("responses_long_gaf", "GAF_S")]
    assert (gaf_s["label"], gaf_s["allowed_values"], gaf_s["timepoint"]) == (
        "GAF symptom score",
        "1–100",
        "T0, T1",
    )
    order = [v for (d, v) in rows if d == "responses_long_gaf"][6:]
    # Declared items in the registry's order, declared scores, then what the registry lacks.
    assert order == ["GAF_S", "GAF_F", "GAF_MIN", "GAF_F_SCORE", "GAF_S_SCORE"]
    assert "min(GAF_S, GAF_F)" in rows[("responses_long_gaf", "GAF_MIN")]["derivation"]
    assert rows[("responses_long_ymrs", "YMRS_1")]["type"] == "decimal"
    unblinded_roles = make_staff("s2", Role.STATISTICIAN)
    services.dataset_lock(user=dm, reason="Final")
    open_job = run_inline(new_job(unblinded_roles, blinded=False))
    assert "responses_long_panss" in {d["name"] for d in open_job.manifest["datasets"]}


def test_forms_without_stored_values_still_give_their_rows_and_timepoints(
    dm: Any, export_root: Path
) -> None:
    from tests.exports.trial import respond

    trial = build_trial()
    respond(trial.randomised["FRB1"], "followup", "CSQ8", items={}, scores={})
    respond(trial.randomised["BAL1"], "post", "CSQ8", items={}, scores={})
    job = run_inline(new_job(dm, formats=["csv"]))
    folder = export_root / job.directory
    rows = (folder / "responses_long_csq8.csv").read_text().splitlines()
    assert rows[0] == "STUDY_ID,SITE,GROUP,TIMEPOINT,FORM_STATUS,ASSESS_DAY"
    assert len(rows) == 3
    with open(folder / "codebook.csv", encoding="utf-8") as handle:
        panss = {r["variable"]: r for r in csv.DictReader(handle)
                 if r["dataset"] == "responses_long_panss"}  # fmt: skip
    assert panss["P1"]["timepoint"] == "T0, T1"
