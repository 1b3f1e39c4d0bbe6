"""Format writers. Each tabular writer turns one staged dataset into one file; the ODM writer,
the codebook and the syntax files cover every dataset in one file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from exports.writers import delimited, readstat, transport
from exports.writers.base import Progress, StagedDataset, WrittenFile

TabularWriter = Callable[[StagedDataset, Path, Progress], WrittenFile]

TABULAR_WRITERS: dict[str, TabularWriter] = {
    "csv": delimited.write,
    "csv_excel_da": delimited.write_excel_da,
    "sav": readstat.write_sav,
    "dta": readstat.write_dta,
    "rds": transport.write_rds,
}
