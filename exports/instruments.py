"""Instrument metadata for the exports, from the assessments app's instrument registry.

The registry is the one source of truth for items, labels, allowed values and scores
(DESIGN.md, invariant 5). The exports read it through one hook,
`assessments.selectors.instrument_catalogue()`, returning one mapping per instrument in the
shape of instruments.json (code, name, timepoints, items: code/label/min/max/step/options/type,
scores: code/label/items/method/min/max/rule). Until the hook exists the catalogue is empty and
the response datasets describe what is stored, variable by variable."""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from exports.datasets.base import VarType

DATE = "date"  # a date item: exported as days relative to randomisation


@dataclass(frozen=True)
class VariableMeta:
    code: str
    label: str
    type: str  # VarType value or DATE
    value_labels: tuple[tuple[int | float, str], ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    derivation: str = ""


@dataclass(frozen=True)
class InstrumentMeta:
    code: str
    name: str
    timepoints: tuple[str, ...]
    items: tuple[VariableMeta, ...]
    scores: tuple[VariableMeta, ...]
    # Filled in for one arm only (an IMR-arm-only form): its presence reveals the arm, so
    # blinded exports leave it out.
    reveals_allocation: bool = False


def _is_integral(value: Any) -> bool:
    return value is None or float(value).is_integer()


def _item(spec: Mapping[str, Any]) -> VariableMeta:
    declared = str(spec.get("type") or "").lower()
    options = spec.get("options") or []
    if declared == DATE:
        kind = DATE
    elif declared in ("text", "string"):
        kind = VarType.TEXT
    elif all(_is_integral(spec.get(k)) for k in ("min", "max", "step")) and all(
        _is_integral(option.get("value")) for option in options
    ):
        kind = VarType.INTEGER
    else:
        kind = VarType.DECIMAL
    labels = tuple(
        (int(o["value"]) if kind == VarType.INTEGER else float(o["value"]), str(o["label"]))
        for o in options
    )
    derivation = "Derived" if spec.get("derived") else ""
    return VariableMeta(
        code=str(spec["code"]),
        label=str(spec.get("label") or spec["code"]),
        type=kind,
        value_labels=labels,
        minimum=spec.get("min"),
        maximum=spec.get("max"),
        derivation=derivation,
    )


def _score(spec: Mapping[str, Any]) -> VariableMeta:
    method = str(spec.get("method") or "")
    items = ", ".join(spec.get("items") or [])
    parts = [f"{method} of {items}" if method and items else method]
    if spec.get("rule"):
        parts.append(str(spec["rule"]))
    integral = method != "mean" and all(_is_integral(spec.get(k)) for k in ("min", "max"))
    return VariableMeta(
        code=str(spec["code"]),
        label=str(spec.get("label") or spec["code"]),
        type=VarType.INTEGER if integral else VarType.DECIMAL,
        minimum=spec.get("min"),
        maximum=spec.get("max"),
        derivation="; ".join(part for part in parts if part) or "Computed by the EDC",
    )


def instrument_from_spec(code: str, spec: Mapping[str, Any]) -> InstrumentMeta:
    return InstrumentMeta(
        code=code,
        name=str(spec.get("name") or code),
        timepoints=tuple(str(t) for t in spec.get("timepoints") or ()),
        items=tuple(_item(item) for item in spec.get("items") or ()),
        scores=tuple(_score(score) for score in spec.get("scores") or ()),
        reveals_allocation=bool(spec.get("reveals_allocation") or spec.get("imr_arm_only")),
    )


def catalogue_from_specs(specs: Iterable[Mapping[str, Any]]) -> dict[str, InstrumentMeta]:
    result = {}
    for spec in specs:
        code = str(spec["code"])
        result[code] = instrument_from_spec(code, spec)
    return result


def catalogue() -> dict[str, InstrumentMeta]:
    """The registry's instruments by code, or {} while the registry hook does not exist."""
    try:
        module = importlib.import_module("assessments.selectors")
    except ImportError:  # pragma: no cover
        return {}
    hook = getattr(module, "instrument_catalogue", None)
    if not callable(hook):
        return {}
    specs = hook()
    if isinstance(specs, Mapping):
        specs = [{"code": code, **dict(spec)} for code, spec in specs.items()]
    return catalogue_from_specs(specs)
