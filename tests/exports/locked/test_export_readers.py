"""Independent readers open the export files: R's haven reads every .sav, .dta and .xpt file and
R itself every .rds file (rows, variables, labels); GNU PSPP opens every .sav file and runs the
SPSS syntax that reads the CSV files; R runs the R script that reads the CSV files with haven.
.ci/run installs R (r-base-core, r-cran-haven) and PSPP from Debian when they are missing."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.exports.locked.conftest import LockedExports

pytestmark = [pytest.mark.django_db, pytest.mark.readers]

READ_EVERYTHING = r"""
suppressMessages(library(haven))
for (f in list.files(".", pattern = "\\.(sav|dta|xpt|rds)$")) {
  d <- switch(tools::file_ext(f), sav = read_sav(f), dta = read_dta(f), xpt = read_xpt(f),
              rds = readRDS(f))
  site <- d[["SITE"]]
  cat(f, nrow(d), ncol(d), length(attr(site, "labels")),
      if (is.factor(site)) nlevels(site) else 0, "\n", sep = "\t")
}
"""

RUN_R_SCRIPT = r"""
suppressMessages(library(haven))
source("import_r.R")
p <- participants
stopifnot(inherits(p$SITE, "haven_labelled_spss"), length(attr(p$SITE, "labels")) == 3)
cat(nrow(p), ncol(p), attr(p$SITE, "label"), sep = "\n")
"""


def tool(name: str) -> str:
    found = shutil.which(name)
    assert found, f"{name} is not installed (.ci/run installs it from Debian's packages)"
    return found


def run(command: list[str], folder: Path) -> str:
    done = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.parametrize("kind", ["blinded", "unblinded"])
def test_r_reads_every_sav_dta_xpt_and_rds_file_whole(
    locked_exports: LockedExports, kind: str
) -> None:
    job = getattr(locked_exports, kind)[0]
    folder = locked_exports.folder(job)
    found = {}
    for line in run([tool("Rscript"), "-e", READ_EVERYTHING], folder).splitlines():
        name, rows, columns, labels, levels = line.split("\t")[:5]
        found[name] = {"rows": int(rows), "columns": int(columns)}
        found[name] |= {"labels": int(labels), "levels": int(levels)}
    datasets = {d["name"]: d for d in job.manifest["datasets"]}
    expected = {f"{name}.{ext}" for name in datasets for ext in ("sav", "dta", "xpt", "rds")}
    assert set(found) == expected
    for file, seen in found.items():
        dataset = datasets[file.rsplit(".", 1)[0]]
        assert (seen["rows"], seen["columns"]) == (dataset["rows"], len(dataset["variables"]))
        if "SITE" in dataset["variables"]:
            if file.endswith((".sav", ".dta")):
                assert seen["labels"] == 3, file  # value labels of the three sites
            if file.endswith(".rds"):
                assert seen["levels"] == 3, file  # a factor


def test_pspp_opens_every_sav_file_and_runs_the_spss_syntax(
    locked_exports: LockedExports, tmp_path: Path
) -> None:
    job = locked_exports.unblinded[0]
    folder = locked_exports.folder(job)
    lines = [f"GET FILE='{path.name}'.\nDISPLAY DICTIONARY." for path in folder.glob("*.sav")]
    lines.append((folder / "import_spss.sps").read_text(encoding="utf-8"))
    lines.append("DATASET ACTIVATE participants.\nDESCRIPTIVES /VARIABLES=SITE.")
    syntax = tmp_path / "check.sps"
    syntax.write_text("\n".join(lines), encoding="utf-8")
    output = tmp_path / "out.txt"
    run([tool("pspp"), "-O", "format=txt", "-o", str(output), str(syntax)], folder)
    text = output.read_text(encoding="utf-8")
    assert "error" not in text.lower(), text[:3000]
    assert "Recruiting" in text or "SITE" in text


def test_r_runs_the_r_script_that_reads_the_csv_files_with_labels(
    locked_exports: LockedExports,
) -> None:
    job = locked_exports.unblinded[0]
    folder = locked_exports.folder(job)
    rows, columns, label = run([tool("Rscript"), "-e", RUN_R_SCRIPT], folder).split("\n")[:3]
    participants = next(d for d in job.manifest["datasets"] if d["name"] == "participants")
    assert (int(rows), int(columns)) == (participants["rows"], len(participants["variables"]))
    assert label
