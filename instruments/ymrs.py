"""YMRS, Young Mania Rating Scale (SPEC §5): seven items 0–4 in half points and four
double-weighted items 0–8 in whole points, total 0–60 (may end in .5)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from instruments.base import (
    ALL_TIMEPOINTS,
    Instrument,
    Item,
    Mode,
    Score,
    sum_of,
)
from trial.roles import Role

# The rater manual may restrict ratings to the anchors: then set these to 1 and 2 (SPEC §5).
HALF_POINT_STEP = 0.5
DOUBLE_WEIGHTED_STEP = 1


def _four(code: str, label: object) -> Item:
    return Item(
        code,
        label,  # type: ignore[arg-type]
        type="decimal",
        min=0,
        max=4,
        step=HALF_POINT_STEP,
        anchors=(0, 1, 2, 3, 4),
        help_text=_("Anchors 0–4; half points allowed between anchors."),
    )


def _eight(code: str, label: object) -> Item:
    return Item(
        code,
        label,  # type: ignore[arg-type]
        type="integer",
        min=0,
        max=8,
        step=DOUBLE_WEIGHTED_STEP,
        anchors=(0, 2, 4, 6, 8),
        help_text=_("Double-weighted: anchors 0, 2, 4, 6, 8; odd values between anchors allowed."),
    )


ITEMS = (
    _four("YMRS_1", _("Elevated mood")),
    _four("YMRS_2", _("Increased motor activity–energy")),
    _four("YMRS_3", _("Sexual interest")),
    _four("YMRS_4", _("Sleep")),
    _eight("YMRS_5", _("Irritability")),
    _eight("YMRS_6", _("Speech (rate and amount)")),
    _four("YMRS_7", _("Language–thought disorder")),
    _eight("YMRS_8", _("Content")),
    _eight("YMRS_9", _("Disruptive–aggressive behaviour")),
    _four("YMRS_10", _("Appearance")),
    _four("YMRS_11", _("Insight")),
)
CODES = tuple(item.code for item in ITEMS)

INSTRUMENT = Instrument(
    code="YMRS",
    name=_("Young Mania Rating Scale (Young et al. 1978)"),
    short_name=_("YMRS"),
    mode=Mode.INTERVIEW,
    rater=Role.ASSESSOR,
    entered_by=(Role.ASSESSOR,),
    rater_description=_(
        "Blinded research assessor; the patient's report of the past 48 hours plus observation "
        "during the interview."
    ),
    reference_period=_("The past 48 hours."),
    timepoints=ALL_TIMEPOINTS,
    items=ITEMS,
    scores=(
        Score(
            "YMRS_TOTAL",
            _("YMRS total"),
            CODES,
            "sum",
            0,
            60,
            "worse",
            _(
                "Sum of the 11 items (7×0–4 + 4×0–8); may end in .5; missing if any item is "
                "missing."
            ),
            sum_of(CODES, decimals=1),
            decimals=1,
        ),
    ),
    missing_rule=_(
        "The total is missing if any item is missing. The double weighting of items 5, 6, 8 "
        "and 9 is the authors' device for poorly cooperating patients, not a missing-data rule."
    ),
)
