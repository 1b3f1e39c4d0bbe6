"""An allocation, its slot and its list can never be changed or deleted: PostgreSQL refuses,
whatever the path (ORM, bulk update, raw SQL)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction

from randomization.models import Allocation, AllocationList, AllocationSlot
from tests.factories import api_client, coordinator_for
from tests.randomization.conftest import ready_participant
from trial.errors import IMMUTABLE_SQLSTATE, sqlstate_of


@pytest.fixture
def allocation(lists: list) -> Allocation:
    participant = ready_participant("BAL")
    response = api_client(coordinator_for("BAL")).post(
        f"/api/v1/participants/{participant.pk}/randomize/", {}, format="json"
    )
    assert response.status_code == 201
    return Allocation.objects.get(participant=participant)


def refused(action: Any) -> None:
    with pytest.raises(DatabaseError) as caught, transaction.atomic():
        action()
    assert sqlstate_of(caught.value) == IMMUTABLE_SQLSTATE


def raw(sql: str, params: list[Any]) -> Any:
    def run() -> None:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)

    return run


def other(arm: str) -> str:
    return "TAU" if arm == "IMR" else "IMR"


def test_an_allocation_cannot_be_changed_or_deleted_through_the_orm(allocation: Allocation) -> None:
    allocation.arm = other(allocation.arm)
    refused(allocation.save)
    refused(lambda: Allocation.objects.filter(pk=allocation.pk).update(arm="TAU"))
    refused(lambda: Allocation.objects.filter(pk=allocation.pk).delete())
    assert Allocation.objects.get(pk=allocation.pk).arm == other(allocation.arm)


def test_an_allocation_cannot_be_changed_or_deleted_with_raw_sql(allocation: Allocation) -> None:
    arm = allocation.arm
    refused(
        raw(
            "UPDATE randomization_allocation SET arm = %s WHERE id = %s",
            [other(arm), allocation.pk],
        )
    )
    refused(
        raw(
            "UPDATE randomization_allocation SET participant_id = participant_id WHERE id = %s",
            [allocation.pk],
        )
    )
    refused(raw("DELETE FROM randomization_allocation WHERE id = %s", [allocation.pk]))
    refused(raw("DELETE FROM randomization_allocation", []))
    allocation.refresh_from_db()
    assert allocation.arm == arm


def test_slots_and_lists_cannot_be_changed_or_deleted(allocation: Allocation) -> None:
    slot = allocation.slot
    refused(
        raw("UPDATE randomization_allocationslot SET arm_sealed = 'x' WHERE id = %s", [slot.pk])
    )
    refused(raw("DELETE FROM randomization_allocationslot WHERE id = %s", [slot.pk]))
    refused(lambda: AllocationSlot.objects.filter(site=slot.site).update(block_size=6))
    allocation_list = slot.allocation_list
    refused(
        raw(
            "UPDATE randomization_allocationlist SET sha256 = 'x' WHERE id = %s",
            [allocation_list.pk],
        )
    )
    refused(raw("DELETE FROM randomization_allocationlist WHERE id = %s", [allocation_list.pk]))
    refused(lambda: AllocationList.objects.filter(pk=allocation_list.pk).update(length=1))


def test_the_refusal_reaches_the_api_as_409_not_a_server_error(allocation: Allocation) -> None:
    from trial.api import exception_handler

    with pytest.raises(DatabaseError) as caught, transaction.atomic():
        Allocation.objects.filter(pk=allocation.pk).update(arm="TAU")
    response = exception_handler(caught.value, {})
    assert response is not None
    assert response.status_code == 409
    assert "never be changed" in response.data["detail"]
