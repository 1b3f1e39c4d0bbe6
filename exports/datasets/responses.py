"""`responses_long_<instrument>`: one dataset per instrument, one row per participant and
timepoint, with the items and the scores as stored (participant × timepoint × instrument).

The variables come from the instrument registry when it describes the instrument (labels,
allowed values, value labels, derivations) and otherwise from what is stored; a stored variable
the registry does not know is still exported, after the declared ones, so nothing is dropped."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from functools import partial
from typing import Any

from django.db import connection

from exports.datasets.base import (
    ALL_MISSING,
    NOT_APPLICABLE,
    Column,
    Dataset,
    OdmBinding,
    OdmEvent,
    Row,
    is_identifying,
    missing_code_for,
    redact_cpr,
    safe_name,
)
from exports.datasets.base import VarType as T
from exports.datasets.context import ExportContext, ParticipantFacts
from exports.instruments import DATE, InstrumentMeta, VariableMeta

CHUNK = 5000
KEY_NAMES = ("STUDY_ID", "SITE", "ARM", "GROUP", "TIMEPOINT", "FORM_STATUS", "ASSESS_DAY")
TIMEPOINT_EVENTS = {
    0: OdmEvent("SE.T0", "Baseline (T0)", 1),
    1: OdmEvent("SE.T1", "Post-intervention (T1)", 2),
    2: OdmEvent("SE.T2", "One-year follow-up (T2)", 3),
}


class ExportDataError(Exception):
    """Stored data that cannot be written as its variable says (the job fails with this)."""


def timepoint_codes() -> dict[str, int]:
    from assessments.models import Timepoint

    return {value: number for number, value in enumerate(Timepoint.values)}


def timepoint_labels() -> tuple[tuple[int, str], ...]:
    from assessments.models import Timepoint

    return tuple((number, label) for number, (_, label) in enumerate(Timepoint.choices))


def form_status_codes() -> dict[str, int]:
    from assessments.models import ResponseStatus

    return {value: number for number, value in enumerate(ResponseStatus.values, start=1)}


def form_status_labels() -> tuple[tuple[int, str], ...]:
    from assessments.models import ResponseStatus

    return tuple(
        (number, label) for number, (_, label) in enumerate(ResponseStatus.choices, start=1)
    )


def natural_key(text: str) -> list[Any]:
    """P2 before P10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


@dataclass(frozen=True)
class Variable:
    """One exported item or score: where it is stored and how it is written."""

    part: str  # "items" or "scores"
    code: str  # the key in the stored JSON
    meta: VariableMeta
    column: Column


# One pass over the stored JSON: which keys each instrument uses, and what their values are.
_STORED_VARIABLES_SQL = """
    SELECT r.instrument, '{part}' AS part, e.key,
           bool_and(CASE jsonb_typeof(e.value)
                    WHEN 'number' THEN true WHEN 'boolean' THEN true WHEN 'null' THEN true
                    ELSE false END) AS is_numeric,
           bool_and(CASE WHEN jsonb_typeof(e.value) = 'number'
                    THEN (e.value)::numeric = trunc((e.value)::numeric) ELSE true END) AS integral,
           bool_and(CASE jsonb_typeof(e.value)
                    WHEN 'null' THEN true
                    WHEN 'string' THEN (e.value #>> '{{}}') ~ '^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}$'
                    ELSE false END) AS dates,
           bool_or(jsonb_typeof(e.value) <> 'null') AS has_values
    FROM assessments_instrumentresponse r
    CROSS JOIN LATERAL jsonb_each(CASE WHEN jsonb_typeof(r.{part}) = 'object'
                                       THEN r.{part} ELSE '{{}}'::jsonb END) e
    GROUP BY 1, 2, 3
"""


def stored_instruments() -> dict[str, str]:
    """Every instrument with responses, and the timepoints it has (as "T0, T1, T2")."""
    from assessments.models import InstrumentResponse

    ranks = timepoint_codes()
    found: dict[str, set[int]] = {}
    pairs = InstrumentResponse.objects.values_list("instrument", "timepoint").distinct()
    for instrument, timepoint in pairs:
        found.setdefault(instrument, set()).add(ranks.get(timepoint, -1))
    return {
        code: ", ".join(f"T{rank}" for rank in sorted(ranks_) if rank >= 0)
        for code, ranks_ in found.items()
    }


def dataset_name(instrument: str) -> str:
    """A file name from an instrument code (lower case letters, digits, underscores)."""
    return "responses_long_" + (re.sub(r"[^a-z0-9_]+", "_", instrument.lower()) or "x")


