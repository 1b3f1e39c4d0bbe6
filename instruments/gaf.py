"""GAF, split version (SPEC §1): symptoms (GAF-S) and functioning (GAF-F), each 1–100.
GAF-F at the post-intervention interview is the trial's primary outcome."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from instruments.base import (
    ALL_TIMEPOINTS,
    Answers,
    Instrument,
    Item,
    Mode,
    Number,
    Score,
    entered,
)
from trial.roles import Role

GAF_BAND: dict[str, Any] = dict(
    type="integer",
    min=1,
    max=100,
    step=1,
    help_text=_(
        "DSM-IV GAF continuum 1–100. Inadequate information (DSM-IV code 0) is not a score: "
        "leave the value empty and choose the reason “insufficient information”."
    ),
)


def _gaf_min(answers: Answers) -> Number | None:
    symptoms, functioning = answers.values.get("GAF_S"), answers.values.get("GAF_F")
    if symptoms is None or functioning is None:
        return None
    return min(symptoms, functioning)


INSTRUMENT = Instrument(
    code="GAF",
    name=_("Global Assessment of Functioning, split version (GAF-S symptoms, GAF-F functioning)"),
    short_name=_("GAF"),
    mode=Mode.INTERVIEW,
    rater=Role.ASSESSOR,
    entered_by=(Role.ASSESSOR,),
    rater_description=_("Blinded research assessor; interview plus all available information."),
    reference_period=_("Fixed in the rater manual (DSM-IV default: the current period)."),
    timepoints=ALL_TIMEPOINTS,
    items=(
        Item("GAF_S", _("GAF symptom score"), **GAF_BAND),
        Item("GAF_F", _("GAF functioning score"), **GAF_BAND),
    ),
    scores=(
        Score(
            "GAF_S",
            _("GAF-S (symptoms)"),
            ("GAF_S",),
            "entered",
            1,
            100,
            "better",
            _("The rated GAF-S value."),
            entered("GAF_S"),
        ),
        Score(
            "GAF_F",
            _("GAF-F (functioning); trial primary outcome"),
            ("GAF_F",),
            "entered",
            1,
            100,
            "better",
            _("The rated GAF-F value."),
            entered("GAF_F"),
        ),
        Score(
            "GAF_MIN",
            _("Conventional single GAF: the lower of GAF-S and GAF-F"),
            ("GAF_S", "GAF_F"),
            "min",
            1,
            100,
            "better",
            _("min(GAF_S, GAF_F); missing unless both are rated."),
            _gaf_min,
        ),
    ),
    missing_rule=_(
        "Single-item ratings: no imputation or prorating. DSM-IV code 0 (inadequate "
        "information) is stored as missing with reason “insufficient information”. GAF_MIN only "
        "when both items are present."
    ),
    notes=(_("Integer entry only; GAF-S and GAF-F are rated independently on the same anchors."),),
)
