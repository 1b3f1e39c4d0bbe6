"""IMR delivery for the assessor-blinding walk (tests/randomization/test_assessor_blinding.py):
the IMR participant joins a group that meets weekly, attends today's session (a later session
is planned), and the group has a complete fidelity assessment (two raters and the consensus).
The TAU participant has none of this, as in the trial: the walk proves that no page or
endpoint a blinded user reaches shows any of it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from fidelity import scale
from fidelity import services as fidelity_services
from tests.factories import coordinator_for, make_imr_group, make_staff
from trial.roles import Role


def _staff(username: str, role: str, sites: list[str] | None = None) -> Any:
    found = get_user_model().objects.filter(username=username).first()
    return found or make_staff(username, role, sites=sites)


def arm_specific_data(participant: Any, arm: str) -> None:
    if arm != "IMR":
        return
    site = participant.site.code
    today = timezone.localdate()
    instructors = [
        _staff(f"scenario-instructor-{n}", Role.INSTRUCTOR, sites=[site]) for n in (1, 2)
    ]
    group = make_imr_group(site, name="Scenario group", start_date=today, instructors=instructors)
    fidelity_services.membership_add(
        user=coordinator_for(site), group=group, participant_id=participant.pk
    )
    sessions = fidelity_services.schedule_generate(user=instructors[0], group=group, weeks=4)
    fidelity_services.attendance_record(
        user=instructors[0],
        session=sessions[0],
        present=[participant.pk],
        instructors_present=[u.pk for u in instructors],
    )
    fidelity_services.session_update(
        user=instructors[1], session=sessions[1], module=2, reason="Module 2 moved earlier"
    )
    raters = [_staff(f"scenario-rater-{n}", Role.FIDELITY_RATER) for n in (1, 2)]
    rated = {code: 4 for code in scale.ITEM_CODES}
    for rater, kind in zip(raters, ("rater1", "rater2"), strict=True):
        fidelity_services.rating_submit(
            user=rater,
            group=group,
            timepoint="midway",
            rater_kind=kind,
            items=rated,
            rated_on=today - timedelta(days=1),
        )
    fidelity_services.rating_submit(
        user=raters[0], group=group, timepoint="midway", rater_kind="consensus", items=rated
    )
