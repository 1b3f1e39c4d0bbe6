"""Instrument metadata for the API, the export writers (SPSS/Stata labels, ODM metadata) and
the codebook. Everything is read from the instrument modules; nothing here is a second source.

    from instruments import metadata, registry
    for variable in metadata.variables(registry.get("PANSS")):
        variable.code, variable.label, variable.type, variable.value_labels, variable.derivation
    metadata.MISSING_CODES["refused"]        # -2 (numeric user-missing code), ".b" in Stata
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from instruments.base import Instrument, Item, MissingReason, Number, Option, Score

# How a missing-data reason is written into formats that have no reason codes of their own:
# SPSS user-missing values and Stata extended missing values. Negative, so never inside a range.
MISSING_CODES: dict[str, int] = {
    MissingReason.NOT_ANSWERED: -1,
    MissingReason.REFUSED: -2,
    MissingReason.NOT_ASSESSED: -3,
    MissingReason.INSUFFICIENT_INFORMATION: -4,
    MissingReason.NOT_APPLICABLE: -5,
}
STATA_MISSING: dict[str, str] = {
    MissingReason.NOT_ANSWERED: ".a",
    MissingReason.REFUSED: ".b",
    MissingReason.NOT_ASSESSED: ".c",
    MissingReason.INSUFFICIENT_INFORMATION: ".d",
    MissingReason.NOT_APPLICABLE: ".e",
}


@dataclass(frozen=True)
class Variable:
    """One variable of an instrument in the analysis datasets."""

    instrument: str
    code: str
    label: str
    kind: str  # item | score | derived
    type: str  # integer | decimal | text | date
    decimals: int
    min: Number | None
    max: Number | None
    value_labels: dict[Number, str]
    derivation: str
    sensitivity: bool
    higher_is: str
    unit: str


def _labels(options: tuple[Option, ...]) -> dict[Number, str]:
    return {option.value: str(option.label) for option in options}


def _item_variable(instrument: Instrument, item: Item) -> Variable:
    decimals = 0 if item.type == "integer" else (1 if item.type == "decimal" else 0)
    return Variable(
        instrument=instrument.code,
        code=item.code,
        label=str(item.label),
        kind="derived" if item.derived else "item",
        type=item.type,
        decimals=decimals,
        min=item.min,
        max=item.max,
        value_labels=_labels(item.options),
        derivation=str(item.derivation),
        sensitivity=False,
        higher_is="",
        unit=item.unit,
    )


def _score_variable(instrument: Instrument, score: Score) -> Variable:
    return Variable(
        instrument=instrument.code,
        code=score.code,
        label=str(score.label),
        kind="score",
        type=score.type,
        decimals=score.decimals,
        min=score.min,
        max=score.max,
        value_labels=_labels(score.options),
        derivation=str(score.derivation),
        sensitivity=score.sensitivity,
        higher_is=score.higher_is,
        unit="",
    )


def variables(instrument: Instrument) -> list[Variable]:
    """The exported items (the date of birth is not: an identifier), then the scores. A score
    that shares its code with an item (GAF_S, PSP_TOTAL, register counts) is listed once, as
    the score."""
    score_codes = {score.code for score in instrument.scores}
    result = [
        _item_variable(instrument, item)
        for item in instrument.items
        if item.exported and item.code not in score_codes
    ]
    result.extend(_score_variable(instrument, score) for score in instrument.scores)
    return result


def item_metadata(item: Item) -> dict[str, Any]:
    return {
        "code": item.code,
        "label": str(item.label),
        "type": item.type,
        "min": item.min,
        "max": item.max,
        "step": item.step,
        "allowed_values": item.allowed_values(),
        "allowed": item.allowed_text(),
        "options": [{"value": o.value, "label": str(o.label)} for o in item.options],
        "anchors": list(item.anchors),
        "definition": str(item.definition),
        "anchor_labels": [{"value": o.value, "label": str(o.label)} for o in item.anchor_labels],
        "group": str(item.group),
        "help": str(item.help_text),
        "not_applicable_is_structural": item.na_structural,
        "conditional": str(item.relevance_text) if item.relevant else "",
        "derived": item.derived,
        "derivation": str(item.derivation),
        "pattern": item.pattern,
        "layout_highest_first": item.layout_descending,
        "comment_required_for": list(item.comment_required_for),
        "exported": item.exported,
        "unit": item.unit,
    }


def score_metadata(score: Score) -> dict[str, Any]:
    return {
        "code": score.code,
        "label": str(score.label),
        "items": list(score.items),
        "method": score.method,
        "type": score.type,
        "decimals": score.decimals,
        "min": score.min,
        "max": score.max,
        "higher_is": score.higher_is,
        "sensitivity": score.sensitivity,
        "derivation": str(score.derivation),
        "options": [{"value": o.value, "label": str(o.label)} for o in score.options],
    }


def instrument_metadata(instrument: Instrument) -> dict[str, Any]:
    """The instrument as JSON-ready data (GET /api/v1/instruments/, the codebook)."""
    return {
        "code": instrument.code,
        "name": str(instrument.name),
        "short_name": str(instrument.short_name),
        "rater": instrument.rater,
        "entered_by": list(instrument.entered_by),
        "mode": instrument.mode,
        "rater_description": str(instrument.rater_description),
        "reference_period": str(instrument.reference_period),
        "blinded_readable": instrument.blinded_readable,
        "form_entry": instrument.form_entry,
        "timepoints": list(instrument.timepoints),
        "windows": list(instrument.windows),
        "items": [item_metadata(item) for item in instrument.items],
        "scores": [score_metadata(score) for score in instrument.scores],
        "missing_reasons": [
            {"code": code, "label": str(label), "numeric": MISSING_CODES[code]}
            for code, label in MissingReason.choices
        ],
        "missing_rule": str(instrument.missing_rule),
        "notes": [str(note) for note in instrument.notes],
    }
