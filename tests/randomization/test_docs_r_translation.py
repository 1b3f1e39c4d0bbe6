"""The R translation of the allocation-list generator in docs/randomisation.md runs (R with the
openssl package; .ci/run installs them from Debian) and gives the same list hashes as the
Python generator: three sites × 300 slots from one seed."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from randomization import generator

pytestmark = pytest.mark.readers

DOC = Path(__file__).resolve().parents[2] / "docs" / "randomisation.md"
SEED = "5f1c0a9e3b7d42e8a6c4f0d2b9e1a7c3"
SITES = ("BAL", "GLA", "FRB")
SLOTS = 300


def r_translation() -> str:
    """The doc's R block, without its worked-example call at the end."""
    match = re.search(r"```r\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert match, "no R block in docs/randomisation.md"
    return match.group(1).split("\nbal <- imr_list(")[0]


def test_the_r_translation_gives_the_python_generators_list_hashes(tmp_path: Path) -> None:
    rscript = shutil.which("Rscript")
    assert rscript, "R is not installed (.ci/run installs r-base-core and r-cran-openssl)"
    program = tmp_path / "lists.R"
    program.write_text(
        r_translation()
        + "\nfor (site in c("
        + ", ".join(f'"{site}"' for site in SITES)
        + ")) {\n"
        + f'  df <- imr_list("{SEED}", site, {SLOTS})\n'
        + '  cat(site, as.character(openssl::sha256(charToRaw(canonical_csv(df)))), "\\n")\n'
        + "}\n",
        encoding="utf-8",
    )
    done = subprocess.run([rscript, str(program)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    from_r = dict(line.split()[:2] for line in done.stdout.splitlines() if line.strip())
    seed = generator.seed_from_hex(SEED)
    from_python = {
        site: generator.list_sha256(
            generator.generate_list(seed=seed, stratum=site, min_length=SLOTS)
        )
        for site in SITES
    }
    assert from_r == from_python
