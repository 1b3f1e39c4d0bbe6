"""The IMR Fidelity Scale (SAMHSA IMR toolkit, form revision 3-24-05; instruments/SPEC.md §10.1,
instruments.json `IMR_FID`) and the eleven IMR modules of the trial paper's Table 1.

This module is the one definition of both: the rating forms, the API validation, the database
check constraint, the scores, the bands and the export labels are all derived from it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import models
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

if TYPE_CHECKING:
    # The type Django's form fields take for a label (plain or lazy text).
    from django_stubs_ext import StrOrPromise

INSTRUMENT_CODE = "IMR_FID"
INSTRUMENT_NAME = "IMR Fidelity Scale (SAMHSA IMR toolkit; rev. 3-24-05), 13 items"
ITEM_MIN = 1
ITEM_MAX = 5


@dataclass(frozen=True)
class Item:
    number: int
    label: StrOrPromise
    # What the item looks at, shown on demand on the rating page (paraphrased from the
    # SAMHSA toolkit's protocol).
    definition: StrOrPromise = ""

    @property
    def code(self) -> str:
        return f"FID_{self.number}"


ITEMS: tuple[Item, ...] = (
    Item(
        1,
        _("Number of people in a session or group"),
        _(
            "How many participants take part at a time: individual sessions or small groups score "
            "higher than large groups."
        ),
    ),
    Item(
        2,
        _("Program length"),
        _(
            "How long participants are offered IMR: weekly sessions over enough months to cover "
            "the whole curriculum."
        ),
    ),
    Item(
        3,
        _("Comprehensiveness of the curriculum"),
        _("How many of the IMR modules are covered with the participants."),
    ),
    Item(
        4,
        _("Provision of educational handouts"),
        _("Whether participants get the IMR handouts of the modules they work on."),
    ),
    Item(
        5,
        _("Involvement of significant others"),
        _("Whether family members or other supporters take part, e.g. in goals or relapse plans."),
    ),
    Item(
        6,
        _("IMR goal setting"),
        _("Whether each participant sets personal recovery goals, broken into concrete steps."),
    ),
    Item(
        7,
        _("IMR goal follow-up"),
        _("Whether the practitioners follow up the goals and steps regularly in the sessions."),
    ),
    Item(
        8,
        _("Motivation-based strategies"),
        _(
            "Use of motivational techniques: linking the material to the participant's own goals "
            "and weighing pros and cons of change."
        ),
    ),
    Item(
        9,
        _("Educational techniques"),
        _(
            "Interactive teaching: checking understanding, summarising, small steps, asking the "
            "participant's experience, rather than lecturing."
        ),
    ),
    Item(
        10,
        _("Cognitive-behavioral techniques"),
        _(
            "Use of reinforcement, shaping, modelling, role play, cognitive restructuring and "
            "homework."
        ),
    ),
    Item(
        11,
        _("Coping skills training"),
        _("Whether participants practise strategies for coping with symptoms and stress."),
    ),
    Item(
        12,
        _("Relapse prevention training"),
        _("Whether each participant makes a relapse-prevention plan with early warning signs."),
    ),
    Item(
        13,
        _("Behavioral tailoring for medication"),
        _("For those who take medication: fitting it into daily routines with cues and reminders."),
    ),
)
ITEM_CODES: tuple[str, ...] = tuple(item.code for item in ITEMS)
ITEMS_BY_CODE: dict[str, Item] = {item.code: item for item in ITEMS}
ANCHORS = {1: _("1 – not implemented"), 5: _("5 – full implementation")}


# The bands as codes (the API, the pages' badges through the `translated` filter).
BAND_WORDS = (gettext_noop("high"), gettext_noop("moderate"), gettext_noop("low"))


class Band(models.TextChoices):
    # US National EBP project convention (McHugo et al. 2007), SPEC.md §10.1.
    HIGH = "high", _("High (≥ 4.0)")
    MODERATE = "moderate", _("Moderate (3.0–3.99)")
    LOW = "low", _("Low (< 3.0)")


class Module(models.IntegerChoices):
    """The eleven IMR modules (trial paper, Table 1), taught in this order."""

    RECOVERY_STRATEGIES = 1, _("Recovery strategies")
    PRACTICAL_FACTS = 2, _("Practical facts about mental illness")
    STRESS_VULNERABILITY = 3, _("The Stress-Vulnerability Model")
    SOCIAL_SUPPORT = 4, _("Building social support")
    MEDICATION = 5, _("Using medication effectively")
    DRUG_AND_ALCOHOL = 6, _("Drug and alcohol use")
    REDUCING_RELAPSES = 7, _("Reducing relapses")
    COPING_WITH_STRESS = 8, _("Coping with stress and common problems")
    COPING_WITH_SYMPTOMS = 9, _("Coping with symptoms")
    NEEDS_MET = 10, _("Getting your needs met in the mental health system")
    HEALTHY_LIFESTYLES = 11, _("Healthy Lifestyles")


def module_name(number: int) -> str:
    return str(Module(number).label)


def clean_items(raw: Any) -> tuple[dict[str, int], dict[str, list[str | Promise]]]:
    """Validate a rating's items: every one of the 13 items, each an integer 1–5.

    Keys may be the item codes (`FID_3`) or the bare item numbers (`3`, as printed on the
    form); a list of 13 scores is read in item order. Returns the items under their codes and
    the errors per item; all items are checked so the rater sees every problem at once."""
    if isinstance(raw, list | tuple) and len(raw) == len(ITEMS):
        raw = dict(zip(ITEM_CODES, raw, strict=True))
    if not isinstance(raw, Mapping):
        return {}, {"items": ['Give the 13 item scores as an object, e.g. {"FID_1": 4, ...}.']}
    cleaned: dict[str, int] = {}
    errors: dict[str, list[str | Promise]] = {}
    for key, value in raw.items():
        code = f"FID_{key}" if str(key).isdigit() else str(key).upper()
        if code not in ITEMS_BY_CODE:
            errors[str(key)] = [
                _("Unknown item; the scale has items {ITEM_CODES_0}–FID_13.").format(
                    ITEM_CODES_0=ITEM_CODES[0],
                )
            ]
            continue
        # bool is an int in Python; a tick box is not a score.
        if isinstance(value, bool) or not isinstance(value, int):
            errors[code] = [
                _("Give a whole number {ITEM_MIN}–{ITEM_MAX}.").format(
                    ITEM_MIN=ITEM_MIN,
                    ITEM_MAX=ITEM_MAX,
                )
            ]
        elif not ITEM_MIN <= value <= ITEM_MAX:
            errors[code] = [
                _("{value} is outside {ITEM_MIN}–{ITEM_MAX}.").format(
                    value=value,
                    ITEM_MIN=ITEM_MIN,
                    ITEM_MAX=ITEM_MAX,
                )
            ]
        else:
            cleaned[code] = value
    for code in ITEM_CODES:
        if code not in cleaned and code not in errors:
            errors[code] = [
                _("Rate this item: all 13 items are required (the scale has no 'not applicable').")
            ]
    return cleaned, errors


def total(items: Mapping[str, int]) -> int | None:
    """FID_TOTAL, 13–65; None unless all 13 items are rated (SPEC.md missing rule)."""
    if any(code not in items for code in ITEM_CODES):
        return None
    return sum(int(items[code]) for code in ITEM_CODES)


def mean(items: Mapping[str, int]) -> float | None:
    """FID_MEAN, the programme fidelity score: the mean of the 13 items."""
    summed = total(items)
    return None if summed is None else summed / len(ITEM_CODES)


def band_of_total(summed: int | None) -> Band | None:
    """The band decided on the integer total, so 52/13 is exactly 4.0 (high) with no
    floating-point doubt at the cut-offs."""
    if summed is None:
        return None
    if summed >= 4 * len(ITEM_CODES):
        return Band.HIGH
    if summed >= 3 * len(ITEM_CODES):
        return Band.MODERATE
    return Band.LOW


def band_of_mean(value: float | None) -> Band | None:
    """The band of an average of scores (per-site means): ≥ 4 high, 3–3.99 moderate, < 3 low."""
    if value is None:
        return None
    # Means of means carry float noise (3.9999999999); nine decimals is far finer than any
    # difference a rating can make.
    value = round(value, 9)
    if value >= 4:
        return Band.HIGH
    if value >= 3:
        return Band.MODERATE
    return Band.LOW
