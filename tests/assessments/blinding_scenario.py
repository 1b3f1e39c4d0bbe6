"""Assessment data that differs by arm, for the assessor-blinding walk
(tests/randomization/test_assessor_blinding.py). In the trial the participant's own clinician
rates the IMR Scale staff version (IMRS_C) in both arms, knowing the arm: IMR participants
score higher on the items IMR targets, and the clinician's reasons for a correction may name
the group. Blinded users may see that the form exists, not its values or reasons; queries on
it (raised by a data manager, answered by the clinician, and the automatic window query) are
the same in both arms. The walk proves that no blinded page or endpoint differs."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from assessments import services
from tests.assessments.helpers import extreme_items
from tests.factories import make_staff
from trial.roles import Role

# What the clinician writes differs by arm; blinded viewers must never see it.
REASONS = {
    "IMR": "Corrected after the IMR group's relapse-prevention session",
    "TAU": "Corrected after the case conference",
}


def _staff(username: str, role: str, sites: list[str] | None = None) -> Any:
    found = get_user_model().objects.filter(username=username).first()
    return found or make_staff(username, role, sites=sites)


def arm_specific_data(participant: Any, arm: str) -> None:
    clinician = _staff("scenario-clinician", Role.CLINICIAN, sites=[participant.site.code])
    data_manager = _staff("scenario-data-manager", Role.DATA_MANAGER)
    today = timezone.localdate()
    values = extreme_items("IMRS_C", "max" if arm == "IMR" else "min")
    changed = extreme_items("IMRS_C", "min" if arm == "IMR" else "max")
    for timepoint in ("baseline", "post"):
        # At post the interview is before the window opens: an automatic query in both arms.
        first = services.response_save(
            user=clinician,
            participant=participant,
            timepoint=timepoint,
            code="IMRS_C",
            items=values,
            status="complete",
            interview_date=today,
        ).response
    services.response_save(
        user=clinician,
        participant=participant,
        timepoint="post",
        code="IMRS_C",
        items=changed,
        status="complete",
        version=first.version,
        reason=REASONS[arm],
    )
    query = services.query_raise(
        user=data_manager,
        response=first,
        item="interview_date",
        message="Please confirm the interview date against the clinic record.",
    )
    services.query_answer(user=clinician, query=query, text="Confirmed against the clinic record.")
