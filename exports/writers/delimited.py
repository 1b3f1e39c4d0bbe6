"""CSV: UTF-8 without a byte-order mark, comma-separated, CRLF line ends, one header row of
variable names, written by Arrow's CSV writer straight from the staged columns. Text values are
quoted; missing values with a reason are their negative codes (see the codebook) and a value
missing without a reason is an empty, unquoted field."""

from __future__ import annotations

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
