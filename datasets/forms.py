"""Stored forms -> typed values, as the instrument modules describe them.

`InstrumentResponse` keeps an item's scored value in `items`, a missing item's reason in
`missing`, and every score in `scores` (None where the missing rule says missing). One decoder
per instrument turns those three objects into the values of the exported variables, in the
order of `metadata.variables(instrument)`:

- a value is checked against its variable (type, range): stored data that do not fit fail the
  export with the form named, instead of being written wrongly;
- an item missing with a reason becomes the reason's code (assessments metadata), also for a
  score that is the item itself (GAF_F); other missing values stay system missing;
- free text loses anything shaped like a CPR number (listed in the manifest);
- an item, reason or score the instrument does not declare fails the export: the modules are
  the only description of the data, and nothing is exported that they do not describe.

Every dataset made from forms (participants' demographics, the long and the wide responses)
uses this one decoder, so they cannot disagree."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from django.utils.text import capfirst

from datasets.base import Column, VarType, all_missing, missing_by_reason, redact_cpr
from datasets.instruments import InstrumentMeta
from instruments.metadata import Variable

DATE = "date"
ITEM, SCORE = 0, 1
# Stored numbers beyond this are left to decode() (a float cannot hold them, or decode() would
# fail on them in its own way).
FLOAT_LIMIT = 1e300


class ExportDataError(Exception):
    """Stored data that cannot be written as its variable says (the job fails with this)."""


@dataclass(frozen=True)
class FormRef:
    """Which form a value came from, for error messages and the CPR-redaction list."""

    instrument: str
    study_id: str
    timepoint: str


def as_dict(stored: Any) -> dict[str, Any]:
    """A stored JSON object (a raw cursor hands jsonb over as text)."""
    if isinstance(stored, str | bytes):
        stored = json.loads(stored)
    return stored if isinstance(stored, dict) else {}


def describe_notes(variable: Variable) -> str:
    notes = []
    if variable.sensitivity:
        notes.append("Sensitivity variable (prorated; not the primary score)")
    if variable.higher_is in ("better", "worse"):
        notes.append(f"Higher is {variable.higher_is}")
    if variable.unit:
        notes.append(f"Unit: {variable.unit}")
    return "; ".join(notes)


def has_reason_codes(meta: InstrumentMeta, variable: Variable) -> bool:
    """Whether the variable can be missing with a reason written as a code: items (and scores
    that are an item, like GAF_F) of a number type. Text and dates keep system missing (a date
    becomes days, which may be negative, so no code is safe there)."""
    return variable.code in meta.items and variable.type in (VarType.INTEGER, VarType.DECIMAL)


def variable_column(
    meta: InstrumentMeta,
    variable: Variable,
    *,
    name: str | None = None,
    label: str | None = None,
    timepoints: str = "",
) -> Column:
    kind = variable.type
    text = label if label is not None else variable.label
    derivation = variable.derivation
    if kind == DATE:
        kind = VarType.INTEGER
        text = f"{text} (days from randomisation)"
        derivation = "; ".join(p for p in (derivation, "Date − randomisation date") if p)
    coded = has_reason_codes(meta, variable)
    structural = meta.structural_na.get(variable.code)
    na_code = missing_by_reason()["not_applicable"].code
    return Column(
        name=name or variable.code,
        label=text,
        type=VarType(kind),
        value_labels=tuple(variable.value_labels.items()),
        missing=all_missing() if coded else (),
        instrument=meta.code,
        timepoint=timepoints,
        derivation=derivation,
        minimum=variable.min,
        maximum=variable.max,
        source=variable.code,
        notes=describe_notes(variable),
        missing_labels=((na_code, capfirst(structural)),) if coded and structural else (),
        decimals=variable.decimals if kind == VarType.DECIMAL else None,
    )


def range_text(low: Any, high: Any) -> str:
    if high is None:
        return f"at least {low}"
    if low is None:
        return f"at most {high}"
    return f"within {low}–{high}"


@dataclass(frozen=True)
class SqlDecode:
    """The part of `FormDecoder.decode()` PostgreSQL does over the stored form `r` (items,
    missing, scores): `ok` (with `ok_params`) is true for a form whose keys, reasons and value
    types decode() accepts; `columns` (with `params`) are the SQL expressions whose values
    `FormDecoder.typed_values()` takes."""

    ok: str
    ok_params: list[Any]
    columns: list[str]
    params: list[Any]


class FormDecoder:
    """Decodes the stored forms of one instrument into the values of `variables`."""

    def __init__(self, meta: InstrumentMeta, variables: Sequence[Variable]) -> None:
        self.meta = meta
        self.variables = tuple(variables)
        self.reasons = {reason: m.code for reason, m in missing_by_reason().items()}
        self.items = meta.items
        self.scores = meta.score_codes
        # (code, which store, type, coded, low, high) worked out once: decode() is the hot path.
        self.plan = tuple(
            (
                v.code,
                SCORE if v.kind == "score" else ITEM,
                v.type,
                has_reason_codes(meta, v),
                v.min,
                v.max,
            )
            for v in self.variables
        )

    def decode(
        self,
        items: dict[str, Any],
        missing: dict[str, Any],
        scores: dict[str, Any],
        *,
        where: FormRef,
        randomized_on: date | None,
        redactions: list[dict[str, Any]],
    ) -> list[Any]:
        self._check_keys(items, missing, scores, where)
        stores = (items, scores)
        values: list[Any] = []
        append = values.append
        for code, store, kind, coded, low, high in self.plan:
            value = stores[store].get(code)
            if value is None:
                reason = missing.get(code) if coded else None
                append(self.reasons[reason] if reason is not None else None)
                continue
            value_type = type(value)
            if kind == "integer" and value_type is int:
                pass
            elif kind == "decimal" and (value_type is float or value_type is int):
                value = float(value)
            else:
                append(self._convert(value, code, kind, where, randomized_on, redactions))
                continue
            if (low is not None and value < low) or (high is not None and value > high):
                raise self._refuse(where, code, value, range_text(low, high))
            append(value)
        return values

    def sql(self) -> SqlDecode | None:
        """decode() split between PostgreSQL and Arrow, for an instrument whose variables are
        all numbers (None for one with text or dates: they need decode()'s conversions and CPR
        redaction). PostgreSQL checks what is cheap to check per object (`SqlDecode.ok`: every
        key declared, every reason known or null, every stored value a number or null) and
        hands over each variable's stored number as text and, for a variable with reason
        codes, the code of its reason; `typed_values()` checks the numbers column by column and
        makes the values. A form or column that fails is left to decode() by the caller."""
        if any(kind not in (VarType.INTEGER, VarType.DECIMAL) for _, _, kind, *_ in self.plan):
            return None
        ok = " AND ".join(
            (
                "jsonb_typeof(r.items) = 'object'",
                "jsonb_typeof(r.missing) = 'object'",
                "jsonb_typeof(r.scores) = 'object'",
                "(r.items - %s::text[]) = '{}'::jsonb",
                "(r.missing - %s::text[]) = '{}'::jsonb",
                "(r.scores - %s::text[]) = '{}'::jsonb",
                # Every reason a known one (or null): the array of the object's values is
                # contained in the array of the known reasons.
                "jsonb_path_query_array(r.missing, '$.*') <@ %s::jsonb",
                # Every stored value a number or null (strict: an array is not unwrapped).
                "NOT jsonb_path_exists(r.items, %s::jsonpath)",
                "NOT jsonb_path_exists(r.scores, %s::jsonpath)",
            )
        )
        not_number = 'strict $.* ? (@.type() != "number" && @.type() != "null")'
        items, scores = sorted(self.items), sorted(self.scores)
        ok_params = [items, items, scores, json.dumps([*self.reasons, None])]
        ok_params += [not_number, not_number]
        columns: list[str] = []
        params: list[Any] = []
        whens = " ".join("WHEN %s THEN %s" for _ in self.reasons)
        for code, store, _, coded, _, _ in self.plan:
            columns.append(f"r.{'scores' if store == SCORE else 'items'} ->> %s")
            params.append(code)
            if coded:
                columns.append(f"CASE r.missing ->> %s {whens} END")
                params.append(code)
                for reason, number in self.reasons.items():
                    params += [reason, number]
        return SqlDecode(ok, ok_params, columns, params)

    def typed_values(self, stored: Sequence[pa.Array]) -> list[pa.Array] | None:
        """The values of `variables` from the columns of `sql()` (the stored number as text,
        and the reason's code after a variable with reason codes) of forms PostgreSQL found ok;
        None if a number is not what decode() accepts as it is (not whole for an integer, out
        of range, too large for a 64-bit integer or a float): the caller then uses decode().
        The text is parsed as a float, as json.loads and decode() do (a whole number below
        2**53 is exact as a float)."""
        values: list[pa.Array] = []
        columns = iter(stored)
        for _, _, kind, coded, low, high in self.plan:
            number = pc.cast(next(columns), pa.float64())
            reason = next(columns) if coded else None
            present = pc.drop_null(number)
            if len(present):
                smallest, largest = pc.min_max(present).values()
                smallest, largest = smallest.as_py(), largest.as_py()
                if kind == VarType.INTEGER:
                    limits = (smallest > -(2**53)) and (largest < 2**53)
                    if not limits or not pc.all(pc.equal(pc.floor(present), present)).as_py():
                        return None
                elif not (smallest > -FLOAT_LIMIT and largest < FLOAT_LIMIT):
                    return None
                if (low is not None and smallest < low) or (high is not None and largest > high):
                    return None
            if kind == VarType.INTEGER:
                number = pc.cast(number, pa.int64())
            if reason is not None:
                number = pc.coalesce(number, pc.cast(reason, number.type))
            values.append(number)
        return values

    def decode_columns(
        self,
        forms: Sequence[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]],
        *,
        where: Sequence[FormRef],
        randomized_on: Sequence[date | None],
        redactions: list[dict[str, Any]],
    ) -> list[list[Any]]:
        """`decode()` for many forms (items, missing, scores) at once, variable by variable: the
        values of each variable for every form, in `self.variables` order. The checks run over
        a whole column (the types present, the smallest and largest value); whatever they do
        not clear is decoded form by form with `decode()`, so the values, the error (the first
        bad form, in row order) and the CPR redactions are exactly those of `decode()`."""
        items = [form[0] for form in forms]
        missing = [form[1] for form in forms]
        scores = [form[2] for form in forms]
        if not self._keys_known(items, missing, scores):
            return self._by_form(forms, where, randomized_on, redactions)
        with_reasons = [row for row, reasons in enumerate(missing) if reasons]
        columns: list[list[Any]] = []
        for code, store, kind, coded, low, high in self.plan:
            values = [stored.get(code) for stored in (scores if store == SCORE else items)]
            present = [value for value in values if value is not None]
            kinds = set(map(type, present))
            if kind == VarType.INTEGER and kinds <= {int}:
                pass
            elif kind == VarType.DECIMAL and kinds <= {float, int}:
                if int in kinds:
                    values = [None if value is None else float(value) for value in values]
                    present = [float(value) for value in present]
            else:
                # Text, dates, numbers stored in another type: the checks of decode().
                return self._by_form(forms, where, randomized_on, redactions)
            if present and (
                (low is not None and min(present) < low)
                or (high is not None and max(present) > high)
            ):
                return self._by_form(forms, where, randomized_on, redactions)
            if coded:
                for row in with_reasons:
                    if values[row] is None:
                        reason = missing[row].get(code)
                        if reason is not None:
                            values[row] = self.reasons[reason]
            columns.append(values)
        return columns

    def _keys_known(
        self,
        items: list[dict[str, Any]],
        missing: list[dict[str, Any]],
        scores: list[dict[str, Any]],
    ) -> bool:
        """Whether every stored item, reason and score is one the instrument declares."""
        if set().union(*items, *missing) - self.items or set().union(*scores) - self.scores:
            return False
        try:
            reasons = {reason for stored in missing for reason in stored.values()}
        except TypeError:  # a list or object stored as a reason
            return False
        return reasons - {None} <= self.reasons.keys()

    def _by_form(
        self,
        forms: Sequence[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]],
        where: Sequence[FormRef],
        randomized_on: Sequence[date | None],
        redactions: list[dict[str, Any]],
    ) -> list[list[Any]]:
        rows = [
            self.decode(*form, where=ref, randomized_on=day0, redactions=redactions)
            for form, ref, day0 in zip(forms, where, randomized_on, strict=True)
        ]
        if not rows:
            return [[] for _ in self.plan]
        return [list(column) for column in zip(*rows, strict=True)]

    def _check_keys(
        self, items: dict[str, Any], missing: dict[str, Any], scores: dict[str, Any], where: FormRef
    ) -> None:
        unknown = (items.keys() - self.items) | (missing.keys() - self.items)
        unknown |= scores.keys() - self.scores
        if unknown:
            raise ExportDataError(
                f"{where.instrument} of {where.study_id} at {where.timepoint} holds "
                f"{', '.join(sorted(unknown))}, which the instrument module does not declare. "
                "Correct the form (after unlocking) and export again."
            )
        for code, reason in missing.items():
            if reason is not None and reason not in self.reasons:
                raise ExportDataError(
                    f"{where.instrument} {code} of {where.study_id} at {where.timepoint} is "
                    f"missing for the reason {reason!r}, which is not a missing-data reason of "
                    f"the instrument modules ({', '.join(self.reasons)})."
                )

    @staticmethod
    def _refuse(where: FormRef, code: str, value: Any, what: str) -> ExportDataError:
        return ExportDataError(
            f"{where.instrument} {code} of {where.study_id} at {where.timepoint} holds "
            f"{value!r}, which is not {what}. Correct the form (after unlocking) and export "
            "again."
        )

    def _convert(
        self,
        value: Any,
        code: str,
        kind: str,
        where: FormRef,
        randomized_on: date | None,
        redactions: list[dict[str, Any]],
    ) -> Any:
        if kind == DATE:
            try:
                day = date.fromisoformat(str(value))
            except ValueError:
                raise self._refuse(where, code, value, "a date (YYYY-MM-DD)") from None
            return (day - randomized_on).days if randomized_on else None
        if kind == VarType.TEXT:
            if not isinstance(value, str):
                raise self._refuse(where, code, value, "text")
            cleaned, count = redact_cpr(value)
            if count:
                redactions.append(
                    {
                        "instrument": where.instrument,
                        "variable": code,
                        "study_id": where.study_id,
                        "timepoint": where.timepoint,
                    }
                )
            return cleaned
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._refuse(where, code, value, "a number")
        if kind == VarType.INTEGER:
            if not float(value).is_integer():
                raise self._refuse(where, code, value, "a whole number")
            value = int(value)
        else:
            value = float(value)
        variable = self.meta.variable(code)
        low, high = variable.min, variable.max
        if (low is not None and value < low) or (high is not None and value > high):
            raise self._refuse(where, code, value, range_text(low, high))
        return value
