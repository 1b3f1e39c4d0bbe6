"""The dataset abstraction every format writer works from.

A dataset is a table with typed, labelled columns (name, label, type, value labels, missing-value
codes, instrument, timepoint, derivation) and rows that arrive in chunks, sorted by the key.
Builders (one per kind of dataset) produce datasets from the database snapshot; writers never
touch the database. Adding a dataset means adding one builder (datasets/__init__.py)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Any, Protocol

import pyarrow as pa
from django.db import models
from django.utils.translation import gettext

from datasets.instruments import Missing, missing_reasons

Row = tuple[Any, ...]


class VarType(StrEnum):
    INTEGER = "integer"
    DECIMAL = "decimal"
    TEXT = "text"


# The Arrow type of each variable type: the staged Parquet files and the columnar chunks.
ARROW_TYPES = {
    VarType.INTEGER: pa.int64(),
    VarType.DECIMAL: pa.float64(),
    VarType.TEXT: pa.string(),
}


# --- missing values -------------------------------------------------------------------------
# The reasons and their codes are the assessments app's (datasets.instruments.missing_reasons):
# forms, API and exports speak of the same reasons with the same numbers. The codes are
# negative, so only variables whose valid values are all non-negative may carry them (checked
# below); variables that can be negative (days relative to randomisation) carry none.


def missing_codes() -> tuple[Missing, ...]:
    return missing_reasons()


def missing_by_code() -> dict[int, Missing]:
    return {m.code: m for m in missing_reasons()}


def missing_by_reason() -> dict[str, Missing]:
    return {m.reason: m for m in missing_reasons()}


def all_missing() -> tuple[int, ...]:
    return tuple(m.code for m in missing_reasons())


def not_applicable() -> int:
    """The code of "not applicable" (e.g. the age of someone never randomised)."""
    return missing_by_reason()["not_applicable"].code


# One rounding policy for every derived score, stated in the codebook: computed from the exact
# values and rounded once, at the end, half up (2.0005 -> 2.001, never to even), to the decimal
# places the variable declares (the instrument module's, or DERIVED_DECIMALS for a mean that
# the exports derive themselves, such as FID_MEAN).
DERIVED_DECIMALS = 3


def rounding_policy() -> str:
    """The policy in words, for the codebook (in the export's language)."""
    return gettext(
        "Derived scores are computed from the exact values and rounded once, at the end, half "
        "up (not to even), to the decimal places given for each variable (column decimals): "
        "means to %(decimals)d decimals unless the instrument declares otherwise."
    ) % {"decimals": DERIVED_DECIMALS}


def round_half_up(value: Any, decimals: int) -> float | int | None:
    """`value` (int, float, Decimal or Fraction) rounded half up; None stays None."""
    if value is None:
        return None
    if isinstance(value, Fraction):
        exact = Decimal(value.numerator) / Decimal(value.denominator)
    elif isinstance(value, float):
        exact = Decimal(repr(value))  # the shortest decimal that is this float
    else:
        exact = Decimal(value)
    rounded = exact.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    return float(rounded)


@dataclass(frozen=True)
class Column:
    name: str
    label: str
    type: VarType
    value_labels: tuple[tuple[int | float, str], ...] = ()
    missing: tuple[int, ...] = ()
    instrument: str = ""
    timepoint: str = ""
    derivation: str = ""
    minimum: float | None = None
    maximum: float | None = None
    key: bool = False
    # The instrument's own code of the variable (GAF_F for GAF_F_T1), for the codebook.
    source: str = ""
    # What else a reader needs: sensitivity variable, direction, unit.
    notes: str = ""
    # A label of its own for a missing code (IMRS item 13: "not applicable" is an answer).
    missing_labels: tuple[tuple[int, str], ...] = ()
    # Decimal places of a decimal variable: its values are rounded once, half up, to these
    # (rounding_policy); None for integers and text.
    decimals: int | None = None

    def __post_init__(self) -> None:
        if is_identifying(self.name):
            raise ValueError(f"{self.name} identifies a person and is never exported.")
        # Labels may come from the code's lazy translations (choices, instruments): they
        # become text here, in the language the export is built in (English, exports.assembly).
        object.__setattr__(self, "label", str(self.label))
        object.__setattr__(
            self, "value_labels", tuple((value, str(text)) for value, text in self.value_labels)
        )
        object.__setattr__(
            self, "missing_labels", tuple((code, str(text)) for code, text in self.missing_labels)
        )
        if not self.missing:
            return
        if self.type == VarType.TEXT:
            raise ValueError(f"{self.name}: a text variable has no missing-value codes.")
        lowest = [v for v in (self.minimum,) if v is not None]
        lowest += [value for value, _ in self.value_labels]
        if not lowest or min(lowest) <= max(self.missing):
            # A code inside the valid values would be read as a reason where it is a value.
            raise ValueError(
                f"{self.name}: missing-value codes need valid values that are all above them."
            )

    @property
    def labels(self) -> dict[int | float, str]:
        return dict(self.value_labels)

    @property
    def missing_codes(self) -> list[Missing]:
        known = missing_by_code()
        overrides = dict(self.missing_labels)
        return [
            replace(known[code], label=overrides[code]) if code in overrides else known[code]
            for code in self.missing
        ]

    def allowed_values(self) -> str:
        """In words, for the codebook."""
        if self.type == VarType.TEXT:
            return "text"
        if self.value_labels:
            return ", ".join(_number(value) for value, _ in self.value_labels)
        if self.minimum is not None or self.maximum is not None:
            low = _number(self.minimum) if self.minimum is not None else ""
            high = _number(self.maximum) if self.maximum is not None else ""
            return f"{low}–{high}" if low and high else (f"≥ {low}" if low else f"≤ {high}")
        return "integer" if self.type == VarType.INTEGER else "number"


def _number(value: float | int | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


@dataclass(frozen=True)
class OdmEvent:
    oid: str
    name: str
    order: int


@dataclass(frozen=True)
class OdmBinding:
    """Where a dataset's rows go in CDISC ODM: SubjectData (the subject column) ->
    StudyEventData (a fixed event, or one chosen per row by the event column's value) ->
    FormData/ItemGroupData. The subject, event and repeat-key columns become no ItemData.
    A dataset without a binding (one that re-arranges data already in the ODM file, or
    describes no subject) is not written to ODM."""

    form_oid: str
    form_name: str
    event: OdmEvent | None = None
    event_column: str | None = None
    events_by_value: Mapping[int, OdmEvent] = field(default_factory=dict)
    subject_column: str = "STUDY_ID"
    # A form filled in more than once per subject and event (attendance per session, service
    # use per window): this column's value is the FormRepeatKey.
    repeat_column: str | None = None


@dataclass(frozen=True)
class Columns:
    """A chunk given column by column (Arrow arrays in the dataset's column order), for a
    dataset arranged with array operations rather than row by row (the wide file)."""

    arrays: list[pa.Array]


Chunk = Sequence[Row] | Columns


@dataclass
class Dataset:
    name: str
    label: str
    columns: list[Column]
    chunks: Callable[[], Iterator[Chunk]]
    odm: OdmBinding | None = None
    sources: tuple[type[models.Model], ...] = ()
    description: str = ""

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)


def without_columns(dataset: Dataset, names: frozenset[str]) -> Dataset:
    """The dataset less the named columns (their values are dropped from every chunk)."""
    keep = [i for i, column in enumerate(dataset.columns) if column.name not in names]
    if len(keep) == len(dataset.columns):
        return dataset
    inner = dataset.chunks

    def chunks() -> Iterator[Chunk]:
        for chunk in inner():
            if isinstance(chunk, Columns):
                yield Columns([chunk.arrays[i] for i in keep])
            else:
                yield [tuple(row[i] for i in keep) for row in chunk]

    return replace(dataset, columns=[dataset.columns[i] for i in keep], chunks=chunks)


class DatasetBuilder(Protocol):
    """One kind of dataset. `reveals_allocation` builders (attendance, fidelity...) are left
    out of blinded exports entirely."""

    name: str
    reveals_allocation: bool

    def build(self, context: Any) -> Iterable[Dataset]: ...


# Variables that identify a person directly. The builders never read them, and no column of
# such a name can be made (Column checks), whatever a module or builder declares.
IDENTIFYING_NAMES = frozenset(
    {"CPR", "CPR_NUMBER", "DOB", "DATE_OF_BIRTH", "BIRTH_DATE", "NAME", "FIRST_NAME",
     "LAST_NAME", "SURNAME", "FULL_NAME", "ADDRESS", "PHONE", "EMAIL"}
)  # fmt: skip


def is_identifying(code: str) -> bool:
    return code.strip().upper() in IDENTIFYING_NAMES


# A Danish CPR number in free text: ddmmyy, optional hyphen or space, four digits.
CPR_IN_TEXT = re.compile(r"(?<!\d)(0[1-9]|[12]\d|3[01])(0[1-9]|1[0-2])(\d{2})[-\s]?(\d{4})(?!\d)")
CPR_REDACTED = "[CPR number removed]"


def redact_cpr(text: str) -> tuple[str, int]:
    return CPR_IN_TEXT.subn(CPR_REDACTED, text)
