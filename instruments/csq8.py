"""CSQ-8, Client Satisfaction Questionnaire (SPEC §9): eight items 1–4, total 8–32, at
post-intervention and follow-up only. The printed value is stored: items 1, 3, 6 and 7 are
printed from 4 down to 1, and the form shows them in that order, but nothing is recoded."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from instruments.base import (
    FOLLOWUP,
    POST,
    Instrument,
    Item,
    Mode,
    Score,
    levels,
    prorated,
    sum_of,
)
from trial.roles import Role

OPTIONS = levels(
    [
        (1, _("1 (least favourable)")),
        (2, "2"),
        (3, "3"),
        (4, _("4 (most favourable)")),
    ]
)
LABELS = (
    (_("Quality of service"), True),
    (_("Got the kind of service wanted"), False),
    (_("Extent needs were met"), True),
    (_("Would recommend to a friend"), False),
    (_("Satisfied with amount of help"), False),
    (_("Helped deal with problems"), True),
    (_("Overall satisfaction"), True),
    (_("Would come back"), False),
)
ITEMS = tuple(
    Item(f"CSQ8_{n}", label, min=1, max=4, options=OPTIONS, layout_descending=descending)
    for n, (label, descending) in enumerate(LABELS, start=1)
)
CODES = tuple(item.code for item in ITEMS)

INSTRUMENT = Instrument(
    code="CSQ8",
    name=_("Client Satisfaction Questionnaire, 8-item (Larsen, Attkisson et al. 1979)"),
    short_name=_("CSQ-8"),
    mode=Mode.SELF_REPORT,
    rater=Role.ASSESSOR,
    entered_by=(Role.ASSESSOR,),
    rater_description=_("Self-report by the participant; entered by the blinded assessor."),
    timepoints=(POST, FOLLOWUP),
    items=ITEMS,
    scores=(
        Score(
            "CSQ8_TOTAL",
            _("CSQ-8 total"),
            CODES,
            "sum",
            8,
            32,
            "better",
            _("Sum of the printed values of the 8 items; missing if any item is missing."),
            sum_of(CODES),
        ),
        Score(
            "CSQ8_TOTAL_PRO",
            _("CSQ-8 total, prorated (sensitivity)"),
            CODES,
            "prorated",
            8,
            32,
            "better",
            _(
                "Sensitivity: equals CSQ8_TOTAL when all items are answered; mean of the 7 "
                "answered items × 8 when exactly one is missing; rounded to 2 decimals."
            ),
            prorated(CODES, max_missing=1),
            sensitivity=True,
            decimals=2,
        ),
    ),
    missing_rule=_(
        "Primary: the total is missing if any item is missing. Sensitivity CSQ8_TOTAL_PRO = "
        "mean × 8 when exactly one item is missing."
    ),
    notes=(
        _("Store the printed value (4 = most favourable) and sum; no recoding."),
        _("Specify which service is rated (IMR group vs usual care) in both arms."),
    ),
)
