"""What the format writers share: a staged dataset (its typed table already in a Parquet file
in the build directory, so that the database snapshot is read once and every format is
written from the same rows) and the description of a written file."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from datasets.base import Column, Dataset

BATCH_ROWS = 5000

Progress = Callable[[int], None]  # called with a number of rows just written


@dataclass
class StagedDataset:
    dataset: Dataset
    path: Path
    rows: int

    @property
    def name(self) -> str:
        return self.dataset.name

    @property
    def columns(self) -> list[Column]:
        return self.dataset.columns

    def batches(self) -> Iterator[pa.RecordBatch]:
        parquet = pq.ParquetFile(self.path)
        try:
            yield from parquet.iter_batches(batch_size=BATCH_ROWS)
        finally:
            parquet.close()

    def table(self) -> pa.Table:
        return pq.read_table(self.path)

    def table_schema(self) -> pa.Schema:
        return pq.read_schema(self.path)


@dataclass(frozen=True)
class WrittenFile:
    name: str
    format: str  # csv, sav, dta, parquet, odm, codebook
    kind: str  # data, codebook
    dataset: str  # "" for files that cover every dataset
    rows: int
    path: Path
