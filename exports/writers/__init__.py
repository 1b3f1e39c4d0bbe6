"""Format writers. Each tabular writer turns one staged dataset into one file; the ODM writer
and the codebook cover every dataset in one file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from exports.writers import delimited, readstat
from exports.writers.base import Progress, StagedDataset, WrittenFile

TabularWriter = Callable[[StagedDataset, Path, Progress], WrittenFile]

TABULAR_WRITERS: dict[str, TabularWriter] = {
    "csv": delimited.write,
    "sav": readstat.write_sav,
    "dta": readstat.write_dta,
}
