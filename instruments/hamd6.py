"""HAM-D6, Bech's six-item Hamilton melancholia subscale (SPEC §4): five items 0–4 and one
0–2, total 0–22. No prorating: each item carries unique information."""

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

ITEMS = (
    Item("HAMD6_1", _("Depressed mood"), min=0, max=4, help_text=_("HAM-D17 item 1")),
    Item("HAMD6_2", _("Feelings of guilt"), min=0, max=4, help_text=_("HAM-D17 item 2")),
    Item("HAMD6_3", _("Work and interests"), min=0, max=4, help_text=_("HAM-D17 item 7")),
    Item("HAMD6_4", _("Psychomotor retardation"), min=0, max=4, help_text=_("HAM-D17 item 8")),
    Item("HAMD6_5", _("Psychic anxiety"), min=0, max=4, help_text=_("HAM-D17 item 10")),
    Item(
        "HAMD6_6",
        _("General somatic symptoms (tiredness/pains)"),
        min=0,
        max=2,
        help_text=_("HAM-D17 item 13; rated 0–2"),
    ),
)
CODES = tuple(item.code for item in ITEMS)

INSTRUMENT = Instrument(
    code="HAMD6",
    name=_("Hamilton Depression Rating Scale, 6-item melancholia subscale (Bech HAM-D6)"),
    short_name=_("HAM-D6"),
    mode=Mode.INTERVIEW,
    rater=Role.ASSESSOR,
    entered_by=(Role.ASSESSOR,),
    rater_description=_("Blinded research assessor; clinical interview."),
    reference_period=_("Per the rater manual (HAM-D convention: the past week)."),
    timepoints=ALL_TIMEPOINTS,
    items=ITEMS,
    scores=(
        Score(
            "HAMD6_TOTAL",
            _("HAM-D6 total"),
            CODES,
            "sum",
            0,
            22,
            "worse",
            _("Sum of the six items; missing if any item is missing."),
            sum_of(CODES),
        ),
    ),
    missing_rule=_(
        "The total is missing if any of the 6 items is missing; no prorating (each item "
        "carries unique severity information in this unidimensional scale)."
    ),
    notes=(
        _("If a full HAM-D17 was administered, derive HAM-D6 from it (items 1, 2, 7, 8, 10, 13)."),
    ),
)
