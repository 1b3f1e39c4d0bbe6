"""Two saves based on the same version at the same moment: PostgreSQL's row lock lets one
through; the other gets 409 and nothing is lost."""

from __future__ import annotations

import threading
from typing import Any

from django.db import connections

from assessments import services
from assessments.models import InstrumentResponse
from tests.assessments.helpers import typical_items
from trial.audit import events_of
from trial.errors import Conflict


def test_two_saves_of_the_same_version_give_one_change_and_one_conflict(
    transactional_db: None, assessor: Any, participant: Any
) -> None:
    services.response_save(
        user=assessor,
        participant=participant,
        timepoint="baseline",
        code="PANSS",
        items=typical_items("PANSS"),
        status="draft",
    )
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def save(rating: int) -> None:
        try:
            barrier.wait()
            services.response_save(
                user=assessor,
                participant=participant,
                timepoint="baseline",
                code="PANSS",
                items=typical_items("PANSS") | {"P1": rating},
                status="draft",
                version=1,
            )
            outcomes.append("saved")
        except Conflict:
            outcomes.append("conflict")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=save, args=(r,)) for r in (6, 7)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict", "saved"]
    saved = InstrumentResponse.objects.get()
    assert saved.version == 2
    assert [e.version for e in events_of(saved).order_by("pgh_id")] == [1, 2]


def test_two_simultaneous_first_saves_create_one_form(
    transactional_db: None, assessor: Any, participant: Any
) -> None:
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def create() -> None:
        try:
            barrier.wait()
            services.response_save(
                user=assessor,
                participant=participant,
                timepoint="baseline",
                code="SHS",
                items=typical_items("SHS"),
                status="complete",
            )
            outcomes.append("created")
        except Conflict:
            outcomes.append("conflict")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=create) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict", "created"]
    assert InstrumentResponse.objects.count() == 1
