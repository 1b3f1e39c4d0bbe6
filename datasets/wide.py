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

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from assessments.models import InstrumentResponse
from datasets.base import Column, Columns, Dataset, VarType
from datasets.context import ExportContext
from datasets.forms import variable_column
from datasets.instruments import TIMEPOINT_NAMES, TIMEPOINT_NUMBERS
from datasets.responses import dataset_name, exported_variables

NAME_LIMIT = 32  # Stata; SPSS allows 64 bytes
BATCH = 2000


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
        people = list(context.participants.values())  # ordered by study ID (C collation)
        count = len(people)
        row_of = {facts.study_id: row for row, facts in enumerate(people)}
        data: list[np.ndarray] = [
            np.full(count, None, dtype=object)
            if column.type == VarType.TEXT
            else np.full(count, np.nan)
            for column in columns
        ]
        data[0][:] = [facts.study_id for facts in people]
        data[1][:] = [facts.site_number for facts in people]
        data[2][:] = [context.allocation_value(facts) for facts in people]
        for code, placements in plan.items():
            self._place(context, code, placements, row_of, data)
        # Column by column, each NumPy array released once it is an Arrow one: the wide file is
        # held once, not twice (100,000 × 531 values are some 400 MB).
        arrays: list[pa.Array] = []
        for index, column in enumerate(columns):
            arrays.append(_arrow(column, data[index]))
            data[index] = np.empty(0)
        del data
        for start in range(0, max(count, 1), BATCH):
            yield Columns([array.slice(start, BATCH) for array in arrays])

    @staticmethod
    def _place(
        context: ExportContext,
        code: str,
        placements: list[Placement],
        row_of: dict[str, int],
        data: list[np.ndarray],
    ) -> None:
        wanted = sorted({p.long_column for p in placements} | {"STUDY_ID", "TIMEPOINT"})
        table = pq.read_table(context.staged[dataset_name(code)], columns=wanted)
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


def _arrow(column: Column, values: np.ndarray) -> pa.Array:
    if column.type == VarType.TEXT:
        return pa.array(values.tolist(), type=pa.string())
    absent = np.isnan(values.astype(np.float64))
    if column.type == VarType.INTEGER:
        return pa.array(np.where(absent, 0, values).astype(np.int64), mask=absent)
    return pa.array(values.astype(np.float64), mask=absent)
