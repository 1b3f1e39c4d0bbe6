"""`responses_wide`: one row per participant (everyone in `participants`, in the same order),
every item and score of every form at every timepoint of its instrument as a variable of its
own: `GAF_F_T0`, `GAF_F_T1`, `GAF_F_T2`, `PANSS_TOTAL_T0` ... (T0 baseline, T1 post-
intervention, T2 one-year follow-up), and the day of each assessment (`GAF_DAY_T1`). This is
the layout for models of the post and follow-up values with the baseline values as covariates.

The dataset is arranged from the staged `responses_long_<instrument>` files of the same export
(so from the same snapshot, the same decoding and the same checks): a value in the wide file is
the value in the long file, by construction. Not written to ODM, which holds the same values in
its T0/T1/T2 study events.

Variable names are `<instrument variable>_T<n>`; with the current instruments the longest is 19
characters, well inside Stata's 32. A longer code would be cut to fit (`shorten`), and the
codebook's `source` column always gives the instrument's own code."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from assessments.models import InstrumentResponse
from datasets.base import Column, Columns, Dataset, VarType
from datasets.context import ExportContext
from datasets.forms import variable_column
from datasets.instruments import TIMEPOINT_NAMES, TIMEPOINT_NUMBERS
from datasets.responses import dataset_name, exported_variables

NAME_LIMIT = 32  # Stata; SPSS allows 64 bytes
BATCH = 2000  # participants per block (and rows per batch of the staged file)
BATCH_ROWS = 5000  # rows of a long file read at a time


def shorten(stem: str, suffix: str, taken: set[str]) -> str:
    """`<stem>_<suffix>` within NAME_LIMIT, unique ignoring case: the stem is cut (and numbered
    if that collides) rather than the timepoint, which must stay readable."""
    name = f"{stem}_{suffix}"
    if len(name) > NAME_LIMIT:
        name = f"{stem[: NAME_LIMIT - len(suffix) - 1]}_{suffix}"
    number = 2
    while name.upper() in taken:
        tail = f"{number}_{suffix}"
        name = f"{stem[: NAME_LIMIT - len(tail) - 1]}_{tail}"
        number += 1
    taken.add(name.upper())
    return name


@dataclass(frozen=True)
class Placement:
    """Where one column of a long file goes: the wide column, at which timepoint."""

    long_column: str
    timepoint: int
    wide_index: int


class ResponsesWideBuilder:
    name = "responses_wide"
    reveals_allocation = False

    def build(self, context: ExportContext) -> Iterable[Dataset]:
        columns = [
            context.study_id_column(),
            context.site_column(),
            context.allocation_column(),
        ]
        taken = {c.name.upper() for c in columns}
        plan: dict[str, list[Placement]] = {}
        for meta in context.instruments():
            placements = plan.setdefault(meta.code, [])
            for timepoint in meta.timepoints:
                tn = TIMEPOINT_NAMES[timepoint]
                placements.append(
                    Placement("ASSESS_DAY", TIMEPOINT_NUMBERS[timepoint], len(columns))
                )
                columns.append(
                    context.day_column(
                        shorten(f"{meta.code}_DAY", tn, taken),
                        f"{tn} {meta.short_name}: assessment date, days from randomisation",
                        "Interview date − randomisation date (day 0).",
                        instrument=meta.code,
                        timepoint=tn,
                        source="ASSESS_DAY",
                    )
                )
            for variable in exported_variables(meta):
                for timepoint in meta.timepoints:
                    tn = TIMEPOINT_NAMES[timepoint]
                    placements.append(
                        Placement(variable.code, TIMEPOINT_NUMBERS[timepoint], len(columns))
                    )
                    columns.append(
                        variable_column(
                            meta,
                            variable,
                            name=shorten(variable.code, tn, taken),
                            label=f"{tn} {meta.short_name}: {variable.label}",
                            timepoints=tn,
                        )
                    )
        yield Dataset(
            name="responses_wide",
            label="Responses, wide: one row per participant",
            description="Every item and score at every timepoint (suffix _T0 baseline, _T1 "
            "post-intervention, _T2 one-year follow-up), one row per participant in the order "
            "of the participants file. Empty where there is no complete form. The same values "
            "as the responses_long files.",
            columns=columns,
            chunks=lambda: self._batches(context, columns, plan),
            odm=None,
            sources=self._sources(),
        )

    def _sources(self) -> tuple:
        return (InstrumentResponse,)

    def _batches(
        self, context: ExportContext, columns: list[Column], plan: dict[str, list[Placement]]
    ) -> Iterator[Columns]:
        """A block of participants at a time, so that memory stays flat at any size: the staged
        long files are read alongside, in step (both are ordered by study ID)."""
        people = list(context.participants.values())  # ordered by study ID (C collation)
        readers = {
            code: LongRows(
                context.staged[dataset_name(code)],
                sorted({p.long_column for p in placements} | {"STUDY_ID", "TIMEPOINT"}),
            )
            for code, placements in plan.items()
        }
        try:
            for start in range(0, max(len(people), 1), BATCH):
                block = people[start : start + BATCH]
                data: list[np.ndarray] = [
                    np.full(len(block), None, dtype=object)
                    if column.type == VarType.TEXT
                    else np.full(len(block), np.nan)
                    for column in columns
                ]
                data[0][:] = [facts.study_id for facts in block]
                data[1][:] = [facts.site_number for facts in block]
                data[2][:] = [context.allocation_value(facts) for facts in block]
                row_of = {facts.study_id: row for row, facts in enumerate(block)}
                for code, placements in plan.items():
                    self._place(readers[code].take(row_of.keys()), placements, row_of, data)
                yield Columns(
                    [_arrow(column, values) for column, values in zip(columns, data, strict=True)]
                )
        finally:
            for reader in readers.values():
                reader.close()

    @staticmethod
    def _place(
        table: pa.Table,
        placements: list[Placement],
        row_of: dict[str, int],
        data: list[np.ndarray],
    ) -> None:
        rows = np.array([row_of[s] for s in table.column("STUDY_ID").to_pylist()], dtype=np.int64)
        timepoints = table.column("TIMEPOINT").to_numpy()
        masks = {tp: timepoints == tp for tp in set(timepoints.tolist())}
        for placement in placements:
            mask = masks.get(placement.timepoint)
            if mask is None or not mask.any():
                continue
            source = table.column(placement.long_column)
            if pa.types.is_string(source.type):
                values = np.array(source.to_pylist(), dtype=object)
            else:
                values = source.cast(pa.float64()).to_numpy(zero_copy_only=False)
            data[placement.wide_index][rows[mask]] = values[mask]


class LongRows:
    """The rows of one staged long file, handed out a block of participants at a time in the
    file's order (study ID, as the participants): only one Parquet batch is held ahead."""

    def __init__(self, path: Path, columns: list[str]) -> None:
        self.file = pq.ParquetFile(path)
        self.batches = self.file.iter_batches(batch_size=BATCH_ROWS, columns=columns)
        self.pending = self.file.schema_arrow.empty_table().select(columns)

    def take(self, study_ids: Collection[str]) -> pa.Table:
        """The next rows, as long as they belong to `study_ids` (the next block of people)."""
        wanted = pa.array(list(study_ids), type=pa.string())
        parts = []
        while True:
            if self.pending.num_rows == 0:
                batch = next(self.batches, None)
                if batch is None:
                    break
                self.pending = pa.Table.from_batches([batch])
            inside = pc.is_in(self.pending.column("STUDY_ID"), value_set=wanted)
            count = pc.sum(inside).as_py() or 0
            if count and not pc.all(inside.slice(0, count)).as_py():
                raise ValueError("The staged long file is not in the participants' order.")
            parts.append(self.pending.slice(0, count))
            self.pending = self.pending.slice(count)
            if self.pending.num_rows:
                break  # the rest belongs to later blocks
        return pa.concat_tables(parts) if parts else self.pending

    def close(self) -> None:
        self.file.close()


def _arrow(column: Column, values: np.ndarray) -> pa.Array:
    if column.type == VarType.TEXT:
        return pa.array(values.tolist(), type=pa.string())
    absent = np.isnan(values.astype(np.float64))
    if column.type == VarType.INTEGER:
        return pa.array(np.where(absent, 0, values).astype(np.int64), mask=absent)
    return pa.array(values.astype(np.float64), mask=absent)
