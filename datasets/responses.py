"""`responses_long_<instrument>`: one dataset per instrument, one row per participant and
timepoint with a complete or verified form: the items and the scores
(participant × timepoint × instrument).

Why one file per instrument rather than one file for all: SPSS and Stata attach variable
labels, value labels and missing values to a variable, so each variable needs a column of its
own; one file for all instruments would be some 250 sparsely filled columns wide (or, fully
long, one VALUE column that can carry no labels at all). Per instrument, every column is
filled and labelled. The files share their key columns (STUDY_ID, SITE, ARM/GROUP,
INSTRUMENT, TIMEPOINT, ASSESS_DAY, VERIFIED) with the same types and labels, and no variable
name occurs in two instruments, so stacking them (Stata `append`, R `dplyr::bind_rows`,
pandas `concat`) gives the participant × timepoint × instrument table, and merging them on
STUDY_ID + TIMEPOINT gives one row per participant and timepoint (docs/exports.md).

Variables, labels, value labels, ranges and derivations come from the instrument modules
(`datasets.instruments`); values are decoded by `datasets.forms`. Draft forms are not
analysis data and are left out (the manifest counts them)."""

from __future__ import annotations

import json
from collections.abc import Generator, Iterable, Iterator
from contextlib import closing
from functools import partial
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from django.db import connection

from assessments.models import InstrumentResponse, Timepoint
from datasets.base import ARROW_TYPES, Column, Columns, Dataset, OdmBinding, OdmEvent
from datasets.base import VarType as T
from datasets.context import NO_YES, ExportContext, ParticipantArrays
from datasets.copy import copy_batches, rebatched
from datasets.forms import ExportDataError, FormDecoder, FormRef, SqlDecode, variable_column
from datasets.instruments import TIMEPOINT_NAMES, TIMEPOINT_NUMBERS, InstrumentMeta
from instruments.metadata import Variable
from participants.models import Participant

CHUNK = 5000
DECODE_FORMS = 1000
DONE_STATUSES = ("complete", "verified")


def timepoint_labels() -> tuple[tuple[int, str], ...]:
    return tuple((TIMEPOINT_NUMBERS[value], str(label)) for value, label in Timepoint.choices)


def timepoint_events() -> dict[int, OdmEvent]:
    """The ODM study events of the assessment timepoints (SE.T0 baseline, SE.T1, SE.T2)."""
    labels = dict(timepoint_labels())
    return {
        number: OdmEvent(f"SE.{TIMEPOINT_NAMES[code]}", labels[number], number + 1)
        for code, number in TIMEPOINT_NUMBERS.items()
    }


def dataset_name(instrument: str) -> str:
    return f"responses_long_{instrument.lower()}"


def exported_variables(meta: InstrumentMeta) -> list[Variable]:
    """The items and scores a form carries. Derived items (DEMOG's SITE, SEX, AGE) are facts
    about the participant, not answers on the form: they are in `participants` (and SITE in
    every dataset's keys)."""
    return [v for v in meta.variables if v.kind != "derived"]


def timepoints_text(meta: InstrumentMeta) -> str:
    return ", ".join(TIMEPOINT_NAMES[tp] for tp in meta.timepoints)


def key_columns(context: ExportContext) -> list[Column]:
    return [
        context.study_id_column(),
        context.site_column(),
        context.allocation_column(),
        Column("INSTRUMENT", "Instrument (code of the instrument module)", T.TEXT, key=True),
        Column("TIMEPOINT", "Timepoint", T.INTEGER, value_labels=timepoint_labels(), key=True),
        context.day_column(
            "ASSESS_DAY",
            "Assessment (interview) date, days from randomisation",
            "Interview date − randomisation date (day 0).",
        ),
        Column(
            "VERIFIED",
            "Source-data verified at the snapshot",
            T.INTEGER,
            value_labels=NO_YES,
            derivation="1 if a monitor or data manager verified the form against the source; "
            "0 if complete but not verified.",
        ),
    ]


def check_stored_instruments(context: ExportContext) -> None:
    """Every complete form must belong to an instrument the modules describe, at one of its
    timepoints; the drafts (not exported) are counted for the manifest."""
    pairs = (
        InstrumentResponse.objects.filter(status__in=DONE_STATUSES)
        .values_list("instrument", "timepoint")
        .distinct()
    )
    for code, timepoint in pairs:
        meta = context.catalogue.get(code)
        if meta is None or not meta.form_entry:
            raise ExportDataError(
                f"There are completed forms of {code!r}, which no instrument module describes."
            )
        if timepoint not in meta.timepoints:
            raise ExportDataError(
                f"There are completed {code} forms at {timepoint!r}, where the instrument "
                "module does not collect it."
            )
    drafts = InstrumentResponse.objects.exclude(status__in=DONE_STATUSES).count()
    context.not_exported["draft_forms"] = drafts


