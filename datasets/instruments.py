"""Instrument metadata for the exports, read from the instrument modules (the instruments app).

The instrument modules are the one source of truth for items, labels, value labels, types,
ranges, scores, derivations and missing-data reasons (DESIGN.md, invariant 5). The exports read
them through the stable metadata API (`instruments.registry`,
`instruments.metadata.variables`, `metadata.MISSING_CODES`,
`metadata.STATA_MISSING`) and nothing else: every column of a response dataset, the codebook and
the ODM metadata follow from what is read here.

Labels in the modules are translatable; an export is written in the language it was asked for
(English unless Danish was chosen), whatever the worker's language, so that the same data in
the same language always give the same bytes. Everything here is read in the language active
when it is called (the export build activates the job's language)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from django.utils import translation
from django.utils.translation import gettext

from instruments import metadata, registry
from instruments.base import ALL_TIMEPOINTS, Instrument, MissingReason

ENGLISH = "en"

# The assessment timepoints in order, with the T0/T1/T2 names of SPEC.md (the suffix of the wide
# dataset's variables) and their number in the TIMEPOINT variable.
TIMEPOINT_NUMBERS: dict[str, int] = {code: number for number, code in enumerate(ALL_TIMEPOINTS)}
TIMEPOINT_NAMES: dict[str, str] = {code: f"T{n}" for code, n in TIMEPOINT_NUMBERS.items()}


@dataclass(frozen=True)
class Missing:
    """A missing-data reason of the instrument modules and its codes in the data files."""

    reason: str  # assessments MissingReason value
    code: int  # metadata.MISSING_CODES: the number in SPSS, CSV, Parquet and ODM
    stata: str  # metadata.STATA_MISSING without the dot: Stata's extended missing value
    label: str  # "Missing: refused"


@dataclass(frozen=True)
class InstrumentMeta:
    code: str
    name: str
    short_name: str
    timepoints: tuple[str, ...]
    variables: tuple[metadata.Variable, ...]  # items, then scores (metadata.variables order)
    blinded_readable: bool
    form_entry: bool
    missing_rule: str
    # Item code -> label of the reason "not applicable" where it is a structural answer rather
    # than missing data (IMRS item 13: no medication prescribed).
    structural_na: Mapping[str, str]
    items: frozenset[str]  # every item code of the instrument (exported or not)
    score_codes: frozenset[str]

    def variable(self, code: str) -> metadata.Variable:
        for variable in self.variables:
            if variable.code == code:
                return variable
        raise KeyError(code)


def _describe(instrument: Instrument) -> InstrumentMeta:
    return InstrumentMeta(
        code=instrument.code,
        name=str(instrument.name),
        short_name=str(instrument.short_name),
        timepoints=tuple(tp for tp in ALL_TIMEPOINTS if tp in instrument.timepoints),
        variables=tuple(metadata.variables(instrument)),
        blinded_readable=instrument.blinded_readable,
        form_entry=instrument.form_entry,
        missing_rule=str(instrument.missing_rule),
        structural_na={
            item.code: str(item.na_label or "not applicable")
            for item in instrument.items
            if item.na_structural
        },
        items=frozenset(item.code for item in instrument.items),
        score_codes=frozenset(score.code for score in instrument.scores),
    )


def catalogue() -> dict[str, InstrumentMeta]:
    """Every instrument of the registry, in the registry's (form) order, by code, with the
    labels of the active language."""
    return _catalogue(translation.get_language() or ENGLISH)


@cache
def _catalogue(language: str) -> dict[str, InstrumentMeta]:
    with translation.override(language):
        return {instrument.code: _describe(instrument) for instrument in registry.all()}


def instrument(code: str) -> InstrumentMeta:
    return catalogue()[code]


def missing_reasons() -> tuple[Missing, ...]:
    """The missing-data reasons of the instrument modules, in their order, with the codes the
    assessments metadata gives them (one source of truth for forms, API and exports), labelled
    in the active language."""
    return _missing_reasons(translation.get_language() or ENGLISH)


@cache
def _missing_reasons(language: str) -> tuple[Missing, ...]:
    with translation.override(language):
        return tuple(
            Missing(
                reason=str(reason),
                code=metadata.MISSING_CODES[reason],
                stata=metadata.STATA_MISSING[reason].lstrip("."),
                label=gettext("Missing: %(reason)s") % {"reason": label},
            )
            for reason, label in MissingReason.choices
        )
