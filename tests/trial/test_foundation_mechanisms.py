from __future__ import annotations

import pytest
from django.db import DatabaseError, transaction

from participants.models import Participant
from tests.factories import api_client, make_participant, make_staff
from trial.audit import events_of
from trial.errors import LOCKED_SQLSTATE, sqlstate_of
from trial.models import DatasetLock
from trial.roles import Role


def test_a_registration_over_the_api_is_audited_with_user_and_request(sites: dict) -> None:
    coordinator = make_staff("c1", Role.COORDINATOR, sites=["BAL"])
    response = api_client(coordinator).post(
        "/api/v1/participants/",
        {"site": "BAL", "cpr": "010190-1234", "sex": "female"},
        format="json",
    )
    participant = Participant.objects.get(pk=response.json()["id"])
    event = events_of(participant).get(pgh_label="insert")
    assert event.pgh_context["user"] == coordinator.pk
    assert event.pgh_context["reason"] == "Registration"
    assert event.pgh_context["url"] == "/api/v1/participants/"


def test_a_locked_database_refuses_even_a_raw_bulk_update(sites: dict) -> None:
    participant = make_participant("BAL")
    user = make_staff("dm", Role.DATA_MANAGER)
    DatasetLock.objects.create(level="lock", reason="Final analysis", set_by=user)
    with pytest.raises(DatabaseError) as caught, transaction.atomic():
        Participant.objects.filter(pk=participant.pk).update(sex="male")
    assert sqlstate_of(caught.value) == LOCKED_SQLSTATE


def test_audit_events_cannot_be_changed_or_deleted(sites: dict) -> None:
    participant = make_participant("BAL")
    event = events_of(participant).first()
    assert event is not None
    with pytest.raises(DatabaseError), transaction.atomic():
        type(event).objects.filter(pk=event.pk).update(pgh_label="forged")
    with pytest.raises(DatabaseError), transaction.atomic():
        type(event).objects.filter(pk=event.pk).delete()
