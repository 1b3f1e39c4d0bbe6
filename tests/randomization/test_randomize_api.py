"""POST /api/v1/participants/{id}/randomize/ (API.md) and the service behind it."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from participants.models import Participant, Status
from randomization.models import (
    Allocation,
    AllocationSlot,
    RandomizationLogEntry,
    SiteSequence,
)
from randomization.services.allocation import CODE_ALPHABET
from tests.factories import api_client, coordinator_for, make_participant, make_staff
from tests.randomization.conftest import ready_participant
from trial.audit import event_model
from trial.models import DatasetLock
from trial.roles import Role
from trial.sealing import unseal

Kind = RandomizationLogEntry.Kind


def url(participant: Participant) -> str:
    return f"/api/v1/participants/{participant.pk}/randomize/"


def randomize(participant: Participant, user: Any = None, **headers: str) -> Any:
    client = api_client(user or coordinator_for(participant.site.code))
    extra: dict[str, Any] = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
    return client.post(url(participant), {}, format="json", **extra)


def snapshot() -> dict[str, Any]:
    """Everything a refused randomisation must leave untouched."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM randomization_allocationevent")
        allocation_events = cursor.fetchone()[0]
    return {
        "allocations": Allocation.objects.count(),
        "sequences": dict(SiteSequence.objects.values_list("site_id", "next_sequence")),
        "statuses": dict(Participant.objects.values_list("pk", "status")),
        "participant_events": event_model(Participant).objects.count(),
        "allocation_events": allocation_events,
    }


def test_a_coordinator_randomizes_an_eligible_consented_participant(lists: list) -> None:
    participant = ready_participant("BAL")
    response = randomize(participant)
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"participant", "study_id", "arm", "randomization_code", "randomized_at"}
    assert body["arm"] in ("IMR", "TAU")
    participant.refresh_from_db()
    assert participant.status == Status.RANDOMIZED
    allocation = participant.allocation
    assert allocation.arm == body["arm"]
    assert allocation.randomization_code == body["randomization_code"]
    # The first position of the site's list, and its sealed arm.
    first = AllocationSlot.objects.get(site=participant.site, sequence=1)
    assert allocation.slot == first
    assert unseal("arm", first.arm_sealed) == body["arm"]
    assert SiteSequence.objects.get(site=participant.site).next_sequence == 2


def test_the_randomization_code_says_nothing_about_arm_site_or_order(lists: list) -> None:
    codes = []
    for _ in range(6):
        response = randomize(ready_participant("GLA"))
        codes.append(response.json()["randomization_code"])
    assert len(set(codes)) == 6
    for code in codes:
        assert len(code) == 9 and code[4] == "-"
        assert "GLA" not in code and "IMR" not in code and "TAU" not in code
        assert set(code.replace("-", "")) <= set(CODE_ALPHABET)


def test_it_refuses_a_second_randomization(lists: list) -> None:
    participant = ready_participant("BAL")
    first = randomize(participant)
    before = snapshot()
    again = randomize(participant)
    assert again.status_code == 409
    assert "already randomised" in again.json()["detail"]
    assert snapshot() == before
    participant.refresh_from_db()
    assert participant.allocation.randomization_code == first.json()["randomization_code"]


def test_a_retried_request_with_the_same_idempotency_key_returns_the_same_allocation(
    lists: list,
) -> None:
    participant = ready_participant("FRB")
    first = randomize(participant, **{"Idempotency-Key": "abc-123"})
    retry = randomize(participant, **{"Idempotency-Key": "abc-123"})
    assert first.status_code == 201
    assert retry.status_code == 201
    assert retry.json() == first.json()
    assert retry["Idempotent-Replayed"] == "true"
    assert Allocation.objects.count() == 1
    assert SiteSequence.objects.get(site=participant.site).next_sequence == 2
    # A separate attempt (another key, or none) is a conflict.
    assert randomize(participant, **{"Idempotency-Key": "other"}).status_code == 409
    assert randomize(participant).status_code == 409
    # The same key from another coordinator is another request, too.
    colleague = make_staff("c2", Role.COORDINATOR, sites=["FRB"])
    assert randomize(participant, colleague, **{"Idempotency-Key": "abc-123"}).status_code == 409


def test_an_idempotency_key_cannot_be_reused_for_another_participant(lists: list) -> None:
    first = ready_participant("BAL")
    second = ready_participant("BAL")
    assert randomize(first, **{"Idempotency-Key": "k1"}).status_code == 201
    before = snapshot()
    response = randomize(second, **{"Idempotency-Key": "k1"})
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["detail"]
    assert snapshot() == before


