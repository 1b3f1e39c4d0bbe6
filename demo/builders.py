"""Builders shared by the demo trial, the tests and the benchmarks: the eligible screening
answers, a member of staff with roles, a completed baseline. They live in the demo app (which
no app imports) so that `bench/` needs nothing from `tests/`; tests/factories.py builds on
them."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from assessments.models import InstrumentResponse, ResponseStatus, Timepoint
from assessments.selectors import BASELINE_REQUIRED_FOR_RANDOMIZATION
from participants.models import Participant
from trial.models import RoleAssignment, Site
from trial.roles import SITE_SCOPED_ROLES, Role

# The answers of an eligibility screening that finds a person eligible.
ELIGIBLE_ANSWERS: dict[str, Any] = {
    "diagnosis": "F20",
    "pse_confirmed": True,
    "age_18_or_over": True,
    "danish_fluent": True,
    "guardian_or_forensic": False,
    "dementia_or_intellectual_disability": False,
    "active_substance_use_disorder": False,
    "community_residential_home": False,
    "in_psychoeducation_course": False,
}


def make_staff(username: str, *roles: str, sites: list[str] | None = None) -> Any:
    """A user holding `roles` (no password: tests log in with force_login, benchmarks with a
    token); site-scoped roles at `sites` (None: every site)."""
    user = get_user_model().objects.create(
        username=username,
        is_staff=Role.ADMIN in roles,
        is_superuser=Role.ADMIN in roles,
    )
    user.set_unusable_password()
    user.save()
    site_objs = list(Site.objects.filter(code__in=sites)) if sites else []
    for role in roles:
        if role in SITE_SCOPED_ROLES and site_objs:
            for site in site_objs:
                RoleAssignment.objects.create(user=user, role=role, site=site)
        else:
            RoleAssignment.objects.create(user=user, role=role, site=None)
    return user


def complete_baseline(participant: Participant, *, user: Any | None = None) -> None:
    """Mark the baseline forms that randomisation needs as complete (rows only, no scoring):
    for a randomisable participant without exercising the forms."""
    for code in BASELINE_REQUIRED_FOR_RANDOMIZATION:
        InstrumentResponse.objects.update_or_create(
            participant=participant,
            timepoint=Timepoint.BASELINE,
            instrument=code,
            defaults={
                "status": ResponseStatus.COMPLETE,
                "rater": user,
                "interview_date": timezone.localdate(),
                "first_completed_at": timezone.now(),
            },
        )
