"""CSV: UTF-8 without a byte-order mark, comma-separated, RFC 4180 quoting and line ends, one
header row of variable names. Missing values with a reason are their negative codes (see the
codebook); a value missing without a reason is an empty field."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from exports.datasets.base import VarType
from exports.writers.base import Progress, StagedDataset, WrittenFile


def _cell(value: Any, kind: VarType) -> str:
    if value is None:
        return ""
    if kind == VarType.DECIMAL:
        number = float(value)
        return repr(number)
    return str(value)


def write(staged: StagedDataset, directory: Path, progress: Progress) -> WrittenFile:
    name = f"{staged.name}.csv"
    kinds = [column.type for column in staged.columns]
    with open(directory / name, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow([column.name for column in staged.columns])
        for batch in staged.batches():
            values = [batch.column(i).to_pylist() for i in range(batch.num_columns)]
            rows = zip(*values, strict=True)
            writer.writerows([_cell(v, kinds[i]) for i, v in enumerate(row)] for row in rows)
            progress(batch.num_rows)
    return WrittenFile(name, "csv", "data", staged.name, staged.rows, directory / name)