class ResponsesLongBuilder:
    name = "responses_long"
    reveals_allocation = False

    def build(self, context: ExportContext) -> Iterable[Dataset]:
        if context.reads_data:
            check_stored_instruments(context)
        if context.blinded:
            for meta in context.catalogue.values():
                if meta.form_entry and not meta.blinded_readable:
                    context.withhold(
                        meta.code,
                        f"{meta.name}: not readable by blinded users (its content can reveal "
                        "the arm), so left out of blinded exports (its long file, its "
                        "variables in the wide file and its queries).",
                    )
        events = timepoint_events()
        for meta in context.instruments():
            variables = exported_variables(meta)
            span = timepoints_text(meta)
            columns = key_columns(context)
            columns += [variable_column(meta, v, timepoints=span) for v in variables]
            yield Dataset(
                name=dataset_name(meta.code),
                label=f"{meta.short_name}: items and scores by timepoint"[:64],
                description=f"{meta.name}. One row per participant and timepoint ({span}) "
                "with a complete or verified form.",
                columns=columns,
                chunks=partial(self._chunks, context, meta, FormDecoder(meta, variables), columns),
                odm=OdmBinding(
                    form_oid=f"F.{meta.code}",
                    form_name=meta.name,
                    event_column="TIMEPOINT",
                    events_by_value={
                        TIMEPOINT_NUMBERS[tp]: events[TIMEPOINT_NUMBERS[tp]]
                        for tp in meta.timepoints
                    },
                ),
                sources=self._sources(),
            )

    def _sources(self) -> tuple:
        return (InstrumentResponse,)

    def _chunks(
        self,
        context: ExportContext,
        meta: InstrumentMeta,
        decoder: FormDecoder,
        columns: list[Column],
    ) -> Iterator[Columns]:
        done = 0
        decode = decoder.sql()
        if decode is not None:
            # Closed before the Python decoding reads: the COPY must have ended.
            with closing(self._typed_chunks(context, meta, decoder, decode)) as typed:
                for chunk in typed:
                    if chunk is None:
                        break  # from here on, decode() in Python
                    yield chunk
                    done += len(chunk.arrays[0])
                else:
                    return
        yield from self._decoded_chunks(context, meta, decoder, columns, offset=done)

    def _decoded_chunks(
        self,
        context: ExportContext,
        meta: InstrumentMeta,
        decoder: FormDecoder,
        columns: list[Column],
        *,
        offset: int,
    ) -> Iterator[Columns]:
        """The forms from the `offset`-th on (a multiple of CHUNK), decoded in Python."""
        types = [ARROW_TYPES[column.type] for column in columns]
        for rows in responses_of(meta.code, offset=offset):
            people = [context.participants[row[0]] for row in rows]
            values: list[list[Any]] = [[] for _ in decoder.variables]
            for start in range(0, len(rows), DECODE_FORMS):
                part = slice(start, start + DECODE_FORMS)
                # One json.loads for many forms: [[items, missing, scores], ...]. Not for the
                # whole chunk at once: the decoded objects weigh far more than their values.
                forms = json.loads("[" + ",".join(row[4] for row in rows[part]) + "]")
                decoded = decoder.decode_columns(
                    forms,
                    where=[
                        FormRef(meta.code, facts.study_id, row[1])
                        for facts, row in zip(people[part], rows[part], strict=True)
                    ],
                    randomized_on=[facts.randomized_on for facts in people[part]],
                    redactions=context.redactions,
                )
                del forms
                for column, more in zip(values, decoded, strict=True):
                    column.extend(more)
            keys = [
                [facts.study_id for facts in people],
                [facts.site_number for facts in people],
                [context.allocation_value(facts) for facts in people],
                [meta.code] * len(rows),
                [TIMEPOINT_NUMBERS[row[1]] for row in rows],
                [
                    context.days_from_randomization(facts, row[3])
                    for facts, row in zip(people, rows, strict=True)
                ],
                [int(row[2] == "verified") for row in rows],
            ]
            yield Columns(
                [
                    pa.array(column, type=kind)
                    for column, kind in zip(keys + values, types, strict=True)
                ]
            )

    def _typed_chunks(
        self,
        context: ExportContext,
        meta: InstrumentMeta,
        decoder: FormDecoder,
        decode: SqlDecode,
    ) -> Generator[Columns | None, None, None]:
        """The chunks of `_decoded_chunks`, decoded by PostgreSQL and Arrow (`FormDecoder.sql`,
        `typed_values`): typed columns straight from the database, the key columns arranged
        from the participant index with array operations, CHUNK rows each (the staged file's
        row groups). A chunk with a form they do not take as it is ends the stream with None:
        the caller decodes the rest in Python (the same values, or decode()'s error naming the
        first bad form, as if all had been decoded there)."""
        people = context.arrays()
        code = pa.scalar(meta.code, type=pa.string())
        sql, params = decoded_responses(meta.code, decode)
        types = [pa.int64(), pa.int64(), pa.int64(), pa.date32(), pa.bool_()]
        # Text: a form that is not ok may hold anything (typed_values parses the ok ones).
        types += [pa.string()] * len(decode.columns)
        with copy_batches(sql, params, types) as batches:
            for arrays in rebatched(batches, CHUNK):
                chunk = self._typed_chunk(arrays, decoder, people, code)
                yield chunk
                if chunk is None:
                    return

    @staticmethod
    def _typed_chunk(
        arrays: list[pa.Array], decoder: FormDecoder, people: ParticipantArrays, code: pa.Scalar
    ) -> Columns | None:
        participant, timepoint, verified, day, ok, *stored = arrays
        if not pc.all(ok).as_py():
            return None
        values = decoder.typed_values(stored)
        if values is None:
            return None
        rows = people.rows(participant.to_numpy())
        keys = [
            people.study_id.take(pa.array(rows)),
            pa.array(people.site[rows]),
            pa.array(people.allocation[rows]),
            pa.repeat(code, len(participant)),
            timepoint,
            people.days_from_randomization(rows, day),
            verified,
        ]
        return Columns(keys + values)


