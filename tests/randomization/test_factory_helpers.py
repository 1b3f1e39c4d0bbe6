"""The helpers tests/factories.py offers other apps for real randomisations."""

from __future__ import annotations

from participants.models import Status
from tests.factories import complete_baseline, make_allocation_lists, make_participant, randomize


def test_randomize_uses_the_real_service_and_the_concealed_list(sites: dict) -> None:
    make_allocation_lists(per_site=6)
    participant = make_participant("BAL")
    complete_baseline(participant)
    allocation = randomize(participant)
    participant.refresh_from_db()
    assert participant.status == Status.RANDOMIZED
    assert allocation.slot.sequence == 1
    assert allocation.arm in ("IMR", "TAU")