def test_an_ineligible_person_is_refused_with_the_reason_and_nothing_is_written(
    lists: list,
) -> None:
    participant = make_participant("BAL", stage="ineligible")
    before = snapshot()
    response = randomize(participant)
    assert response.status_code == 400
    assert response.json()["detail"].startswith("Not eligible")
    assert "Danish" in response.json()["detail"]
    assert snapshot() == before


def test_an_unscreened_person_is_refused(lists: list) -> None:
    participant = make_participant("BAL", stage="registered")
    response = randomize(participant)
    assert response.status_code == 400
    assert "not been screened" in response.json()["detail"]


def test_an_eligible_person_without_consent_is_refused_and_nothing_is_written(
    lists: list,
) -> None:
    participant = make_participant("GLA", stage="eligible")
    before = snapshot()
    response = randomize(participant)
    assert response.status_code == 400
    assert response.json()["detail"].startswith("Not consented")
    assert snapshot() == before


def test_a_missing_baseline_is_refused_naming_the_missing_forms(lists: list) -> None:
    participant = make_participant("GLA")
    before = snapshot()
    response = randomize(participant)
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert detail.startswith("Baseline missing")
    for code in ("DEMOG", "GAF", "PSP", "PANSS", "HAMD6", "YMRS"):
        assert code in detail
    assert snapshot() == before


def test_the_baseline_requirement_can_be_switched_off(lists: list, settings: Any) -> None:
    settings.RANDOMIZATION_REQUIRES_BASELINE = False
    participant = make_participant("GLA")
    assert randomize(participant).status_code == 201


def test_only_a_coordinator_at_the_participants_site_may_randomize(lists: list) -> None:
    participant = ready_participant("BAL")
    before = snapshot()
    assert randomize(participant, make_staff("a", Role.ASSESSOR, sites=["BAL"])).status_code == 403
    assert (
        randomize(participant, make_staff("i", Role.INSTRUCTOR, sites=["BAL"])).status_code == 403
    )
    assert randomize(participant, make_staff("s", Role.STATISTICIAN)).status_code == 403
    assert randomize(participant, make_staff("dm", Role.DATA_MANAGER)).status_code == 403
    other_site = make_staff("cg", Role.COORDINATOR, sites=["GLA"])
    assert randomize(participant, other_site).status_code == 404
    # Coordinating elsewhere while treating here is not enough either.
    mixed = make_staff("mix", Role.COORDINATOR, sites=["GLA"])
    from trial.models import RoleAssignment

    RoleAssignment.objects.create(user=mixed, role=Role.CLINICIAN, site=participant.site)
    assert randomize(participant, mixed).status_code == 403
    assert snapshot() == before


def test_a_coordinator_who_is_also_an_assessor_is_blinded_and_cannot_randomize(
    lists: list,
) -> None:
    participant = ready_participant("BAL")
    both = make_staff("both", Role.COORDINATOR, Role.ASSESSOR, sites=["BAL"])
    response = randomize(participant, both)
    assert response.status_code == 403
    assert "blinded" in response.json()["detail"]
    assert Allocation.objects.count() == 0


def test_an_anonymous_request_gets_401(lists: list) -> None:
    participant = ready_participant("BAL")
    response = api_client().post(url(participant), {}, format="json")
    assert response.status_code == 401


def test_the_request_body_must_be_an_object(lists: list) -> None:
    participant = ready_participant("BAL")
    client = api_client(coordinator_for("BAL"))
    assert client.post(url(participant), [], format="json").status_code == 400
    assert Allocation.objects.count() == 0


def test_a_withdrawn_person_cannot_be_randomized(lists: list) -> None:
    participant = ready_participant("BAL")
    client = api_client(coordinator_for("BAL"))
    withdrawn = client.post(
        f"/api/v1/participants/{participant.pk}/withdraw/",
        {"reason": "Moved away", "date": participant.registered_on.isoformat()},
        format="json",
    )
    assert withdrawn.status_code == 200
    assert randomize(participant).status_code == 409
    assert Allocation.objects.count() == 0


def test_withdrawal_keeps_the_arm(lists: list) -> None:
    participant = ready_participant("FRB")
    arm = randomize(participant).json()["arm"]
    client = api_client(coordinator_for("FRB"))
    response = client.post(
        f"/api/v1/participants/{participant.pk}/withdraw/",
        {"reason": "No longer wishes to take part", "date": participant.registered_on.isoformat()},
        format="json",
    )
    assert response.status_code == 200
    body = client.get(f"/api/v1/participants/{participant.pk}/").json()
    assert body["status"] == "withdrawn"
    assert body["arm"] == arm
    assert Allocation.objects.get(participant=participant).arm == arm


