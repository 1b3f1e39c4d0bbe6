"""Reading a query's rows as Arrow columns: PostgreSQL streams them with COPY as CSV and Arrow
parses them, with no Python object per value (the hot path of the biggest datasets). Used in
the export's snapshot transaction, like every other read of the builders."""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pyarrow as pa
from django.db import connection
from pyarrow import csv


class _CopyStream(io.RawIOBase):
    """A COPY ... TO STDOUT read as a file (for Arrow's CSV reader)."""

    def __init__(self, copy: Any) -> None:
        self.copy = copy
        self.pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self.pending:
            block = self.copy.read()
            if not block:
                return 0
            self.pending = memoryview(block)
        size = min(len(buffer), len(self.pending))
        buffer[:size] = self.pending[:size]
        self.pending = self.pending[size:]
        return size


@contextmanager
def copy_batches(
    sql: str, params: Sequence[Any], types: Sequence[pa.DataType]
) -> Iterator[Iterator[pa.RecordBatch]]:
    """The rows of `sql` (a SELECT) as record batches with columns c0, c1, ... of `types`.
    Booleans come as t/f, dates as YYYY-MM-DD; text may hold anything (quoted, new lines).
    Whatever the caller leaves unread is read to the end on leaving, so that the connection
    is free again."""
    names = [f"c{index}" for index in range(len(types))]
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv)", params) as copy,
    ):
        stream = io.BufferedReader(_CopyStream(copy), 1 << 20)
        if not stream.peek(1):
            yield iter(())  # no rows (Arrow refuses an empty CSV file)
            return
        reader = csv.open_csv(
            stream,
            read_options=csv.ReadOptions(column_names=names, block_size=1 << 20, use_threads=False),
            parse_options=csv.ParseOptions(newlines_in_values=True),
            convert_options=csv.ConvertOptions(
                column_types=dict(zip(names, types, strict=True)),
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
                true_values=["t", "1"],
                false_values=["f", "0"],
            ),
        )
        try:
            yield reader
        finally:
            while copy.read():
                pass


def rebatched(batches: Iterable[pa.RecordBatch], size: int) -> Iterator[list[pa.Array]]:
    """The rows again in blocks of exactly `size` (the last one shorter), as arrays: a staged
    file's row groups follow the chunks a builder yields, so they must not depend on how
    the CSV reader happened to cut its blocks."""
    pending: pa.Table | None = None
    for batch in batches:
        table = pa.Table.from_batches([batch])
        pending = table if pending is None else pa.concat_tables([pending, table])
        while pending.num_rows >= size:
            yield _arrays(pending.slice(0, size))
            pending = pending.slice(size)
    if pending is not None and pending.num_rows:
        yield _arrays(pending)


def _arrays(table: pa.Table) -> list[pa.Array]:
    return [pa.concat_arrays(column.chunks) for column in table.columns]
