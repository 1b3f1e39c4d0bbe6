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
