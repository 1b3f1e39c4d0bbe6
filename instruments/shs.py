"""SHS, Adult State Hope Scale, "Goals Scale for the Present" (SPEC §8): six items 1–8; the
total and the agency and pathways subscales. No reverse-keyed items, no prorating."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from instruments.base import (
    ALL_TIMEPOINTS,
    Instrument,
    Mode,
    Score,
    levels,
    numbered,
    sum_of,
)
from trial.roles import Role

TRUTH = levels(
    [
        (1, _("definitely false")),
        (2, _("mostly false")),
        (3, _("somewhat false")),
        (4, _("slightly false")),
        (5, _("slightly true")),
        (6, _("somewhat true")),
        (7, _("mostly true")),
        (8, _("definitely true")),
    ]
)
ITEMS = numbered(
    [
        ("SHS_1", _("Many ways out of a jam")),
        ("SHS_2", _("Energetically pursuing goals")),
        ("SHS_3", _("Ways around current problems")),
        ("SHS_4", _("Seeing self as successful now")),
        ("SHS_5", _("Ways to reach current goals")),
        ("SHS_6", _("Meeting own goals now")),
    ],
    type="integer",
    min=1,
    max=8,
    options=TRUTH,
)
CODES = tuple(item.code for item in ITEMS)
AGENCY = ("SHS_2", "SHS_4", "SHS_6")
PATHWAYS = ("SHS_1", "SHS_3", "SHS_5")

INSTRUMENT = Instrument(
    code="SHS",
    name=_("Adult State Hope Scale (“Goals Scale for the Present”; Snyder et al. 1996)"),
    short_name=_("State Hope"),
    mode=Mode.SELF_REPORT,
    rater=Role.ASSESSOR,
    entered_by=(Role.ASSESSOR,),
    rater_description=_("Self-report by the participant; entered by the blinded assessor."),
    reference_period=_("Right now."),
    timepoints=ALL_TIMEPOINTS,
    items=ITEMS,
    scores=(
        Score(
            "SHS_TOTAL",
            _("State Hope total"),
            CODES,
            "sum",
            6,
            48,
            "better",
            _("Sum of the six items; missing if any item is missing."),
            sum_of(CODES),
        ),
        Score(
            "SHS_AGENCY",
            _("Agency subscale (items 2, 4, 6)"),
            AGENCY,
            "sum",
            3,
            24,
            "better",
            _("Sum of items 2, 4 and 6; missing if any of them is missing."),
            sum_of(AGENCY),
        ),
        Score(
            "SHS_PATHWAYS",
            _("Pathways subscale (items 1, 3, 5)"),
            PATHWAYS,
            "sum",
            3,
            24,
            "better",
            _("Sum of items 1, 3 and 5; missing if any of them is missing."),
            sum_of(PATHWAYS),
        ),
    ),
    missing_rule=_(
        "Any missing item makes the total and its subscale missing (no prorating with 3-item "
        "subscales)."
    ),
)