def decoded_responses(instrument: str, decode: SqlDecode) -> tuple[str, list[Any]]:
    """The query of the complete and verified forms of one instrument as PostgreSQL decodes
    them, in the order of `responses_of`: participant id, TIMEPOINT, VERIFIED, the interview
    date, whether the form is ok (`SqlDecode.ok`) and the columns of `SqlDecode`."""
    ranks = " ".join(f"WHEN %s THEN {rank}" for rank in TIMEPOINT_NUMBERS.values())
    table = InstrumentResponse._meta.db_table
    sql = (
        "SELECT r.participant_id, "  # noqa: S608
        f"CASE r.timepoint {ranks} END, (r.status = %s)::int, r.interview_date, "
        f"({decode.ok}) IS TRUE, "
        + ", ".join(decode.columns)
        + f" FROM {table} r JOIN {Participant._meta.db_table} p ON p.id = r.participant_id "
        "WHERE r.instrument = %s AND r.status IN (%s, %s) "
        f'ORDER BY p.study_id COLLATE "C", CASE r.timepoint {ranks} END, r.id'
    )
    params = [*TIMEPOINT_NUMBERS, "verified", *decode.ok_params, *decode.params, instrument]
    return sql, [*params, *DONE_STATUSES, *TIMEPOINT_NUMBERS]


def responses_of(instrument: str, *, offset: int = 0) -> Iterator[list[tuple[Any, ...]]]:
    """The complete and verified forms of one instrument, in chunks, ordered by study ID (C
    collation) and timepoint: plain SQL on a server-side cursor, so the rows stream without the
    ORM's per-row work (this is the hot path). The last value of a row is the form's
    [items, missing, scores] as JSON text, which `_chunks` decodes with one json.loads for the
    whole chunk."""
    ranks = " ".join(f"WHEN %s THEN {rank}" for rank in TIMEPOINT_NUMBERS.values())
    sql = (
        "SELECT r.participant_id, r.timepoint, r.status, r.interview_date, "  # noqa: S608
        # The form's three JSON objects as one array of text, decoded once per chunk.
        "jsonb_build_array(r.items, r.missing, r.scores)::text "
        f"FROM {InstrumentResponse._meta.db_table} r "
        f"JOIN {Participant._meta.db_table} p ON p.id = r.participant_id "
        "WHERE r.instrument = %s AND r.status IN (%s, %s) "
        f'ORDER BY p.study_id COLLATE "C", CASE r.timepoint {ranks} END, r.id OFFSET %s'
    )
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, [instrument, *DONE_STATUSES, *TIMEPOINT_NUMBERS, offset])
        while rows := cursor.fetchmany(CHUNK):
            yield rows