def test_nobody_is_randomized_while_the_database_is_frozen(lists: list) -> None:
    participant = ready_participant("BAL")
    DatasetLock.objects.create(level="freeze", reason="Interim", set_by=make_staff("dm2"))
    before = snapshot()
    response = randomize(participant)
    assert response.status_code == 409
    assert "frozen" in response.json()["detail"]
    assert snapshot() == before


def test_every_randomization_and_refusal_is_logged(lists: list) -> None:
    ready = ready_participant("BAL")
    randomize(ready, **{"Idempotency-Key": "x"})
    randomize(ready, **{"Idempotency-Key": "x"})
    randomize(ready)
    randomize(make_participant("BAL", stage="ineligible"))
    randomize(make_participant("BAL", stage="eligible"))
    randomize(make_participant("BAL"))
    randomize(ready_participant("BAL"), make_staff("a2", Role.ASSESSOR, sites=["BAL"]))
    kinds = list(RandomizationLogEntry.objects.order_by("id").values_list("kind", flat=True))
    assert kinds[-6:] == [
        Kind.RANDOMIZED,
        Kind.REPLAYED,
        Kind.REFUSED_DUPLICATE,
        Kind.REFUSED_INELIGIBLE,
        Kind.REFUSED_NOT_CONSENTED,
        Kind.REFUSED_BASELINE,
    ]
    entry = RandomizationLogEntry.objects.get(kind=Kind.RANDOMIZED)
    allocation = ready.allocation
    assert entry.participant == ready
    assert entry.user == allocation.randomized_by
    assert entry.detail["arm"] == allocation.arm
    assert entry.detail["sequence"] == 1
    assert entry.detail["list_version"] == 1
    assert entry.detail["stratum"] == "BAL"
    assert ready.consent_date is not None
    assert entry.detail["consent_date"] == ready.consent_date.isoformat()
    # The assessor never reached the service: role checks happen first (403, logged nowhere
    # that could reveal anything).


def test_the_randomization_is_audited_with_the_user_and_reason(lists: list) -> None:
    participant = ready_participant("GLA")
    coordinator = coordinator_for("GLA")
    randomize(participant, coordinator)
    event = event_model(Allocation).objects.get(pgh_obj=participant.allocation)
    assert event.pgh_context["user"] == coordinator.pk
    assert event.pgh_context["reason"] == "Randomisation"
    status_event = (
        event_model(Participant).objects.filter(pgh_obj=participant, status=Status.RANDOMIZED).get()
    )
    assert status_event.pgh_context_id == event.pgh_context_id


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_there_is_no_way_to_change_or_undo_a_randomization_over_the_api(
    lists: list, method: str
) -> None:
    participant = ready_participant("BAL")
    randomize(participant)
    client = api_client(coordinator_for("BAL"))
    response = getattr(client, method)(url(participant), {}, format="json")
    assert response.status_code == 405
    assert Allocation.objects.filter(participant=participant).count() == 1


def test_a_colliding_randomization_code_is_drawn_again(lists: list, monkeypatch: Any) -> None:
    from randomization.services import allocation as service

    codes = iter(["AAAA-AAAA", "AAAA-AAAA", "BBBB-BBBB"])
    monkeypatch.setattr(service, "new_randomization_code", lambda: next(codes))
    first, second = ready_participant("BAL"), ready_participant("BAL")
    assert randomize(first).json()["randomization_code"] == "AAAA-AAAA"
    response = randomize(second)
    assert response.status_code == 201
    assert response.json()["randomization_code"] == "BBBB-BBBB"
    # The failed attempt left nothing behind: the second participant took position 2.
    assert Allocation.objects.get(participant=second).slot.sequence == 2
    assert SiteSequence.objects.get(site=second.site).next_sequence == 3


def test_the_list_custodian_does_not_enrol(lists: list) -> None:
    participant = ready_participant("BAL")
    custodian = make_staff("stat-coord", Role.COORDINATOR, Role.STATISTICIAN, sites=["BAL"])
    response = randomize(participant, custodian)
    assert response.status_code == 403
    assert "statistician" in response.json()["detail"]
    assert Allocation.objects.count() == 0
    # ... and, holding the coordinator role, cannot read the lists either.
    assert api_client(custodian).get("/api/v1/allocation-lists/").status_code == 403
