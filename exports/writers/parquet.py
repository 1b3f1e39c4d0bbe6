"""Parquet (pyarrow). Every dataset is first written here, into the build directory: the
staged file is the one read of the snapshot, and it is also the published Parquet file. Column
metadata carries the label, value labels, missing-value codes, instrument, timepoint and
derivation; nothing in the file depends on when it was written."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from datasets.base import ARROW_TYPES, Column, Columns, Dataset
from exports.writers.base import Progress, StagedDataset


def _value_key(value: int | float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def field_metadata(column: Column) -> dict[bytes, bytes]:
    meta = {
        "label": column.label,
        "type": str(column.type),
        "value_labels": json.dumps(
            {_value_key(v): label for v, label in column.value_labels}, ensure_ascii=False
        )
        if column.value_labels
        else "",
        "missing_codes": json.dumps(
            {str(m.code): m.label for m in column.missing_codes}, ensure_ascii=False
        )
        if column.missing
        else "",
        "instrument": column.instrument,
        "timepoint": column.timepoint,
        "derivation": column.derivation,
    }
    return {key.encode(): value.encode("utf-8") for key, value in meta.items() if value}


def arrow_schema(dataset: Dataset) -> pa.Schema:
    fields = [
        pa.field(column.name, ARROW_TYPES[column.type], metadata=field_metadata(column))
        for column in dataset.columns
    ]
    return pa.schema(
        fields,
        metadata={
            b"dataset": dataset.name.encode(),
            b"label": dataset.label.encode("utf-8"),
            b"description": dataset.description.encode("utf-8"),
            b"missing_value_codes": b"Negative codes -991..-999 are missing values; see the "
            b"codebook and each column's missing_codes.",
        },
    )


def stage(dataset: Dataset, path: Path, progress: Progress) -> StagedDataset:
    """Read the dataset's rows (from the snapshot) once, into a typed Parquet file."""
    schema = arrow_schema(dataset)
    types = [ARROW_TYPES[column.type] for column in dataset.columns]
    rows = 0
    with pq.ParquetWriter(path, schema, compression="snappy", write_statistics=True) as writer:
        for chunk in dataset.chunks():
            if isinstance(chunk, Columns):
                arrays = [a.cast(kind) for a, kind in zip(chunk.arrays, types, strict=True)]
            else:
                arrays = [
                    pa.array([row[index] for row in chunk], type=kind)
                    for index, kind in enumerate(types)
                ]
            batch = pa.record_batch(arrays, schema=schema)
            if batch.num_rows == 0:
                continue
            writer.write_batch(batch)
            rows += batch.num_rows
            progress(batch.num_rows)
    return StagedDataset(dataset=dataset, path=path, rows=rows)
