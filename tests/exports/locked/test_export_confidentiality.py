"""What never leaves in an export: CPR numbers (also where staff typed one into free text),
dates of birth, randomisation codes and allocation-list material; and, in a blinded export, the
arm and everything that reveals it (attendance, exposure, fidelity, blinding guesses, IMRS_C).
And the same locked data always give the same bytes."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest

from exports.models import ExportJob
from instruments import registry
from randomization.models import Allocation, AllocationList, AllocationSlot
from tests.exports import readback
from tests.exports.locked.conftest import LockedExports

pytestmark = pytest.mark.django_db

ARM_REVEALING = ("attendance", "exposure", "fidelity", "blinding", "responses_long_imrs_c")


def members(built: LockedExports, job: ExportJob) -> dict[str, bytes]:
    archive = next(f for f in job.files if f["kind"] == "archive")
    with zipfile.ZipFile(built.folder(job) / archive["name"]) as packed:
        return {name: packed.read(name) for name in packed.namelist()}


def everything(content: dict[str, bytes]) -> str:
    # Latin-1 maps every byte: a number in a binary SPSS/Stata/Parquet file is found too.
    return "\n".join(data.decode("latin-1") for data in content.values())


@pytest.mark.parametrize("kind", ["blinded", "unblinded"])
def test_no_cpr_number_date_of_birth_or_allocation_material_is_anywhere_in_the_archive(
    locked_exports: LockedExports, kind: str
) -> None:
    job = getattr(locked_exports, kind)[0]
    text = everything(members(locked_exports, job))
    for cpr in locked_exports.trial.cpr_numbers():
        # Also those typed into a comment, the withdrawal reason and a query message.
        assert cpr not in text and f"{cpr[:6]}-{cpr[6:]}" not in text
    for participant in locked_exports.trial.everyone:
        born = participant.date_of_birth
        assert born.isoformat() not in text and born.strftime("%d%m%Y") not in text
    for code in Allocation.objects.values_list("randomization_code", flat=True):
        assert code not in text
    for sealed in AllocationSlot.objects.values_list("arm_sealed", flat=True):
        assert sealed not in text
    for digest in AllocationList.objects.values_list("sha256", flat=True).distinct():
        assert digest not in text
    variables = {
        row["variable"].upper()
        for row in readback.read_codebook(locked_exports.folder(job) / "codebook.csv")
    }
    forbidden = {"CPR", "CPR_NUMBER", "DOB", "DATE_OF_BIRTH", "NAME", "FIRST_NAME", "LAST_NAME",
                 "RAND_CODE", "RANDOMIZATION_CODE", "SLOT", "BLOCK", "BLOCK_SIZE", "SEED",
                 "SEQUENCE"}  # fmt: skip
    assert not variables & forbidden
    assert "Moved abroad" not in text  # the withdrawal reason (free text) is not exported
    assert "Refused? The note" not in text  # nor the query conversation


def test_a_blinded_archive_holds_no_arm_and_nothing_that_reveals_one(
    locked_exports: LockedExports,
) -> None:
    job = locked_exports.blinded[0]
    content = members(locked_exports, job)
    text = everything(content)
    for word in ("TAU", "Treatment as usual", "IMR + treatment", "BAL-A", "FRB-A"):
        assert word not in text, word
    for name in ARM_REVEALING:
        assert not any(member.startswith(f"{name}.") for member in content), name
    codebook = list(csv.DictReader(io.StringIO(content["codebook.csv"].decode("utf-8"))))
    assert not {row["dataset"] for row in codebook} & set(ARM_REVEALING)
    assert not [row for row in codebook if row["instrument"] == "IMRS_C"]
    assert not [row for row in codebook if row["variable"].startswith("IMRS_C")]
    assert "IMRS_C" not in content["odm.xml"].decode("utf-8")
    for name, data in content.items():
        if name.endswith(".csv") and not name.startswith("codebook"):
            header = next(csv.reader(io.StringIO(data.decode("utf-8"))))
            assert "ARM" not in header and not {"GROUP_ID", "SESSIONS"} & set(header)
            assert "IMRS_C" not in data.decode("utf-8")  # neither variables nor queries
    html = content["codebook.html"].decode("utf-8")
    assert "Not in this export" in html
    for what in ("IMRS_C", "attendance", "exposure", "fidelity", "blinding"):
        assert f"<code>{what}</code>" in html


def test_blinded_exports_code_the_masked_groups_and_unblinded_ones_the_arm(
    locked_exports: LockedExports,
) -> None:
    def rows(job: ExportJob) -> dict[str, dict[str, str]]:
        path = locked_exports.folder(job) / "participants.csv"
        with open(path, encoding="utf-8") as handle:
            return {row["STUDY_ID"]: row for row in csv.DictReader(handle)}

    masked, open_rows = rows(locked_exports.blinded[0]), rows(locked_exports.unblinded[0])
    for participant in locked_exports.trial.randomized.values():
        arm = participant.allocation.arm
        letter = locked_exports.masking[arm]
        assert masked[participant.study_id]["GROUP"] == {"A": "1", "B": "2"}[letter]
        assert open_rows[participant.study_id]["ARM"] == {"IMR": "1", "TAU": "0"}[arm]
    assert locked_exports.unblinded[0].manifest["allocation_variable"] == "ARM"
    assert locked_exports.unblinded[0].manifest["withheld"] == []


@pytest.mark.parametrize("kind", ["blinded", "unblinded"])
def test_two_exports_of_the_same_locked_data_are_byte_identical(
    locked_exports: LockedExports, kind: str
) -> None:
    first, second = getattr(locked_exports, kind)
    hashes = [
        {f["name"]: f["sha256"] for f in job.files if f["kind"] != "archive"}
        for job in (first, second)
    ]
    assert hashes[0] == hashes[1]
    datasets = {d["name"] for d in first.manifest["datasets"]}
    for name in datasets:
        for ext in ("csv", "sav", "dta", "parquet"):
            assert f"{name}.{ext}" in hashes[0]
    assert {"odm.xml", "codebook.csv", "codebook.html"} <= set(hashes[0])
    content = [members(locked_exports, job) for job in (first, second)]
    assert content[0].keys() == content[1].keys()
    differing = {name for name in content[0] if content[0][name] != content[1][name]}
    assert differing == {"manifest.json"}  # it says when and for whom; nothing else differs


def test_only_form_instruments_a_blinded_reader_may_read_are_in_a_blinded_export(
    locked_exports: LockedExports,
) -> None:
    names = {d["name"] for d in locked_exports.blinded[0].manifest["datasets"]}
    for instrument in registry.forms():
        assert (f"responses_long_{instrument.code.lower()}" in names) is (
            instrument.blinded_readable
        )
    withheld = {w["what"] for w in locked_exports.blinded[0].manifest["withheld"]}
    assert withheld == {"IMRS_C", "attendance", "exposure", "fidelity", "blinding"}
