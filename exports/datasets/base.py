"""The dataset abstraction every format writer works from.

A dataset is a table with typed, labelled columns (name, label, type, value labels, missing-value
codes, instrument, timepoint, derivation) and rows that arrive in chunks, sorted by the key.
Builders (one per kind of dataset) produce datasets from the database snapshot; writers never
touch the database. Adding a dataset means adding one builder (exports/datasets/__init__.py)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from django.db import models

Row = tuple[Any, ...]


class VarType(StrEnum):
    INTEGER = "integer"
    DECIMAL = "decimal"
    TEXT = "text"


@dataclass(frozen=True)
class MissingCode:
    """A reason for a missing value and how each format writes it: a negative number outside
    every valid range (SPSS user-missing, CSV, Parquet, ODM) or a Stata extended missing value."""

    code: int
    reason: str
    label: str
    stata: str


MISSING_CODES: tuple[MissingCode, ...] = (
    MissingCode(-991, "not_answered", "Missing: not answered", "a"),
    MissingCode(-992, "refused", "Missing: refused", "b"),
    MissingCode(-993, "not_assessed", "Missing: not assessed", "c"),
    MissingCode(-994, "insufficient_information", "Missing: insufficient information", "d"),
    MissingCode(-995, "not_applicable", "Missing: not applicable", "e"),
    MissingCode(-999, "other", "Missing: other reason", "z"),
)
MISSING_BY_CODE: dict[int, MissingCode] = {m.code: m for m in MISSING_CODES}
MISSING_BY_REASON: dict[str, MissingCode] = {m.reason: m for m in MISSING_CODES}
ALL_MISSING: tuple[int, ...] = tuple(m.code for m in MISSING_CODES)
NOT_APPLICABLE = MISSING_BY_REASON["not_applicable"]

# Spellings of the reasons the data-entry side may store.
_REASON_ALIASES = {
    "not_answered": "not_answered",
    "unanswered": "not_answered",
    "no_answer": "not_answered",
    "refused": "refused",
    "not_assessed": "not_assessed",
    "not_done": "not_assessed",
    "insufficient_information": "insufficient_information",
    "insufficient_info": "insufficient_information",
    "inadequate_information": "insufficient_information",
    "not_applicable": "not_applicable",
    "na": "not_applicable",
    "n/a": "not_applicable",
}


def missing_code_for(reason: Any) -> MissingCode:
    """The code for a stored missing-data reason; an unknown reason is 'other', never lost."""
    text = re.sub(r"[\s\-]+", "_", str(reason or "").strip().lower())
    return MISSING_BY_REASON[_REASON_ALIASES.get(text, "other")]


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

    @property
    def labels(self) -> dict[int | float, str]:
        return dict(self.value_labels)

    @property
    def missing_codes(self) -> list[MissingCode]:
        return [MISSING_BY_CODE[code] for code in self.missing]

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
    FormData/ItemGroupData. Key columns other than the event become no ItemData."""

    form_oid: str
    form_name: str
    event: OdmEvent | None = None
    event_column: str | None = None
    events_by_value: Mapping[int, OdmEvent] = field(default_factory=dict)
    subject_column: str = "STUDY_ID"


@dataclass
class Dataset:
    name: str
    label: str
    columns: list[Column]
    chunks: Callable[[], Iterator[Sequence[Row]]]
    odm: OdmBinding | None = None
    sources: tuple[type[models.Model], ...] = ()
    description: str = ""

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)


class DatasetBuilder(Protocol):
    """One kind of dataset. `reveals_allocation` builders (attendance, fidelity...) are left
    out of blinded exports entirely."""

    name: str
    reveals_allocation: bool

    def build(self, context: Any) -> Iterable[Dataset]: ...


# Names every format accepts: Stata allows 32 characters, SPSS 64 bytes; both need a letter
# first and then letters, digits and underscores.
NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,31}$")


def safe_name(raw: str, taken: set[str]) -> str:
    """A variable name valid in SPSS and Stata, unique (ignoring case) among `taken`."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", raw.strip()) or "V"
    if not name[0].isalpha():
        name = "V" + name
    name = name[:32]
    candidate, n = name, 2
    while candidate.upper() in taken:
        suffix = f"_{n}"
        candidate = name[: 32 - len(suffix)] + suffix
        n += 1
    taken.add(candidate.upper())
    return candidate


# Variables that identify a person directly. The builders never read them; this list also
# stops a variable of such a name arriving from stored form data.
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
