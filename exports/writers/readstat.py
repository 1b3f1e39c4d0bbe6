"""SPSS .sav and Stata .dta through pyreadstat (ReadStat), with variable labels, value labels and
missing values in each program's own way:

- SPSS: the negative codes stay in the data and are declared user-missing (a discrete list or
  the range -999..-991), with a value label saying the reason.
- Stata: the codes become extended missing values (.a not answered, .b refused, .c not assessed,
  .d insufficient information, .e not applicable, .z other), labelled likewise.

ReadStat stamps the time of writing into both headers; the stamp is overwritten with a fixed
one so that the same data always gives the same bytes (the manifest says when)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyreadstat

from datasets.base import Column, VarType
from exports.writers.base import Progress, StagedDataset, WrittenFile

STATA_VERSION = 14  # format 118: Stata 14 and later, Unicode
STATA_LABEL_MAX = 80
SPSS_FILE_LABEL_MAX = 64
# Written instead of the time of writing.
SAV_STAMP = b"01 Jan 70" + b"00:00:00"
DTA_STAMP = b"01 Jan 1970 00:00"


def _numeric(array: pa.ChunkedArray) -> np.ndarray:
    return pc.cast(array, pa.float64()).to_numpy(zero_copy_only=False)


def _text(array: pa.ChunkedArray) -> list[str]:
    return pc.fill_null(array, "").to_pylist()


def _sav_frame(staged: StagedDataset) -> pd.DataFrame:
    table = staged.table()
    data: dict[str, Any] = {}
    for column, array in zip(staged.columns, table.columns, strict=True):
        if column.type == VarType.TEXT:
            data[column.name] = pd.Series(_text(array), dtype=object)
        else:
            data[column.name] = _numeric(array)
    return pd.DataFrame(data, index=pd.RangeIndex(table.num_rows))


def _sav_missing(column: Column) -> list[Any]:
    codes = sorted(column.missing)
    if len(codes) <= 3:
        return [float(code) for code in codes]
    return [{"lo": float(codes[0]), "hi": float(codes[-1])}]


def _labels(column: Column, *, stata: bool) -> dict[Any, str]:
    labels: dict[Any, str] = {}
    for value, label in column.value_labels:
        labels[int(value) if float(value).is_integer() else float(value)] = label
    for missing in column.missing_codes:
        labels[missing.stata if stata else missing.code] = missing.label
    return labels


def write_sav(staged: StagedDataset, directory: Path, progress: Progress) -> WrittenFile:
    name = f"{staged.name}.sav"
    frame = _sav_frame(staged)
    columns = staged.columns
    pyreadstat.write_sav(
        frame,
        str(directory / name),
        file_label=staged.dataset.label[:SPSS_FILE_LABEL_MAX],
        column_labels={c.name: c.label for c in columns},
        variable_value_labels={
            c.name: _labels(c, stata=False)
            for c in columns
            if c.type != VarType.TEXT and (c.value_labels or c.missing)
        },
        missing_ranges={c.name: _sav_missing(c) for c in columns if c.missing},
        variable_measure={
            c.name: "nominal" if c.type == VarType.TEXT or c.value_labels else "scale"
            for c in columns
        },
        variable_format={c.name: "F8.0" for c in columns if c.type == VarType.INTEGER},
    )
    _restamp_sav(directory / name)
    progress(staged.rows)
    return WrittenFile(name, "sav", "data", staged.name, staged.rows, directory / name)


def _stata_values(column: Column, array: pa.ChunkedArray) -> Any:
    """Numbers as Stata wants them. Where a reason-coded missing value occurs, an object
    column mixing numbers and missing letters, which pyreadstat writes as the variable's type
    with extended missing values; otherwise a plain numeric column (much faster to write)."""
    values = _numeric(array)
    absent = np.isnan(values)
    if absent.all():
        return values  # double, all system missing
    codes = np.isin(values, list(column.missing)) if column.missing else np.zeros_like(absent)
    integral = column.type == VarType.INTEGER
    if not codes.any():
        if not integral:
            return values
        # int32: Stata's "long" (pyreadstat would store int64 as double).
        if not absent.any():
            return values.astype(np.int32)
        return pd.arrays.IntegerArray(np.where(absent, 0, values).astype(np.int32), absent)
    numbers = np.where(absent | codes, 0, values)
    mixed = (numbers.astype(np.int64) if integral else numbers).astype(object)
    letters = {m.code: m.stata for m in column.missing_codes}
    for position in np.flatnonzero(codes):
        mixed[position] = letters[int(values[position])]
    mixed[absent] = None
    return pd.Series(mixed, dtype=object)


def write_dta(staged: StagedDataset, directory: Path, progress: Progress) -> WrittenFile:
    name = f"{staged.name}.dta"
    table = staged.table()
    columns = staged.columns
    data: dict[str, Any] = {}
    for column, array in zip(columns, table.columns, strict=True):
        if column.type == VarType.TEXT:
            data[column.name] = pd.Series(_text(array), dtype=object)
        else:
            data[column.name] = _stata_values(column, array)
    frame = pd.DataFrame(data, index=pd.RangeIndex(table.num_rows))
    del table, data  # only the frame is held while ReadStat writes it
    pyreadstat.write_dta(
        frame,
        str(directory / name),
        file_label=staged.dataset.label[:STATA_LABEL_MAX],
        column_labels={c.name: c.label[:STATA_LABEL_MAX] for c in columns},
        version=STATA_VERSION,
        variable_value_labels={
            c.name: _labels(c, stata=True)
            for c in columns
            if c.type != VarType.TEXT and (c.value_labels or c.missing)
        },
        missing_user_values={
            c.name: [m.stata for m in c.missing_codes] for c in columns if c.missing
        },
    )
    _restamp_dta(directory / name)
    progress(staged.rows)
    return WrittenFile(name, "dta", "data", staged.name, staged.rows, directory / name)


def _restamp_sav(path: Path) -> None:
    # System file header: "$FL2" or "$FL3", ..., creation date (9 bytes) at offset 84 + 8,
    # creation time (8 bytes) right after it.
    with open(path, "r+b") as handle:
        header = handle.read(4)
        if header not in (b"$FL2", b"$FL3"):
            raise ValueError(f"{path.name} is not an SPSS system file.")
        handle.seek(92)
        handle.write(SAV_STAMP)


def _restamp_dta(path: Path) -> None:
    # Format 117+: <timestamp>, one length byte (17), then "dd Mon yyyy hh:mm".
    with open(path, "r+b") as handle:
        head = handle.read(512)
        start = head.find(b"<timestamp>")
        if start < 0:
            raise ValueError(f"{path.name} has no Stata timestamp.")
        length = head[start + len(b"<timestamp>")]
        if length == 0:
            return
        if length != len(DTA_STAMP):
            raise ValueError(f"{path.name} has an unexpected Stata timestamp.")
        handle.seek(start + len(b"<timestamp>") + 1)
        handle.write(DTA_STAMP)