def stored_variables() -> dict[str, dict[str, dict[str, VariableMeta]]]:
    """instrument -> part ("items"/"scores") -> key -> what the stored values look like."""
    found: dict[str, dict[str, dict[str, VariableMeta]]] = {}
    with connection.cursor() as cursor:
        for part in ("items", "missing", "scores"):
            cursor.execute(_STORED_VARIABLES_SQL.format(part=part))
            for instrument, _, key, numeric, integral, dates, has_values in cursor.fetchall():
                kind: str
                if not has_values or part == "missing":
                    kind = T.INTEGER
                elif numeric:
                    kind = T.INTEGER if integral else T.DECIMAL
                elif dates:
                    kind = DATE
                else:
                    kind = T.TEXT
                target = found.setdefault(instrument, {}).setdefault(
                    "scores" if part == "scores" else "items", {}
                )
                existing = target.get(key)
                if part == "missing" and existing is not None:
                    continue  # the values decide the type; a missing reason says nothing
                if existing is not None and existing.type != kind:
                    kind = _wider(existing.type, kind)
                target[key] = VariableMeta(code=key, label=key, type=kind)
    return found


def _wider(first: str, second: str) -> str:
    kinds = {first, second}
    if kinds <= {T.INTEGER, T.DECIMAL}:
        return T.DECIMAL
    return T.TEXT


def _as_dict(stored: Any) -> dict[str, Any]:
    """A stored JSON object (Django hands jsonb over as text to a raw cursor)."""
    if isinstance(stored, str | bytes):
        stored = json.loads(stored)
    return stored if isinstance(stored, dict) else {}


