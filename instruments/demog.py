"""DEMOG, baseline demographics (SPEC §12.1; the trial's Table 2). Site, sex and date of birth
are known from the registration (the date of birth from the CPR number), so they are not asked
again: they are derived items, as is the age at randomisation that the exports carry. The date
of birth itself is an identifier and is never exported."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from django.utils.translation import gettext_lazy as _

from instruments.base import (
    BASELINE,
    Action,
    Answers,
    CheckContext,
    Finding,
    Instrument,
    Item,
    Mode,
    levels,
)
from trial.roles import Role

OTHER = 9  # [P] "other (specify)", collapsed for reporting (SPEC §12.1 open points)
SITE_NUMBERS = levels(
    [(1, _("CMHC Ballerup")), (2, _("CMHC Gladsaxe")), (3, _("CMHC Frederiksberg"))]
)
SEXES = levels([(1, _("male")), (2, _("female"))])
DX_GROUPS = levels(
    [(1, _("schizophrenia (ICD-10 F20.x)")), (2, _("bipolar disorder (ICD-10 F31.x)"))]
)
DX_PREFIX = {1: "F20", 2: "F31"}


def age_on(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def derive(participant: Any) -> dict[str, Any]:
    """The derived items for one participant. AGE is the age at randomisation (None before)."""
    randomized_on = participant.randomized_on
    return {
        "SITE": participant.site.number,
        "SEX": 1 if participant.sex == "male" else 2,
        "DOB": participant.date_of_birth.isoformat(),
        "AGE": age_on(participant.date_of_birth, randomized_on) if randomized_on else None,
    }


def check_consistency(answers: Answers, context: CheckContext) -> Iterable[Finding]:
    group, code = answers.values.get("DX_GROUP"), answers.values.get("DX_ICD10")
    if group is not None and code is not None and not str(code).startswith(DX_PREFIX[group]):
        yield Finding(
            "DX_ICD10",
            "dx_group_mismatch",
            str(
                _(
                    "DX_ICD10 %(code)s does not belong to the diagnosis group %(group)s "
                    "(%(prefix)s.x)."
                )
            )
            % {
                "code": code,
                "group": group,
                "prefix": DX_PREFIX[group],
            },
            Action.ERROR,
        )
    screening = (
        context.participant.screenings.order_by("-screened_at", "-id").first()
        if context.participant is not None
        else None
    )
    screened = screening.diagnosis if screening is not None else None
    if group is not None and screened in ("F20", "F31") and DX_PREFIX[group] != screened:
        yield Finding(
            "DX_GROUP",
            "dx_differs_from_screening",
            str(_("DX_GROUP %(prefix)s differs from the screening diagnosis %(screened)s."))
            % {"prefix": DX_PREFIX[group], "screened": screened},
            Action.QUERY,
        )
    if context.participant is not None and context.randomized_on is not None:
        age = age_on(context.participant.date_of_birth, context.randomized_on)
        if age < 18:
            yield Finding(
                "AGE",
                "age_under_18",
                str(_("Age at randomisation is %(age)s: the trial includes adults (18 or over)."))
                % {"age": age},
                Action.QUERY,
            )


INSTRUMENT = Instrument(
    code="DEMOG",
    name=_("Baseline demographics (trial Table 2 variables)"),
    short_name=_("Demographics"),
    mode=Mode.RECORD,
    rater=Role.ASSESSOR,
    entered_by=(Role.ASSESSOR, Role.COORDINATOR),
    rater_description=_("Research staff at the baseline interview, checked against records."),
    timepoints=(BASELINE,),
    derive=derive,
    items=(
        Item(
            "SITE",
            _("Recruiting community mental health centre"),
            min=1,
            max=3,
            options=SITE_NUMBERS,
            derived=True,
            derivation=_("The participant's site at registration."),
        ),
        Item(
            "SEX",
            _("Sex"),
            min=1,
            max=2,
            options=SEXES,
            derived=True,
            derivation=_("Sex recorded at registration."),
        ),
        Item(
            "DOB",
            _("Date of birth"),
            type="date",
            min=None,
            max=None,
            step=None,
            derived=True,
            derivation=_("From the CPR number; an identifier, never exported."),
            exported=False,
        ),
        Item(
            "AGE",
            _("Age at randomisation (years, derived from DOB)"),
            min=18,
            max=None,
            derived=True,
            unit="years",
            derivation=_("Whole years from the date of birth to the date of randomisation."),
        ),
        Item(
            "HOUSING",
            _("Housing"),
            min=1,
            max=OTHER,
            options=levels(
                [
                    (1, _("rented")),
                    (2, _("cooperative (andelsbolig)")),
                    (3, _("owner-occupied")),
                    (4, _("homeless")),
                    (OTHER, _("other (specify)")),
                ]
            ),
            comment_required_for=(OTHER,),
        ),
        Item(
            "EMPLOYMENT",
            _("Employment"),
            min=1,
            max=3,
            options=levels(
                [
                    (1, _("employed")),
                    (2, _("student")),
                    (3, _("unemployed/retired (incl. disability pension)")),
                ]
            ),
        ),
        Item(
            "EDUCATION",
            _("Highest completed education"),
            min=1,
            max=4,
            options=levels(
                [
                    (1, _("public school (folkeskole)")),
                    (2, _("high school (upper secondary)")),
                    (3, _("vocational training")),
                    (4, _("university/higher education")),
                ]
            ),
        ),
        Item(
            "LIVING",
            _("Living status"),
            min=1,
            max=OTHER,
            options=levels(
                [
                    (1, _("alone")),
                    (2, _("with spouse and/or children")),
                    (OTHER, _("other (specify), e.g. with parents")),
                ]
            ),
            comment_required_for=(OTHER,),
        ),
        Item("DX_GROUP", _("Diagnosis group"), min=1, max=2, options=DX_GROUPS),
        Item(
            "DX_ICD10",
            _("Full ICD-10 code (F20.x or F31.x)"),
            type="text",
            min=None,
            max=None,
            step=None,
            pattern=r"F(20|31)(\.[0-9]{1,2})?",
            pattern_text=_("an ICD-10 code F20, F20.x, F31 or F31.x (e.g. F20.0, F31.31)"),
        ),
        Item(
            "SUBSTANCE",
            _("Alcohol/drug abuse"),
            min=0,
            max=1,
            options=levels([(0, _("no")), (1, _("yes"))]),
        ),
    ),
    scores=(),
    missing_rule=_(
        "Required at baseline; no imputation. Categories outside Table 2 use “other (specify)” "
        "[proposed], collapsed for reporting."
    ),
    notes=(_("The definition of alcohol/drug abuse (current vs lifetime) is unconfirmed."),),
    checks=(check_consistency,),
)
