"""The trial's eligibility criteria (protocol; instruments/SPEC.md §12.2) as data, so the
screening form, the API and the CONSORT counts all use the same wording."""

from __future__ import annotations

from dataclasses import dataclass

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
    question: str
    required_answer: bool  # inclusion criteria need True, exclusion criteria need False
    reason: str  # shown when the answer excludes the person


CRITERIA: tuple[Criterion, ...] = (
    Criterion(
        "pse_confirmed",
        "Diagnosis verified by a PSE/SCAN interview",
        True,
        "The diagnosis has not been verified by a PSE/SCAN interview.",
    ),
    Criterion("age_18_or_over", "Aged 18 or over", True, "Younger than 18."),
    Criterion(
        "danish_fluent",
        "Speaks and understands Danish well enough to take part in IMR",
        True,
        "Does not speak and understand Danish well enough to take part.",
    ),
    Criterion(
        "guardian_or_forensic",
        "Has a guardian or a forensic psychiatric arrangement",
        False,
        "Has a guardian or a forensic psychiatric arrangement.",
    ),
    Criterion(
        "dementia_or_intellectual_disability",
        "Dementia or intellectual disability (ICD-10 F00–F03, F70–F79)",
        False,
        "Has dementia or an intellectual disability.",
    ),
    Criterion(
        "active_substance_use_disorder",
        "Active substance use disorder",
        False,
        "Has an active substance use disorder (re-screen when it is controlled).",
    ),
    Criterion(
        "community_residential_home",
        "Lives in a community residential home",
        False,
        "Lives in a community residential home.",
    ),
    Criterion(
        "in_psychoeducation_course",
        "Currently in a psychoeducational course",
        False,
        "Is currently in a psychoeducational course (re-screen after it ends).",
    ),
)

DIAGNOSIS_REASON = "The diagnosis is neither schizophrenia (F20) nor bipolar disorder (F31)."


def assess(answers: dict[str, object]) -> list[str]:
    """Reasons for exclusion, in words; an empty list means eligible."""
    reasons = []
    if answers["diagnosis"] not in ("F20", "F31"):
        reasons.append(DIAGNOSIS_REASON)
    for criterion in CRITERIA:
        if bool(answers[criterion.field]) != criterion.required_answer:
            reasons.append(criterion.reason)
    return reasons
