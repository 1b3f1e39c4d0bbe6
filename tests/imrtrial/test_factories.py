from __future__ import annotations

from assessments.selectors import baseline_missing
from imrtrial.roles import Role
from participants.models import Status
from randomization.selectors import allocation_fields
from tests.factories import allocate, complete_baseline, make_participant, make_staff


def test_allocate_binds_an_arm_that_only_unblinded_users_see(sites: dict) -> None:
    participant = make_participant("GLA")
    allocate(participant, "IMR")
    assert participant.status == Status.RANDOMIZED
    coordinator = make_staff("c", Role.COORDINATOR, sites=["GLA"])
    assessor = make_staff("a", Role.ASSESSOR, sites=["GLA"])
    assert allocation_fields(participant, coordinator)["arm"] == "IMR"
    assert "arm" not in allocation_fields(participant, assessor)


def test_complete_baseline_satisfies_the_randomisation_requirement(sites: dict) -> None:
    participant = make_participant("FRB")
    assert baseline_missing(participant) == ["DEMOG", "GAF", "PSP", "PANSS", "HAMD6", "YMRS"]
    complete_baseline(participant)
    assert baseline_missing(participant) == []
