from __future__ import annotations

from assessments.selectors import baseline_missing
from participants.contributions import fields_for
from participants.models import Status
from tests.factories import allocate, complete_baseline, make_participant, make_staff
from trial.roles import Role


def test_allocate_binds_an_arm_that_only_unblinded_users_see(sites: dict) -> None:
    participant = make_participant("GLA")
    allocate(participant, "IMR")
    assert participant.status == Status.RANDOMIZED
    coordinator = make_staff("c", Role.COORDINATOR, sites=["GLA"])
    assessor = make_staff("a", Role.ASSESSOR, sites=["GLA"])
    assert fields_for(participant, coordinator)["arm"] == "IMR"
    assert "arm" not in fields_for(participant, assessor)
    assert fields_for(participant, assessor)["randomized_at"] == participant.randomized_at


def test_complete_baseline_satisfies_the_randomization_requirement(sites: dict) -> None:
    participant = make_participant("FRB")
    assert baseline_missing(participant) == ["DEMOG", "GAF", "PSP", "PANSS", "HAMD6", "YMRS"]
    complete_baseline(participant)
    assert baseline_missing(participant) == []


def test_allocate_dates_a_randomization_in_the_past_without_lifting_the_immutability_trigger(
    sites: dict,
) -> None:
    from datetime import timedelta

    import pytest
    from django.db import DatabaseError, transaction
    from django.utils import timezone

    from randomization.models import Allocation

    earlier = timezone.now() - timedelta(days=300)
    allocation = allocate(make_participant("BAL"), "TAU", randomized_at=earlier)
    assert Allocation.objects.get(pk=allocation.pk).randomized_at == earlier
    # The trigger still refuses any change to the allocation afterwards.
    with pytest.raises(DatabaseError), transaction.atomic():
        Allocation.objects.filter(pk=allocation.pk).update(randomized_at=timezone.now())


def test_no_test_sets_a_trial_integrity_trigger_aside() -> None:
    """Tests build their data the way the trial does (tests.factories.allocate takes
    `randomized_at=`): none switches off an immutability, append-only or lock trigger."""
    from pathlib import Path

    tests = Path(__file__).resolve().parents[1]
    offenders = [
        str(path.relative_to(tests))
        for path in tests.rglob("*.py")
        if path != Path(__file__).resolve() and "pgtrigger.ignore(" in path.read_text()
    ]
    assert offenders == []
