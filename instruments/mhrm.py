"""MHRM, Mental Health Recovery Measure (SPEC §7): 30 items 0–4, total 0–120 and eight
subscales (item blocks inferred in the spec: verify before reporting)."""

from __future__ import annotations

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from instruments.base import (
    ALL_TIMEPOINTS,
    Instrument,
    Mode,
    Score,
    levels,
    numbered,
    prorated,
    sum_of,
)
from trial.roles import Role

AGREEMENT = levels(
    [
        (0, _("strongly disagree")),
        (1, _("disagree")),
        (2, _("not sure/neutral")),
        (3, _("agree")),
        (4, _("strongly agree")),
    ]
)
ITEMS = numbered(
    [
        ("MHRM_1", _("Working hard at recovery")),
        ("MHRM_2", _("Things improving despite hard days")),
        ("MHRM_3", _("Asking for help when unwell")),
        ("MHRM_4", _("Taking risks to move forward")),
        ("MHRM_5", _("Believing in self")),
        ("MHRM_6", _("Control over mental health problems")),
        ("MHRM_7", _("In control of own life")),
        ("MHRM_8", _("Socialising and making friends")),
        ("MHRM_9", _("Each day a chance to learn")),
        ("MHRM_10", _("Growing despite problems")),
        ("MHRM_11", _("Valuing self as a person")),
        ("MHRM_12", _("Understanding self")),
        ("MHRM_13", _("Eating nutritious meals")),
        ("MHRM_14", _("Enjoyable activities weekly")),
        ("MHRM_15", _("Effort to know other people")),
        ("MHRM_16", _("Comfortable with prescribed medication")),
        ("MHRM_17", _("Feeling good about self")),
        ("MHRM_18", _("Thinking helps reach goals")),
        ("MHRM_19", _("Life is fairly normal")),
        ("MHRM_20", _("At peace with self")),
        ("MHRM_21", _("Positive attitude for weeks")),
        ("MHRM_22", _("Quality of life will improve")),
        ("MHRM_23", _("Doing something productive daily")),
        ("MHRM_24", _("Progress towards goals")),
        ("MHRM_25", _("Faith/spirituality helps when low")),
        ("MHRM_26", _("Faith/spirituality supports recovery")),
        ("MHRM_27", _("Advocating for rights")),
        ("MHRM_28", _("Enriching work or activities")),
        ("MHRM_29", _("Coping with stigma")),
        ("MHRM_30", _("Money for enriching extras")),
    ],
    type="integer",
    min=0,
    max=4,
    options=AGREEMENT,
)
CODES = tuple(item.code for item in ITEMS)
SPIRITUALITY = ("MHRM_25", "MHRM_26")

# (code, label, first item, last item): consecutive blocks as the spec infers them.
SUBSCALES = (
    ("MHRM_STUCK", _("Overcoming stuckness"), 1, 4),
    ("MHRM_EMPOW", _("Self-empowerment"), 5, 8),
    ("MHRM_LEARN", _("Learning and self-redefinition"), 9, 12),
    ("MHRM_BASIC", _("Basic functioning"), 13, 16),
    ("MHRM_WELLB", _("Overall well-being"), 17, 20),
    ("MHRM_NEWPOT", _("New potentials"), 21, 24),
    ("MHRM_SPIRIT", _("Spirituality"), 25, 26),
    ("MHRM_ADVOC", _("Advocacy/enrichment"), 27, 30),
)


def _subscale(code: str, label: object, first: int, last: int) -> Score:
    items = tuple(f"MHRM_{n}" for n in range(first, last + 1))
    return Score(
        code,
        format_lazy(_("{label} (subscale; item block inferred, verify)"), label=label),
        items,
        "sum",
        0,
        4 * len(items),
        "better",
        format_lazy(
            _("Sum of items {first}–{last}; missing if any of them is missing."),
            first=first,
            last=last,
        ),
        sum_of(items),
    )


INSTRUMENT = Instrument(
    code="MHRM",
    name=_("Mental Health Recovery Measure (Young & Bullock 2003), 30-item version"),
    short_name=_("MHRM"),
    mode=Mode.SELF_REPORT,
    rater=Role.ASSESSOR,
    entered_by=(Role.ASSESSOR,),
    rater_description=_("Self-report by the participant; entered by the blinded assessor."),
    timepoints=ALL_TIMEPOINTS,
    items=ITEMS,
    scores=(
        Score(
            "MHRM_TOTAL",
            _("MHRM total"),
            CODES,
            "sum",
            0,
            120,
            "better",
            _("Sum of items 1–30 scored 0–4; missing if any item is missing."),
            sum_of(CODES),
        ),
        *(_subscale(*block) for block in SUBSCALES),
        Score(
            "MHRM_TOTAL_PRO",
            _("MHRM total, prorated (sensitivity)"),
            CODES,
            "prorated",
            0,
            120,
            "better",
            _(
                "Sensitivity: mean of the answered items × 30 when at most 3 items are "
                "missing; rounded to 2 decimals."
            ),
            prorated(CODES, max_missing=3),
            sensitivity=True,
            decimals=2,
        ),
    ),
    missing_rule=_(
        "Primary: the total is missing if any item is missing; a subscale is missing if any of "
        "its items is missing. Sensitivity MHRM_TOTAL_PRO = mean × 30 when at most 3 items are "
        "missing. Skipping of the two spirituality items is monitored."
    ),
    notes=(
        _("Authors' scoring: items 0–4, total 0–120. A 1–5 coding gives 30–150."),
        _("Item labels are paraphrased short names; the wording is copyrighted."),
    ),
)
