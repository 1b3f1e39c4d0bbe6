"""CSV: UTF-8 without a byte-order mark, comma-separated, CRLF line ends, one header row of
variable names, written by Arrow's CSV writer straight from the staged columns. Text values are
quoted; missing values with a reason are their negative codes (see the codebook) and a value
missing without a reason is an empty, unquoted field.

The "Excel (Danish)" variant (format csv_excel_da, files <dataset>.excel-da.csv) is the same
table for Excel in a Danish locale: semicolon-separated, decimal comma, UTF-8 with a byte-order
mark, CRLF."""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow.csv as arrow_csv

from exports.writers.base import Progress, StagedDataset, WrittenFile

OPTIONS = arrow_csv.WriteOptions(
    include_header=True, delimiter=",", quoting_style="needed", quoting_header="none", eol="\r\n"
)


def write(staged: StagedDataset, directory: Path, progress: Progress) -> WrittenFile:
    name = f"{staged.name}.csv"
    schema = staged.table_schema()
    with arrow_csv.CSVWriter(directory / name, schema, write_options=OPTIONS) as writer:
        for batch in staged.batches():
            writer.write_batch(batch)
            progress(batch.num_rows)
    return WrittenFile(name, "csv", "data", staged.name, staged.rows, directory / name)


# --- CSV for Excel with Danish settings --------------------------------------------------------
# Excel in a Danish locale opens a .csv with a double click only when the fields are separated
# by semicolons and decimals use a comma; the byte-order mark makes it read UTF-8 (æ, ø, å).
EXCEL_DA_SUFFIX = ".excel-da.csv"
UTF8_BOM = "\ufeff"


def _excel_da_value(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value).replace(".", ",") if not value.is_integer() else str(int(value))
    return str(value)


def write_excel_da(staged: StagedDataset, directory: Path, progress: Progress) -> WrittenFile:
    name = f"{staged.name}{EXCEL_DA_SUFFIX}"
    with open(directory / name, "w", encoding="utf-8", newline="") as handle:
        handle.write(UTF8_BOM)
        writer = csv.writer(handle, delimiter=";", lineterminator="\r\n")
        writer.writerow([column.name for column in staged.columns])
        for batch in staged.batches():
            columns = [batch.column(i).to_pylist() for i in range(batch.num_columns)]
            writer.writerows(
                [_excel_da_value(value) for value in row] for row in zip(*columns, strict=True)
            )
            progress(batch.num_rows)
    return WrittenFile(name, "csv_excel_da", "data", staged.name, staged.rows, directory / name)