class ResponsesLongBuilder:
    name = "responses_long"
    reveals_allocation = False

    def build(self, context: ExportContext) -> Iterable[Dataset]:
        present = stored_instruments()
        stored = stored_variables()
        for code in sorted(present):
            meta = context.catalogue.get(code)
            if context.blinded and meta is not None and meta.reveals_allocation:
                continue
            variables = self.variables(code, meta, stored.get(code, {}), present[code])
            columns = self.key_columns(context) + [v.column for v in variables]
            yield Dataset(
                name=dataset_name(code),
                label=f"{meta.name if meta else code}: items and scores by timepoint"[:80],
                description=f"Instrument {code}: one row per participant and timepoint.",
                columns=columns,
                chunks=partial(self._chunks, context, code, variables),
                odm=OdmBinding(
                    form_oid=f"F.{code}",
                    form_name=meta.name if meta else code,
                    event_column="TIMEPOINT",
                    events_by_value=TIMEPOINT_EVENTS,
                ),
                sources=self._sources(),
            )

    def _sources(self) -> tuple:
        from assessments.models import InstrumentResponse

        return (InstrumentResponse,)

    def key_columns(self, context: ExportContext) -> list[Column]:
        return [
            context.study_id_column(),
            context.site_column(),
            context.allocation_column(),
            Column("TIMEPOINT", "Timepoint", T.INTEGER, value_labels=timepoint_labels(), key=True),
            Column(
                "FORM_STATUS",
                "Form status at the snapshot",
                T.INTEGER,
                value_labels=form_status_labels(),
            ),
            Column(
                "ASSESS_DAY",
                "Assessment (interview) date, days from randomisation",
                T.INTEGER,
                missing=(NOT_APPLICABLE.code,),
                derivation="Interview date − randomisation date (day 0); not applicable if "
                "not randomised",
            ),
        ]

    def variables(
        self,
        code: str,
        meta: InstrumentMeta | None,
        stored: dict[str, dict[str, VariableMeta]],
        present_timepoints: str = "",
    ) -> list[Variable]:
        taken = {name.upper() for name in KEY_NAMES}
        timepoints = ", ".join(meta.timepoints) if meta and meta.timepoints else present_timepoints
        result: list[Variable] = []
        item_codes: set[str] = set()
        for part in ("items", "scores"):
            declared = list(getattr(meta, part)) if meta else []
            known = {v.code for v in declared}
            extra = sorted(
                (v for key, v in stored.get(part, {}).items() if key not in known),
                key=lambda v: natural_key(v.code),
            )
            for variable in declared + extra:
                if is_identifying(variable.code):
                    continue
                raw = variable.code
                if part == "scores" and raw.upper() in item_codes:
                    raw = f"{raw}_SCORE"  # GAF_S the score beside GAF_S the item
                if part == "items":
                    item_codes.add(raw.upper())
                column = self._column(safe_name(raw, taken), code, variable, timepoints)
                result.append(Variable(part, variable.code, variable, column))
        return result

    @staticmethod
    def _column(name: str, instrument: str, variable: VariableMeta, timepoints: str) -> Column:
        kind = variable.type
        label = variable.label
        derivation = variable.derivation
        if kind == DATE:
            kind = T.INTEGER
            label = f"{label} (days from randomisation)"
            derivation = "; ".join(p for p in (derivation, "Date − randomisation date") if p)
        return Column(
            name=name,
            label=label,
            type=T(kind),
            value_labels=variable.value_labels,
            missing=() if kind == T.TEXT else ALL_MISSING,
            instrument=instrument,
            timepoint=timepoints,
            derivation=derivation,
            minimum=variable.minimum,
            maximum=variable.maximum,
        )

    def _chunks(
        self, context: ExportContext, code: str, variables: list[Variable]
    ) -> Iterator[Sequence[Row]]:
        from assessments.models import InstrumentResponse
        from participants.models import Participant

        timepoints = timepoint_codes()
        statuses = form_status_codes()
        ranks = " ".join(f"WHEN %s THEN {rank}" for rank in timepoints.values())
        # Plain SQL on a server-side cursor: the rows stream in chunks, and the JSON is decoded
        # once by psycopg without the ORM's per-row converters (this loop is the hot path).
        sql = (
            f"SELECT r.participant_id, r.timepoint, r.status, r.interview_date, "  # noqa: S608
            f"r.items, r.missing, r.scores "
            f"FROM {InstrumentResponse._meta.db_table} r "
            f"JOIN {Participant._meta.db_table} p ON p.id = r.participant_id "
            f"WHERE r.instrument = %s "
            f'ORDER BY p.study_id COLLATE "C", CASE r.timepoint {ranks} END, r.id'
        )
        # (variable, which stored dict: 0 items / 1 scores, its type)
        plan = [(v, 0 if v.part == "items" else 1, v.meta.type) for v in variables]
        integer, decimal = T.INTEGER, T.DECIMAL
        with connection.chunked_cursor() as cursor:
            cursor.execute(sql, [code, *timepoints])
            while rows := cursor.fetchmany(CHUNK):
                chunk: list[Row] = []
                for participant_id, timepoint, status, interview, items, missing, scores in rows:
                    facts = context.participants[participant_id]
                    if timepoint not in timepoints:
                        raise ExportDataError(
                            f"{code} of {facts.study_id} has an unknown timepoint {timepoint!r}."
                        )
                    row: list[Any] = [
                        facts.study_id,
                        facts.site_number,
                        context.allocation_value(facts),
                        timepoints[timepoint],
                        statuses.get(status),
                        context.days_from_randomisation(facts, interview),
                    ]
                    stores = (_as_dict(items), _as_dict(scores))
                    reasons = _as_dict(missing)
                    for variable, store, kind in plan:
                        value = stores[store].get(variable.code)
                        value_type = type(value)
                        if (value_type is int and kind is integer) or (
                            value_type is float and kind is decimal
                        ):
                            row.append(value)
                        elif value is None:
                            if store == 0 and variable.code in reasons and kind != T.TEXT:
                                row.append(missing_code_for(reasons[variable.code]).code)
                            else:
                                row.append(None)
                        else:
                            row.append(
                                self._convert(value, variable, context, facts, timepoint, code)
                            )
                    chunk.append(tuple(row))
                yield chunk

    @staticmethod
    def _convert(
        value: Any,
        variable: Variable,
        context: ExportContext,
        facts: ParticipantFacts,
        timepoint: str,
        instrument: str,
    ) -> Any:
        if value is None:
            return None
        kind = variable.meta.type

        def refuse(what: str) -> ExportDataError:
            return ExportDataError(
                f"{instrument} {variable.code} of {facts.study_id} at {timepoint} holds "
                f"{value!r}, which is not {what}. Correct the form (after unlocking) and export "
                "again."
            )

        if kind == DATE:
            try:
                day = date.fromisoformat(str(value))
            except ValueError:
                raise refuse("a date (YYYY-MM-DD)") from None
            return context.days_from_randomisation(facts, day)
        if kind == T.TEXT:
            text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
            cleaned, count = redact_cpr(text)
            if count:
                context.redactions.append(
                    {
                        "instrument": instrument,
                        "variable": variable.column.name,
                        "study_id": facts.study_id,
                        "timepoint": timepoint,
                    }
                )
            return cleaned
        if isinstance(value, bool):
            value = int(value)
        if not isinstance(value, int | float):
            raise refuse("a number")
        if kind == T.INTEGER:
            if isinstance(value, float) and not value.is_integer():
                raise refuse("a whole number")
            return int(value)
        return float(value)
