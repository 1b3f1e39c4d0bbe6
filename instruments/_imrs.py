"""The two IMR Scale versions (SPEC §6) share their items and scoring; `imrs_p` and `imrs_c`
each build their instrument here. Item 13 "not applicable" (no medication prescribed) is a
structural answer, not missing data."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from instruments.base import (
    ALL_TIMEPOINTS,
    Answers,
    Instrument,
    Item,
    Number,
    Score,
    as_json_number,
    levels,
    mean_of,
    sum_of,
    with_guidance,
)

LABELS = (
    _("Progress towards personal goals"),
    _("Knowledge about illness and treatment"),
    _("Involvement of family and friends in treatment"),
    _("Contact with people outside the family"),
    _("Time in structured roles"),
    _("Symptom distress"),
    _("Impairment of functioning"),
    _("Relapse prevention planning"),
    _("Relapse of symptoms"),
    _("Psychiatric hospitalisations"),
    _("Coping"),
    _("Involvement with self-help activities"),
    _("Using medication effectively"),
    _("Functioning affected by alcohol use"),
    _("Functioning affected by drug use"),
)
OPTIONS = levels(
    [
        (1, _("1 (least favourable)")),
        (2, "2"),
        (3, "3"),
        (4, "4"),
        (5, _("5 (most favourable)")),
    ]
)
MEDICATION_ITEM = 13

# Item n (1–15): what it rates and a short anchor per value, paraphrased from the SAMHSA
# toolkit's scale (the same for both versions; "the person" is the participant).
GUIDANCE: dict[int, tuple[Any, dict[int, Any]]] = {
    1: (
        _("Progress in the last 3 months towards goals the person chose for recovery."),
        {
            1: _("no goals"),
            2: _("goals, no action yet"),
            3: _("a little way"),
            4: _("a fair way"),
            5: _("goals reached"),
        },
    ),
    2: (
        _("How much the person knows about their illness and its treatment."),
        {
            1: _("not very much"),
            2: _("a little"),
            3: _("some"),
            4: _("quite a bit"),
            5: _("a great deal"),
        },
    ),
    3: (
        _("How involved family and friends are in the person's mental health treatment."),
        {
            1: _("not at all"),
            2: _("only in a crisis"),
            3: _("sometimes"),
            4: _("much of the time"),
            5: _("a lot, and it helps"),
        },
    ),
    4: (
        _("Contact with people outside the family (e.g. friends, co-workers) in a normal week."),
        {
            1: _("none"),
            2: _("once a week or less"),
            3: _("2–3 times a week"),
            4: _("4–6 times a week"),
            5: _("daily"),
        },
    ),
    5: (
        _("Time spent in work, school, volunteering, parenting or homemaking."),
        {
            1: _("two hours a week or less"),
            2: _("3–5 hours a week"),
            3: _("6–15 hours a week"),
            4: _("16–30 hours a week"),
            5: _("more than 30 hours a week"),
        },
    ),
    6: (
        _("How much the symptoms bothered the person in the last month."),
        {
            1: _("very much"),
            2: _("quite a bit"),
            3: _("some"),
            4: _("a little"),
            5: _("not at all"),
        },
    ),
    7: (
        _("How much the symptoms got in the way of daily activities in the last month."),
        {
            1: _("very much"),
            2: _("quite a bit"),
            3: _("some"),
            4: _("a little"),
            5: _("not at all"),
        },
    ),
    8: (
        _("Whether the person has a plan to prevent relapses and uses it."),
        {
            1: _("no plan"),
            2: _("an idea, nothing written"),
            3: _("a few steps known"),
            4: _("a plan shared with others"),
            5: _("a detailed plan, shared and used"),
        },
    ),
    9: (
        _("When the person last had a relapse (symptoms much worse)."),
        {
            1: _("within the last month"),
            2: _("1–2 months ago"),
            3: _("3–5 months ago"),
            4: _("6–12 months ago"),
            5: _("more than a year ago"),
        },
    ),
    10: (
        _("When the person was last in a psychiatric hospital."),
        {
            1: _("within the last month"),
            2: _("1–2 months ago"),
            3: _("3–5 months ago"),
            4: _("6–12 months ago"),
            5: _("more than a year ago, or never"),
        },
    ),
    11: (
        _("How well the person copes with the illness from day to day."),
        {
            1: _("not well at all"),
            2: _("not very well"),
            3: _("alright"),
            4: _("well"),
            5: _("very well"),
        },
    ),
    12: (
        _("Involvement in self-help activities (groups, peer support, recovery programmes)."),
        {
            1: _("does not know any"),
            2: _("knows some, not interested"),
            3: _("interested, not involved yet"),
            4: _("involved now and then"),
            5: _("involved regularly"),
        },
    ),
    13: (
        _("How often the person takes medication as prescribed (not applicable: none)."),
        {
            1: _("never"),
            2: _("occasionally"),
            3: _("about half the time"),
            4: _("most of the time"),
            5: _("every day"),
        },
    ),
    14: (
        _("How often alcohol use got in the way of functioning in the last 3 months."),
        {
            1: _("alcohol use is a serious problem"),
            2: _("several times"),
            3: _("a couple of times"),
            4: _("once"),
            5: _("not at all"),
        },
    ),
    15: (
        _("How often drug use got in the way of functioning in the last 3 months."),
        {
            1: _("drug use is a serious problem"),
            2: _("several times"),
            3: _("a couple of times"),
            4: _("once"),
            5: _("not at all"),
        },
    ),
}


def build(
    *,
    code: str,
    name: Any,
    short_name: Any,
    mode: str,
    rater: str,
    blinded_readable: bool,
    rater_description: Any,
) -> Instrument:
    codes = tuple(f"{code}_{n}" for n in range(1, 16))
    medication = f"{code}_{MEDICATION_ITEM}"
    others = tuple(c for c in codes if c != medication)
    items = tuple(
        Item(
            item_code,
            label,
            min=1,
            max=5,
            options=OPTIONS,
            na_structural=item_code == medication,
            na_label=_("not applicable: no medication prescribed")
            if item_code == medication
            else "",
            help_text=(
                _("Choose the reason “not applicable” when no medication is prescribed.")
                if item_code == medication
                else ""
            ),
        )
        for item_code, label in zip(codes, LABELS, strict=True)
    )
    items = with_guidance(items, {f"{code}_{n}": guidance for n, guidance in GUIDANCE.items()})

    def total_pro(answers: Answers) -> Number | None:
        if all(c in answers.values for c in codes):
            return as_json_number(sum(Fraction(str(v)) for v in answers.answered(codes)), 2)
        if medication in answers.structural_na and all(c in answers.values for c in others):
            rated = [Fraction(str(v)) for v in answers.answered(others)]
            return as_json_number(sum(rated, Fraction(0)) / len(rated) * 15, 2)
        return None

    def mean_pro(answers: Answers) -> Number | None:
        if answers.missing_count(codes) > 1:
            return None
        rated = [Fraction(str(v)) for v in answers.answered(codes)]
        if not rated:
            return None
        return as_json_number(sum(rated, Fraction(0)) / len(rated), 3)

    def medication_na(answers: Answers) -> Number | None:
        if medication in answers.structural_na:
            return 1
        return 0 if medication in answers.values else None

    return Instrument(
        code=code,
        name=name,
        short_name=short_name,
        mode=mode,
        rater=rater,
        entered_by=(rater,),
        rater_description=rater_description,
        reference_period=_("Several items refer to the past 3 months."),
        timepoints=ALL_TIMEPOINTS,
        blinded_readable=blinded_readable,
        items=items,
        scores=(
            Score(
                f"{code}_TOTAL",
                _("IMRS total (sum)"),
                codes,
                "sum",
                15,
                75,
                "better",
                _("Sum of the 15 items; only when all 15 are answered (item 13 N/A: missing)."),
                sum_of(codes),
            ),
            Score(
                f"{code}_MEAN",
                _("IMRS mean item score"),
                codes,
                "mean",
                1,
                5,
                "better",
                _(
                    "Mean of the applicable items when all are answered (over 14 when item 13 "
                    "is not applicable); rounded to 3 decimals."
                ),
                mean_of(codes, decimals=3),
                decimals=3,
            ),
            Score(
                f"{code}_TOTAL_PRO",
                _("IMRS total, prorated for item 13 not applicable (sensitivity)"),
                codes,
                "prorated",
                15,
                75,
                "better",
                format_lazy(
                    _(
                        "Equals {total} when all 15 items are answered; when only item 13 is not "
                        "applicable, mean of the other 14 × 15 (flagged by {flag}); otherwise "
                        "missing. Rounded to 2 decimals."
                    ),
                    total=f"{code}_TOTAL",
                    flag=f"{code}_MED_NA",
                ),
                total_pro,
                sensitivity=True,
                decimals=2,
            ),
            Score(
                f"{code}_MEAN_PRO",
                _("IMRS mean over answered applicable items (sensitivity)"),
                codes,
                "prorated",
                1,
                5,
                "better",
                _(
                    "Mean of the answered applicable items when at most 1 applicable item is "
                    "missing; rounded to 3 decimals."
                ),
                mean_pro,
                sensitivity=True,
                decimals=3,
            ),
            Score(
                f"{code}_MED_NA",
                _("Item 13 not applicable (no medication prescribed)"),
                (medication,),
                "indicator",
                0,
                1,
                "n/a",
                _("1 if item 13 is not applicable, 0 if it is answered, missing otherwise."),
                medication_na,
                options=levels([(0, _("no")), (1, _("yes"))]),
            ),
        ),
        missing_rule=_(
            "Item 13 = not applicable (no medication prescribed) is structural, not missing. "
            "The total only when all 15 items are answered. If only item 13 is not applicable: "
            "_TOTAL_PRO = mean of the 14 × 15 (flagged) and the mean over the 14. Any other "
            "missing item makes the total missing; _MEAN_PRO (mean over answered applicable "
            "items) is a sensitivity score when at most 1 applicable item is missing."
        ),
        notes=(
            _("No reverse-scored items: 1 = least favourable, 5 = most favourable."),
            _(
                "Three-factor subscales are reported in the literature but their item lists are "
                "not confirmed; they are not computed."
            ),
        ),
    )
