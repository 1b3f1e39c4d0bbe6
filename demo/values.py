"""Plausible, valid values for the demo's forms, from the instrument modules: every entered
item gets one of its allowed values (PSP a total inside the interval its domains allow,
demographics that match the screening diagnosis). Drawn from a seeded generator, so a
participant's forms are the same on every machine."""

from __future__ import annotations

import random
from typing import Any

from instruments import psp, registry

# Where in an item's range a typical participant of this trial lies (0 = the lowest allowed
# value, 1 = the highest): symptom scales low to middle, recovery and hope scales middle.
TYPICAL_POSITION = {
    "PANSS": 0.3,
    "HAMD6": 0.3,
    "YMRS": 0.15,
    "IMRS_P": 0.55,
    "IMRS_C": 0.5,
    "MHRM": 0.55,
    "SHS": 0.55,
    "CSQ8": 0.7,
}


def _pick(rng: random.Random, values: list[Any], position: float) -> Any:
    mode = position * (len(values) - 1)
    index = round(rng.triangular(0, len(values) - 1, mode))
    return values[index]


def form_items(code: str, rng: random.Random, *, diagnosis: str = "F20") -> dict[str, Any]:
    """A complete, valid form of instrument `code`."""
    if code == "PSP":
        domains = {d: _pick(rng, [1, 2, 3, 4], 0.35) for d in psp.DOMAINS}
        low, high = psp.interval(domains) or (51, 60)
        return domains | {"PSP_TOTAL": rng.randint(low, high)}
    if code == "GAF":
        symptoms = rng.randint(35, 65)
        return {"GAF_S": symptoms, "GAF_F": max(1, min(100, symptoms + rng.randint(-8, 8)))}
    if code == "DEMOG":
        group = 1 if diagnosis == "F20" else 2
        return {
            "HOUSING": _pick(rng, [1, 1, 1, 2, 3], 0.2),
            "EMPLOYMENT": _pick(rng, [1, 2, 3, 3, 3], 0.8),
            "EDUCATION": rng.choice([1, 2, 3, 4]),
            "LIVING": rng.choice([1, 1, 2]),
            "DX_GROUP": group,
            "DX_ICD10": rng.choice(["F20.0", "F20.3"] if group == 1 else ["F31.3", "F31.6"]),
            "SUBSTANCE": rng.choice([0, 0, 0, 1]),
        }
    instrument = registry.get(code)
    position = TYPICAL_POSITION.get(code, 0.5)
    items: dict[str, Any] = {}
    for item in instrument.entered_items:
        if item.relevant is not None:
            continue  # conditional follow-up questions: not asked in typical profiles
        values = item.allowed_values()
        if values:
            items[item.code] = _pick(rng, values, position)
    return items
