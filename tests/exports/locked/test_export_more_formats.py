"""The formats beside SPSS, Stata, CSV and Parquet read back as the same rows: SAS transport
files (short names mapped back to the long ones), R .rds files (factors for labelled variables,
NA for reason-coded missing values) and the CSV for Excel in a Danish locale; the syntax files
name every variable of the data files; one rounding policy for derived scores."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pyreadr
import pyreadstat
import pytest

from exports.writers.transport import sas_members, sas_names
from tests.exports import readback
from tests.exports.locked.conftest import LockedExports
from tests.exports.locked.test_export_formats import CASES, codebook, job_of, normalised, wanted

pytestmark = pytest.mark.django_db


def _read_excel_da(path: Path, kinds: dict[str, str]) -> tuple[list[str], list[dict[str, Any]]]:
    raw = path.read_bytes()
    assert raw.startswith("\ufeff".encode()), "UTF-8 byte-order mark"
    assert b"\r\n" in raw
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle, delimiter=";")
        rows = []
        for row in reader:
            rows.append(
                {
                    name: value
                    if kinds[name] == "text"
                    else readback._number(value.replace(",", ".") or None, kinds[name])
                    for name, value in row.items()
                }
            )
    return list(reader.fieldnames or []), rows


def _labels(folder: Path, name: str) -> dict[str, dict[float, str]]:
    """Value labels per variable, from the Parquet file's column metadata."""
    schema = pq.read_schema(folder / f"{name}.parquet")
    found = {}
    for field in schema:
        meta = field.metadata or {}
        if meta.get(b"value_labels"):
            labels = json.loads(meta[b"value_labels"])
            found[field.name] = {float(k): v for k, v in labels.items()}
    return found


def _missing(folder: Path, name: str) -> dict[str, set[float]]:
    schema = pq.read_schema(folder / f"{name}.parquet")
    return {
        field.name: {float(code) for code in json.loads(field.metadata[b"missing_codes"])}
        for field in schema
        if field.metadata and field.metadata.get(b"missing_codes")
    }


@pytest.mark.parametrize(("kind", "name"), CASES, ids=[f"{k}-{n}" for k, n in CASES])
def test_sas_r_and_danish_excel_files_read_back_the_dataset(
    locked_exports: LockedExports, kind: str, name: str
) -> None:
    job = job_of(locked_exports, kind)
    masking = locked_exports.masking if kind == "blinded" else None
    folder = locked_exports.folder(job)
    kinds = readback.kinds_of(codebook(locked_exports, job), name)
    expected = normalised(wanted(name, kind == "blinded", masking), kinds)

    names, rows = _read_excel_da(folder / f"{name}.excel-da.csv", kinds)
    assert names == list(kinds)
    assert normalised(rows, kinds) == expected

    frame, meta = pyreadstat.read_xport(str(folder / f"{name}.xpt"))
    short = sas_names(list(kinds))
    assert list(frame.columns) == list(short.values())
    assert all(len(s) <= 8 for s in short.values())
    assert meta.table_name == sas_members([d["name"] for d in job.manifest["datasets"]])[name]
    assert [meta.column_names_to_labels[short[n]] for n in kinds] == [n[:40] for n in kinds]
    frame.columns = list(kinds)
    assert normalised(readback._frame_rows(frame, kinds), kinds) == expected

    rds = pyreadr.read_r(str(folder / f"{name}.rds"))[None]
    assert list(rds.columns) == list(kinds)
    labels, missing = _labels(folder, name), _missing(folder, name)
    factors = [n for n in kinds if isinstance(rds[n].dtype, pd.CategoricalDtype)]
    assert set(factors) <= set(labels)
    if name == "participants":
        assert {"SITE", "GROUP" if kind == "blinded" else "ARM"} <= set(factors)
    for got, want in zip(rds.to_dict(orient="records"), expected, strict=True):
        for variable, value in want.items():
            if kinds[variable] != "text" and value is not None:
                if float(value) in missing.get(variable, set()):
                    value = None  # R has one NA: the reasons are in the CSV and SPSS files
                elif variable in factors:
                    value = labels[variable][float(value)]
            actual = got[variable]
            if isinstance(actual, float) and math.isnan(actual):
                actual = None
            if kinds[variable] == "text" and actual is None:
                actual = ""
            if kinds[variable] == "integer" and variable not in factors and actual is not None:
                actual = int(actual)
            assert actual == value, (variable, got.get("STUDY_ID", got))


def test_the_syntax_files_read_every_csv_with_every_variable(
    locked_exports: LockedExports,
) -> None:
    job = job_of(locked_exports, "unblinded")
    folder = locked_exports.folder(job)
    spss = (folder / "import_spss.sps").read_text(encoding="utf-8")
    stata = (folder / "import_stata.do").read_text(encoding="utf-8")
    r_script = (folder / "import_r.R").read_text(encoding="utf-8")
    sas = (folder / "import_sas.sas").read_text(encoding="utf-8")
    assert r_script.isascii(), "R strings are escaped, so the script reads alike in any locale"
    for dataset in job.manifest["datasets"]:
        name = dataset["name"]
        assert f"/FILE='{name}.csv'" in spss
        assert f'import delimited using "{name}.csv"' in stata
        assert f'read_export_csv("{name}.csv"' in r_script
        assert f'xport "&export/{name}.xpt"' in sas
        for variable in dataset["variables"]:
            assert f"    {variable} " in spss
            assert f"label variable {variable} " in stata
            assert f'[["{variable}"]]' in r_script
            assert f"    {variable}=" in sas
    names = {f["name"]: f for f in job.files}
    for syntax in ("import_spss.sps", "import_stata.do", "import_r.R", "import_sas.sas"):
        assert names[syntax]["format"] == "syntax"


def test_derived_means_are_rounded_once_half_up_to_three_decimals(
    locked_exports: LockedExports,
) -> None:
    job = job_of(locked_exports, "unblinded")
    folder = locked_exports.folder(job)
    rows = {r["variable"]: r for r in codebook(locked_exports, job) if r["dataset"] == "fidelity"}
    assert rows["FID_MEAN"]["decimals"] == "3"
    kinds = readback.kinds_of(codebook(locked_exports, job), "fidelity")
    _, fidelity = readback.read_csv(folder / "fidelity.csv", kinds)
    means = [row["FID_MEAN"] for row in fidelity if row["FID_MEAN"] is not None]
    assert means
    for row in fidelity:
        if row["FID_TOTAL"] is not None:
            # x/13 never ends in an exact half at the fourth decimal: round() is half up here.
            assert row["FID_MEAN"] == round(row["FID_TOTAL"] / 13, 3)
    for mean in means:
        assert mean == round(mean, 3)
    html = (folder / "codebook.html").read_text(encoding="utf-8")
    assert "rounded once, at the end, half up" in html
