"""What makes an export trustworthy: one snapshot, the same bytes from the same locked data,
a manifest that describes every file, stored data that do not fit their variable refused with
the reason, and no partial files when it fails."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.db import connection

import datasets
from datasets.base import Column, Dataset, VarType
from exports import services
from exports.assembly.files import BUILDING_PREFIX
from exports.models import ExportJob
from instruments import metadata
from participants.models import Participant
from tests.exports.trial import build_trial, lock, new_job, respond, run_inline
from tests.factories import allocate, make_participant
from trial.audit import events_of

pytestmark = pytest.mark.django_db(transaction=True)

DATA_FORMATS = {"csv", "sav", "dta", "parquet", "odm"}


def archive_members(job: ExportJob, root: Path) -> dict[str, bytes]:
    archive = next(f for f in job.files if f["kind"] == "archive")
    with zipfile.ZipFile(root / job.directory / archive["name"]) as packed:
        return {name: packed.read(name) for name in packed.namelist()}


def data_hashes(job: ExportJob) -> dict[str, str]:
    return {f["name"]: f["sha256"] for f in job.files if f["kind"] != "archive"}


def test_unlocking_and_locking_again_without_changes_changes_no_byte(
    dm: Any, statistician: Any, export_root: Path
) -> None:
    build_trial()
    lock(dm)
    first = [run_inline(new_job(dm)), run_inline(new_job(statistician, blinded=False))]
    services.dataset_unlock(user=dm, reason="Check")
    lock(dm)
    again = [run_inline(new_job(dm)), run_inline(new_job(statistician, blinded=False))]
    for before, after in zip(first, again, strict=True):
        assert before.status == after.status == "done", after.error
        assert data_hashes(before) == data_hashes(after)
        assert {f["format"] for f in after.files} >= DATA_FORMATS


def test_the_manifest_describes_every_file_the_snapshot_the_lock_and_who_asked(
    dm: Any, export_root: Path
) -> None:
    trial = build_trial()
    lock(dm)
    job = run_inline(new_job(dm))
    folder = export_root / job.directory
    manifest = job.manifest
    assert manifest == json.loads((folder / "manifest.json").read_text())
    assert manifest["export_id"] == str(job.pk)
    assert manifest["requested_by"] == {"id": dm.pk, "username": "dm"}
    assert manifest["lock"]["level"] == "lock" and manifest["lock"]["open_queries_override"]
    assert job.snapshot_at is not None
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
    assert rows["participants"] == rows["responses_wide"] == Participant.objects.count()
    assert rows["responses_long_gaf"] == 11
    assert rows["service_use"] == 4 * len(trial.randomized)
    for dataset, count in rows.items():
        for fmt in ("csv", "sav", "dta", "parquet"):
            assert listed[f"{dataset}.{fmt}"]["rows"] == count
    # The assessments app's reason codes; what is left out and why; the draft form.
    assert {m["reason"]: m["code"] for m in manifest["missing_value_codes"]} == dict(
        metadata.MISSING_CODES
    )
    assert {m["reason"]: m["stata"] for m in manifest["missing_value_codes"]} == dict(
        metadata.STATA_MISSING
    )
    withheld = {w["what"]: w["why"] for w in manifest["withheld"]}
    assert set(withheld) == {"IMRS_C", "attendance", "exposure", "fidelity", "blinding"}
    assert "blinded users" in withheld["IMRS_C"]
    assert manifest["not_exported"] == {"draft_forms": 1}
    members = archive_members(job, export_root)
    assert set(members) == set(listed) | {"manifest.json"}


def test_status_changes_are_audited_but_progress_ticks_are_not(dm: Any, export_root: Path) -> None:
    build_trial()
    job = run_inline(new_job(dm))
    events = list(events_of(job).order_by("pgh_id"))
    assert [e.status for e in events] == ["queued", "running", "done"]
    assert not hasattr(events[0], "progress")


def test_a_failed_export_says_why_and_offers_no_partial_files(
    dm: Any, export_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
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


@pytest.mark.parametrize(
    ("items", "missing", "message"),
    [
        ({"HAMD6_1": "seven"}, {}, "HAMD6 HAMD6_1 of {sid} at post holds 'seven', which is not "
         "a number"),
        ({"HAMD6_1": 1.5}, {}, "holds 1.5, which is not a whole number"),
        ({"HAMD6_1": 7}, {}, "holds 7, which is not within 0–4"),
        ({"HAMD6_1": 1, "HAMD6_X": 1}, {}, "holds HAMD6_X, which the instrument module does not "
         "declare"),
        ({"HAMD6_1": 1}, {"HAMD6_2": "forgot"}, "for the reason 'forgot', which is not a "
         "missing-data reason"),
    ],
)  # fmt: skip
def test_stored_data_that_do_not_fit_their_variable_fail_the_export_with_the_reason(
    dm: Any, export_root: Path, items: dict, missing: dict, message: str
) -> None:
    participant = make_participant("BAL")
    allocate(participant, "TAU")
    respond(participant, "post", "HAMD6", items, missing, scores={})
    job = run_inline(new_job(dm))
    assert job.status == "failed"
    assert message.format(sid=participant.study_id) in job.error
    assert "Correct the form" in job.error or "reason" in job.error
    assert not (export_root / str(job.pk)).exists()


def test_forms_of_an_instrument_or_timepoint_no_module_describes_fail_the_export(
    dm: Any, export_root: Path
) -> None:
    participant = make_participant("BAL")
    respond(participant, "baseline", "CSQ8", {}, scores={})  # CSQ-8 is not collected at T0
    job = run_inline(new_job(dm))
    assert job.status == "failed" and "does not collect it" in job.error
    from assessments.models import InstrumentResponse

    InstrumentResponse.objects.all().delete()
    InstrumentResponse.objects.create(
        participant=participant, timepoint="baseline", instrument="NOTE", status="complete"
    )
    job = run_inline(new_job(dm))
    assert job.status == "failed" and "'NOTE', which no instrument module describes" in job.error


def test_every_file_comes_from_one_snapshot_even_when_data_change_meanwhile(
    dm: Any, export_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_participant("BAL")
    make_participant("GLA")
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
    make_participant("BAL")
    lock(dm)
    job = new_job(statistician, blinded=False)
    services.dataset_unlock(user=dm, reason="Correction")
    job = run_inline(job)
    assert job.status == "failed"
    assert "no longer locked" in job.error
    assert job.files == []


def test_an_export_of_an_empty_trial_still_has_every_file_and_variable(
    dm: Any, statistician: Any, export_root: Path
) -> None:
    lock(dm)
    for job in (run_inline(new_job(dm)), run_inline(new_job(statistician, blinded=False))):
        assert job.status == "done", job.error
        assert all(d["rows"] == 0 for d in job.manifest["datasets"])
        members = archive_members(job, export_root)
        assert "responses_wide.sav" in members and "responses_wide.dta" in members
