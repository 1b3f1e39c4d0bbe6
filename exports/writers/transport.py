"""SAS XPORT transport files (version 5, through pyreadstat) and R data files (.rds, through
pyreadr), one per dataset.

SAS version 5 allows variable and member names of at most 8 characters, labels of at most 40
and text of at most 200 bytes: every variable gets a short name (`sas_names`, the same in the
SAS program that restores the long names), its long name as the label, and the values stay as
they are (the negative missing-value codes included; the SAS program turns them into SAS's
special missing values .A-.Z and applies the formats and full labels).

R: variables with value labels whose values all have a label become factors (levels in code
order); reason-coded missing values become NA, which R has only one of (the CSV files read by
the R script keep the reasons). Variable labels do not survive in an .rds written by pyreadr:
the codebook and the R script carry them."""

from __future__ import annotations

import gzip
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyreadr
import pyreadstat

from datasets.base import Column, VarType
from exports.writers.base import Progress, StagedDataset, WrittenFile

SAS_NAME_MAX = 8
SAS_LABEL_MAX = 40
SAS_TEXT_MAX = 200
RDS_GZIP_LEVEL = 6


def _shorten(name: str, taken: set[str]) -> str:
    """A SAS version 5 name: at most 8 characters of A-Z, 0-9 and _, not starting with a
    digit, unique (case-insensitively) among `taken` (which it joins)."""
    clean = re.sub(r"[^A-Z0-9_]", "_", name.upper()) or "V"
    if clean[0].isdigit():
        clean = "_" + clean
    candidate = clean[:SAS_NAME_MAX]
    number = 1
    while candidate in taken:
        suffix = str(number)
        candidate = clean[: SAS_NAME_MAX - len(suffix)] + suffix
        number += 1
    taken.add(candidate)
    return candidate


def sas_names(names: list[str]) -> dict[str, str]:
    """Long variable name -> its SAS version 5 name, in column order (deterministic)."""
    taken: set[str] = set()
    return {name: _shorten(name, taken) for name in names}


def sas_member(dataset: str, taken: set[str]) -> str:
    """The member (table) name of a dataset inside its .xpt file."""
    short = dataset.upper().replace("RESPONSES_LONG_", "RL_").replace("RESPONSES_", "R_")
    return _shorten(short, taken)


def sas_members(names: list[str]) -> dict[str, str]:
    taken: set[str] = set()
    return {name: sas_member(name, taken) for name in names}


def _numbers(array: pa.ChunkedArray) -> np.ndarray:
    return pc.cast(array, pa.float64()).to_numpy(zero_copy_only=False)


def _truncate(text: str | None, limit: int) -> str:
    """At most `limit` UTF-8 bytes, cut at a character boundary."""
    if not text:
        return ""
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text
    return encoded[:limit].decode("utf-8", errors="ignore")


def write_xpt(
    staged: StagedDataset, directory: Path, progress: Progress, *, member: str
) -> WrittenFile:
    name = f"{staged.name}.xpt"
    table = staged.table()
    short = sas_names([c.name for c in staged.columns])
    data: dict[str, Any] = {}
    for column, array in zip(staged.columns, table.columns, strict=True):
        if column.type == VarType.TEXT:
            values = pc.fill_null(array, "").to_pylist()
            data[short[column.name]] = [_truncate(v, SAS_TEXT_MAX) for v in values]
        else:
            data[short[column.name]] = _numbers(array)
    frame = pd.DataFrame(data, index=pd.RangeIndex(table.num_rows))
    del table, data  # the frame holds a copy
    pyreadstat.write_xport(
        frame,
        str(directory / name),
        file_label=staged.dataset.label[:SAS_LABEL_MAX],
        # The long name is the label here; the SAS program sets the full label.
        column_labels={short[c.name]: c.name[:SAS_LABEL_MAX] for c in staged.columns},
        table_name=member,
        file_format_version=5,
    )
    _restamp_xpt(directory / name)
    progress(staged.rows)
    return WrittenFile(name, "xpt", "data", staged.name, staged.rows, directory / name)


# The XPORT headers carry the time of writing twice ("ddMMMyy:hh:mm:ss") in the library and
# member headers; a fixed stamp keeps the same data giving the same bytes (the manifest says
# when).
XPT_STAMP = b"01JAN70:00:00:00"
_XPT_TIME = re.compile(rb"\d{2}[A-Z]{3}\d{2}:\d{2}:\d{2}:\d{2}")


def _restamp_xpt(path: Path) -> None:
    with open(path, "r+b") as handle:
        head = handle.read(80 * 12)  # the header records come first, 80 bytes each
        if not head.startswith(b"HEADER RECORD*******LIBRARY HEADER RECORD"):
            raise ValueError(f"{path.name} is not a SAS transport file.")
        for match in _XPT_TIME.finditer(head):
            handle.seek(match.start())
            handle.write(XPT_STAMP)


def factor_levels(column: Column) -> list[tuple[float, str]] | None:
    """The (value, label) pairs of a factor, when the variable is one: numbers whose allowed
    values are exactly its value labels."""
    if column.type == VarType.TEXT or not column.value_labels:
        return None
    if column.minimum is not None or column.maximum is not None:
        labelled = {float(value) for value, _ in column.value_labels}
        low = column.minimum if column.minimum is not None else min(labelled)
        high = column.maximum if column.maximum is not None else max(labelled)
        if column.type == VarType.DECIMAL or high - low + 1 > len(labelled):
            return None  # values between the labelled ones are allowed: stays a number
    return [(float(value), label) for value, label in column.value_labels]


def _r_column(column: Column, array: pa.ChunkedArray) -> Any:
    if column.type == VarType.TEXT:
        return pd.Series(array.to_pylist(), dtype=object)
    values = _numbers(array)
    if column.missing:
        values = np.where(np.isin(values, list(column.missing)), np.nan, values)
    levels = factor_levels(column)
    if levels is None:
        return values
    labels = [label for _, label in levels]
    codes = np.full(len(values), -1, dtype=np.int64)
    for position, (value, _) in enumerate(levels):
        codes[values == value] = position
    unlabelled = ~np.isnan(values) & (codes < 0)
    if unlabelled.any():
        return values  # a value outside the labels (should not happen): keep the numbers
    if len(set(labels)) != len(labels):
        return values  # two values with one label cannot be one factor
    return pd.Categorical.from_codes(codes, categories=labels)


def write_rds(staged: StagedDataset, directory: Path, progress: Progress) -> WrittenFile:
    name = f"{staged.name}.rds"
    table = staged.table()
    frame = pd.DataFrame(
        {
            column.name: _r_column(column, array)
            for column, array in zip(staged.columns, table.columns, strict=True)
        },
        index=pd.RangeIndex(table.num_rows),
    )
    del table
    plain = directory / f".{name}.uncompressed"
    pyreadr.write_rds(str(plain), frame)
    del frame
    # gzip as R's saveRDS does (level 6, R's default), but with no time or file name in the
    # header (pyreadr's own gzip writes both): the same data gives the same bytes. Not level 9
    # (gzip's default): on these files, long runs of NA, it took twenty times as long (939 s
    # of a 10,000-participant export) for files 10 % smaller.
    with (
        open(plain, "rb") as source,
        open(directory / name, "wb") as target,
        gzip.GzipFile(
            filename="", mode="wb", fileobj=target, mtime=0, compresslevel=RDS_GZIP_LEVEL
        ) as packed,
    ):
        shutil.copyfileobj(source, packed, 1 << 20)
    plain.unlink()
    progress(staged.rows)
    return WrittenFile(name, "rds", "data", staged.name, staged.rows, directory / name)
