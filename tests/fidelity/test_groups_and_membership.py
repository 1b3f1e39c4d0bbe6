from __future__ import annotations

from datetime import date

from fidelity.models import GroupMembership, ImrGroup
from tests.factories import api_client, imr_participant, make_imr_group, make_participant
from trial.audit import event_model


def test_a_coordinator_creates_a_group_with_two_instructors(staff) -> None:
    response = api_client(staff.coordinator).post(
        "/api/v1/groups/",
        {
            "site": "BAL",
            "name": "Tuesday group",
            "start_date": "2026-01-06",
            "instructors": [staff.instructor.pk, staff.instructor2.username],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["site"] == "BAL"
    assert body["start_date"] == "2026-01-06"
    assert body["capacity"] == 10
    assert {i["username"] for i in body["instructors"]} == {"instr-bal", "instr2-bal"}
    assert body["members"] == [] and body["sessions"] == []


def test_a_group_needs_no_instructors_at_creation_but_never_one_or_four(staff) -> None:
    client = api_client(staff.coordinator)
    plain = client.post(
        "/api/v1/groups/", {"site": "BAL", "name": "A", "start_date": "2026-01-06"}, format="json"
    )
    assert plain.status_code == 201
    for instructors in (
        [staff.instructor.pk],
        [staff.instructor.pk, staff.instructor2.pk, staff.instructor3.pk, staff.coordinator.pk],
    ):
        response = client.post(
            "/api/v1/groups/",
            {"site": "BAL", "name": "B", "start_date": "2026-01-06", "instructors": instructors},
            format="json",
        )
        assert response.status_code == 400
        assert "instructors" in response.json()
    assert ImrGroup.objects.count() == 1


def test_an_instructor_of_another_site_cannot_instruct_the_group(staff) -> None:
    response = api_client(staff.coordinator).post(
        "/api/v1/groups/",
        {
            "site": "BAL",
            "name": "A",
            "start_date": "2026-01-06",
            "instructors": [staff.instructor.pk, staff.instructor_gla.pk],
        },
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["instructors"] == ["instr-gla is not an IMR instructor at Ballerup."]


def test_a_coordinator_cannot_create_a_group_at_another_site(staff) -> None:
    response = api_client(staff.coordinator).post(
        "/api/v1/groups/", {"site": "GLA", "name": "A", "start_date": "2026-01-06"}, format="json"
    )
    assert response.status_code == 403
    assert not ImrGroup.objects.exists()


def test_group_names_are_unique_within_a_site(staff) -> None:
    make_imr_group("BAL", name="Monday")
    response = api_client(staff.coordinator).post(
        "/api/v1/groups/",
        {"site": "BAL", "name": "monday", "start_date": "2026-01-06"},
        format="json",
    )
    assert response.status_code == 400
    assert "name" in response.json()


def test_a_participant_randomized_to_imr_at_the_site_joins_the_group(staff) -> None:
    group = make_imr_group("BAL")
    participant = imr_participant("BAL")
    response = api_client(staff.instructor).post(
        f"/api/v1/groups/{group.pk}/members/", {"participant": participant.pk}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["study_id"] == participant.study_id
    assert GroupMembership.objects.get().participant == participant


def test_a_tau_participant_is_refused_with_the_reason(staff) -> None:
    group = make_imr_group("BAL")
    participant = imr_participant("BAL", arm="TAU")
    response = api_client(staff.coordinator).post(
        f"/api/v1/groups/{group.pk}/members/", {"participant": participant.pk}, format="json"
    )
    assert response.status_code == 400
    message = response.json()["participant"][0]
    assert "treatment as usual" in message and participant.study_id in message
    assert not GroupMembership.objects.exists()


def test_an_unrandomized_participant_is_refused_with_the_reason(staff) -> None:
    group = make_imr_group("BAL")
    participant = make_participant("BAL")
    response = api_client(staff.coordinator).post(
        f"/api/v1/groups/{group.pk}/members/", {"participant": participant.pk}, format="json"
    )
    assert response.status_code == 400
    assert "has not been randomised" in response.json()["participant"][0]


def test_an_imr_participant_of_another_site_cannot_join(staff, sites) -> None:
    from tests.factories import make_staff
    from trial.roles import Role

    group = make_imr_group("BAL")
    participant = imr_participant("GLA")
    both_sites = make_staff("coord-both", Role.COORDINATOR, sites=["BAL", "GLA"])
    response = api_client(both_sites).post(
        f"/api/v1/groups/{group.pk}/members/", {"participant": participant.pk}, format="json"
    )
    assert response.status_code == 400
    assert "Gladsaxe" in response.json()["participant"][0]
    # Someone who works only at BAL cannot even learn that the GLA participant exists.
    hidden = api_client(staff.coordinator).post(
        f"/api/v1/groups/{group.pk}/members/", {"participant": participant.pk}, format="json"
    )
    assert hidden.status_code == 400
    assert hidden.json() == {"participant": ["No participant with this id at your sites."]}
    assert not GroupMembership.objects.exists()


def test_the_database_itself_refuses_a_tau_member(staff) -> None:
    import pytest
    from django.db import IntegrityError, transaction

    group = make_imr_group("BAL")
    participant = imr_participant("BAL", arm="TAU")
    with pytest.raises(IntegrityError), transaction.atomic():
        GroupMembership.objects.create(
            group=group, participant=participant, joined_on=date.today(), added_by=staff.coordinator
        )


def test_a_participant_belongs_to_one_group_only(staff) -> None:
    first, second = make_imr_group("BAL"), make_imr_group("BAL")
    participant = imr_participant("BAL")
    client = api_client(staff.coordinator)
    client.post(
        f"/api/v1/groups/{first.pk}/members/", {"participant": participant.pk}, format="json"
    )
    again = client.post(
        f"/api/v1/groups/{second.pk}/members/", {"participant": participant.pk}, format="json"
    )
    assert again.status_code == 409
    assert first.name in again.json()["detail"]


def test_a_full_or_closed_group_takes_nobody_more(staff) -> None:
    group = make_imr_group("BAL", capacity=1)
    client = api_client(staff.coordinator)
    first, second = imr_participant("BAL"), imr_participant("BAL")
    assert (
        client.post(
            f"/api/v1/groups/{group.pk}/members/", {"participant": first.pk}, format="json"
        ).status_code
        == 201
    )
    full = client.post(
        f"/api/v1/groups/{group.pk}/members/", {"participant": second.pk}, format="json"
    )
    assert full.status_code == 400 and "full" in full.json()["participant"][0]

    client.patch(
        f"/api/v1/groups/{group.pk}/", {"capacity": 10, "enrolment_closed": True}, format="json"
    )
    closed = client.post(
        f"/api/v1/groups/{group.pk}/members/", {"participant": second.pk}, format="json"
    )
    assert closed.status_code == 400 and "closed" in closed.json()["participant"][0]
    assert GroupMembership.objects.count() == 1


def test_a_member_placed_in_error_is_removed_with_a_reason(staff) -> None:
    group = make_imr_group("BAL")
    participant = imr_participant("BAL")
    client = api_client(staff.coordinator)
    client.post(
        f"/api/v1/groups/{group.pk}/members/", {"participant": participant.pk}, format="json"
    )
    no_reason = client.delete(f"/api/v1/groups/{group.pk}/members/{participant.pk}/")
    assert no_reason.status_code == 400
    removed = client.delete(
        f"/api/v1/groups/{group.pk}/members/{participant.pk}/",
        {"reason": "Wrong person"},
        format="json",
    )
    assert removed.status_code == 204
    event = event_model(GroupMembership).objects.get(pgh_label="delete")
    assert event.pgh_context["reason"] == "Wrong person"


def test_a_member_can_be_given_by_study_id_and_a_site_by_id(staff, sites) -> None:
    client = api_client(staff.coordinator)
    created = client.post(
        "/api/v1/groups/",
        {"site": sites["BAL"].pk, "name": "By id", "start_date": "2026-01-06"},
        format="json",
    )
    assert created.status_code == 201 and created.json()["site"] == "BAL"
    participant = imr_participant("BAL")
    response = client.post(
        f"/api/v1/groups/{created.json()['id']}/members/",
        {"participant": participant.study_id.lower()},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["participant"] == participant.pk


def test_the_capacity_cannot_drop_below_the_members_already_in(staff) -> None:
    group = make_imr_group("BAL")
    client = api_client(staff.coordinator)
    for _ in range(2):
        participant = imr_participant("BAL")
        client.post(
            f"/api/v1/groups/{group.pk}/members/", {"participant": participant.pk}, format="json"
        )
    response = client.patch(f"/api/v1/groups/{group.pk}/", {"capacity": 1}, format="json")
    assert response.status_code == 400
    assert response.json() == {"capacity": ["The group already has 2 members."]}
    group.refresh_from_db()
    assert group.capacity == 10
