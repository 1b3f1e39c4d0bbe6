"""The trial's eligibility criteria (protocol; instruments/SPEC.md §12.2) as data, so the
screening form, the API and the CONSORT counts all use the same wording."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

if TYPE_CHECKING:
    # The type Django's form fields take for a label (plain or lazy text).
    from django_stubs_ext import StrOrPromise

ANSWER_FIELDS = (
    "diagnosis",
    "pse_confirmed",
    "age_18_or_over",
    "danish_fluent",
    "guardian_or_forensic",
    "dementia_or_intellectual_disability",
    "active_substance_use_disorder",
    "community_residential_home",
    "in_psychoeducation_course",
)


@dataclass(frozen=True)
class Criterion:
    field: str
    question: StrOrPromise
    required_answer: bool  # inclusion criteria need True, exclusion criteria need False
    # Shown when the answer excludes the person; kept in English with the screening and shown
    # in the reader's language (the `translated` filter).
    reason: str


CRITERIA: tuple[Criterion, ...] = (
    Criterion(
        "pse_confirmed",
        _("Diagnosis verified by a PSE/SCAN interview"),
        True,
        gettext_noop("The diagnosis has not been verified by a PSE/SCAN interview."),
    ),
    Criterion("age_18_or_over", _("Aged 18 or over"), True, gettext_noop("Younger than 18.")),
    Criterion(
        "danish_fluent",
        _("Speaks and understands Danish well enough to take part in IMR"),
        True,
        gettext_noop("Does not speak and understand Danish well enough to take part."),
    ),
    Criterion(
        "guardian_or_forensic",
        _("Has a guardian or a forensic psychiatric arrangement"),
        False,
        gettext_noop("Has a guardian or a forensic psychiatric arrangement."),
    ),
    Criterion(
        "dementia_or_intellectual_disability",
        _("Dementia or intellectual disability (ICD-10 F00–F03, F70–F79)"),
        False,
        gettext_noop("Has dementia or an intellectual disability."),
    ),
    Criterion(
        "active_substance_use_disorder",
        _("Active substance use disorder"),
        False,
        gettext_noop("Has an active substance use disorder (re-screen when it is controlled)."),
    ),
    Criterion(
        "community_residential_home",
        _("Lives in a community residential home"),
        False,
        gettext_noop("Lives in a community residential home."),
    ),
    Criterion(
        "in_psychoeducation_course",
        _("Currently in a psychoeducational course"),
        False,
        gettext_noop("Is currently in a psychoeducational course (re-screen after it ends)."),
    ),
)

DIAGNOSIS_REASON = gettext_noop(
    "The diagnosis is neither schizophrenia (F20) nor bipolar disorder (F31)."
)


def assess(answers: dict[str, object]) -> list[str]:
    """Reasons for exclusion, in words; an empty list means eligible."""
    reasons = []
    if answers["diagnosis"] not in ("F20", "F31"):
        reasons.append(DIAGNOSIS_REASON)
    for criterion in CRITERIA:
        if bool(answers[criterion.field]) != criterion.required_answer:
            reasons.append(criterion.reason)
    return reasons
