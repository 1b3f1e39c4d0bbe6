from __future__ import annotations

import pytest
from django.apps import apps

from fidelity import scale
from fidelity.models import FidelityRating, GroupMembership, ImrGroup
from tests.factories import api_client, imr_participant, make_imr_group
from trial.audit import event_model, events_of
from trial.models import DatasetLock


def _trial_models() -> list[type]:
    return [
        model
        for model in apps.get_app_config("fidelity").get_models()
        if not model.__name__.endswith("Event")
    ]


@pytest.mark.parametrize("model", _trial_models(), ids=lambda m: m.__name__)
def test_every_model_of_the_app_is_audited_and_respects_freeze_and_lock(model) -> None:
    assert hasattr(model, "pgh_event_model"), f"{model.__name__} is not tracked by pghistory"
    triggers = {trigger.name for trigger in model._meta.triggers}
    assert "refuse_when_locked" in triggers


def test_a_frozen_database_refuses_new_groups_members_and_ratings_with_409(staff) -> None:
    group = make_imr_group("BAL")
    participant = imr_participant("BAL")
    DatasetLock.objects.create(level="freeze", reason="Interim analysis", set_by=staff.statistician)
    created = api_client(staff.coordinator).post(
        "/api/v1/groups/",
        {"site": "BAL", "name": "Late", "start_date": "2026-03-02"},
        format="json",
    )
    member = api_client(staff.coordinator).post(
        f"/api/v1/groups/{group.pk}/members/", {"participant": participant.pk}, format="json"
    )
    rating = api_client(staff.rater1).post(
        "/api/v1/fidelity-ratings/",
        {
            "group": group.pk,
            "timepoint": "end",
            "rater_kind": "rater1",
            "items": {code: 4 for code in scale.ITEM_CODES},
        },
        format="json",
    )
    assert (created.status_code, member.status_code, rating.status_code) == (409, 409, 409)
    assert "frozen" in created.json()["detail"]
    assert ImrGroup.objects.count() == 1
    assert not GroupMembership.objects.exists() and not FidelityRating.objects.exists()


def test_creating_a_group_is_audited_with_the_user_and_the_request(staff) -> None:
    response = api_client(staff.coordinator).post(
        "/api/v1/groups/",
        {
            "site": "BAL",
            "name": "Audited",
            "start_date": "2026-03-02",
            "instructors": [staff.instructor.pk, staff.instructor2.pk],
        },
        format="json",
    )
    group = ImrGroup.objects.get(pk=response.json()["id"])
    event = events_of(group).get(pgh_label="insert")
    assert event.pgh_context["user"] == staff.coordinator.pk
    assert event.pgh_context["url"] == "/api/v1/groups/"
    assert event.pgh_context["reason"] == "IMR group created"
    links = event_model(group.instructor_links.model).objects.filter(group_id=group.pk)
    assert links.count() == 2
