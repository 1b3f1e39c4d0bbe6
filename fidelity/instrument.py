"""The IMR Fidelity Scale (SPEC §10.1, instruments.json `IMR_FID`) as an instrument of
`GET /api/v1/instruments/`, so that clients find the item codes of `POST /api/v1/fidelity-ratings/`
where they find every other instrument's (API.md: "every instrument").

It is built from `fidelity.scale`, the scale's one definition, and is a reference entry only:
ratings belong to IMR groups, not to participants, so it is not in the registry of forms,
datasets and codebook (`registry.all()`); the fidelity app exports and describes its ratings.
The app lists it among the reference instruments of the assessments app
(`instruments.registry.reference_instruments`, from FidelityConfig.ready())."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from fidelity import scale
from fidelity.models import FidelityTimepoint
from instruments.base import Instrument, Item, Score, mean_of, sum_of
from trial.roles import Role

ITEMS = tuple(
    Item(item.code, item.label, min=scale.ITEM_MIN, max=scale.ITEM_MAX, anchors=(1, 5))
    for item in scale.ITEMS
)

INSTRUMENT = Instrument(
    code=scale.INSTRUMENT_CODE,
    name=scale.INSTRUMENT_NAME,
    short_name=_("IMR Fidelity Scale"),
    mode="group_rating",
    rater=Role.FIDELITY_RATER,
    entered_by=(Role.FIDELITY_RATER,),
    rater_description=_(
        "Two fidelity raters independently, then their consensus; per IMR group "
        "(POST /api/v1/fidelity-ratings/), not per participant."
    ),
    # The rating points of a group, not the participants' timepoints.
    timepoints=(),
    windows=tuple(FidelityTimepoint.values),
    items=ITEMS,
    scores=(
        Score(
            "FID_MEAN",
            _("Programme fidelity = mean item score"),
            scale.ITEM_CODES,
            "mean",
            1,
            5,
            "better",
            _("Mean of the 13 items; high ≥ 4.0, moderate 3.0–3.99, low < 3.0."),
            mean_of(scale.ITEM_CODES),
            decimals=2,
        ),
        Score(
            "FID_TOTAL",
            _("Sum of item scores (secondary)"),
            scale.ITEM_CODES,
            "sum",
            13,
            65,
            "better",
            _("Sum of the 13 items."),
            sum_of(scale.ITEM_CODES),
        ),
    ),
    missing_rule=_("All 13 items must be rated; the scale has no 'not applicable'."),
    form_entry=False,
    blinded_readable=True,
)
