"""The audit trail: every write of issue 2 leaves an event with the user and the reason,
bulk and raw changes are caught by the database, events cannot be changed or deleted, and the
audit history page shows it all to data managers and monitors without revealing an arm or a
CPR number."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pghistory.models
import pytest
from django.apps import apps
from django.db import DatabaseError, connection, transaction
from django.utils import timezone, translation

from accounts.models import AccountPreference, AuthEvent
from participants import services
from participants.models import EligibilityScreening, Participant
from randomization.models import Allocation
from tests.factories import (
    ELIGIBLE_ANSWERS,
    allocate,
    api_client,
    make_participant,
    make_staff,
    page_client,
    unique_cpr,
)
from trial import audit_trail
from trial.audit import audit_context, event_model, events_of
from trial.audit_trail import AuditSource
from trial.roles import Role
from trial.services import staff_save


@pytest.fixture
def coordinator(sites: Any) -> Any:
    return make_staff("carla", Role.COORDINATOR, sites=["BAL"])


@pytest.fixture
def data_manager(sites: Any) -> Any:
    return make_staff("dm", Role.DATA_MANAGER)


def latest_event(obj: Any) -> Any:
    return events_of(obj).latest("pgh_id")


def test_registration_is_audited_with_user_and_reason(coordinator: Any) -> None:
    participant = services.participant_register(
        user=coordinator, site_code="BAL", cpr=unique_cpr(), sex="male"
    )
    event = events_of(participant).get(pgh_label="insert")
    assert event.pgh_context["user"] == coordinator.pk
    assert event.pgh_context["username"] == "carla"
    assert event.pgh_context["reason"] == "Registration"


def test_screening_is_audited_on_the_screening_and_the_status(coordinator: Any) -> None:
    participant = make_participant("BAL", stage="registered", user=coordinator)
    screening = services.participant_screen(
        user=coordinator, participant=participant, answers=dict(ELIGIBLE_ANSWERS)
    )
    for event in (events_of(screening).get(), latest_event(participant)):
        assert event.pgh_context["username"] == "carla"
        assert event.pgh_context["reason"] == "Eligibility screening"
    assert latest_event(participant).status == "eligible"


def test_consent_and_its_correction_are_audited_with_the_reason(coordinator: Any) -> None:
    participant = make_participant("BAL", stage="eligible", user=coordinator)
    services.participant_record_consent(
        user=coordinator, participant=participant, consent_date=timezone.localdate()
    )
    assert latest_event(participant).pgh_context["reason"] == "Consent recorded"
    services.participant_record_consent(
        user=coordinator,
        participant=participant,
        consent_date=timezone.localdate() - timedelta(days=0),
        reason="",
    )
    # A different date needs a reason, which the event carries.
    participant.registered_at -= timedelta(days=3)
    Participant.objects.filter(pk=participant.pk).update(registered_at=participant.registered_at)
    services.participant_record_consent(
        user=coordinator,
        participant=participant,
        consent_date=timezone.localdate() - timedelta(days=1),
        reason="Date typed wrongly; the signed form says yesterday",
    )
    event = latest_event(participant)
    assert event.consent_date == timezone.localdate() - timedelta(days=1)
    assert event.pgh_context["reason"] == "Date typed wrongly; the signed form says yesterday"
    assert event.pgh_context["username"] == "carla"


def test_withdrawal_and_status_changes_are_audited(coordinator: Any, data_manager: Any) -> None:
    first = make_participant("BAL", stage="consented", user=coordinator)
    services.participant_close(
        user=coordinator,
        participant=first,
        status="withdrawn",
        on=timezone.localdate(),
        reason="Moved abroad",
    )
    event = latest_event(first)
    assert (event.status, event.pgh_context["reason"], event.pgh_context["username"]) == (
        "withdrawn",
        "Moved abroad",
        "carla",
    )
    second = make_participant("BAL", stage="consented", user=coordinator)
    services.participant_close(
        user=data_manager,
        participant=second,
        status="deceased",
        on=timezone.localdate(),
        reason="Civil registration system",
    )
    event = latest_event(second)
    assert (event.status, event.pgh_context["reason"], event.pgh_context["username"]) == (
        "deceased",
        "Civil registration system",
        "dm",
    )


def test_a_role_change_is_audited_with_who_and_why(sites: Any) -> None:
    administrator = make_staff("root-admin", Role.ADMIN)
    user = staff_save(
        username="karen", roles=["assessor"], site_codes=["BAL"], password="Lighthouse-Kettle-42"
    )
    staff_save(
        username="karen",
        roles=["coordinator"],
        site_codes=["BAL"],
        password="Lighthouse-Kettle-42",
        actor=administrator,
        reason="Moved from assessment to coordination",
    )
    from trial.models import RoleAssignment

    events = event_model(RoleAssignment).objects.filter(user_id=user.pk).order_by("pgh_id")
    assert [(e.pgh_label, e.role) for e in events] == [
        ("insert", "assessor"),
        ("delete", "assessor"),
        ("insert", "coordinator"),
    ]
    for event in events[1:]:
        assert event.pgh_context["username"] == "root-admin"
        assert event.pgh_context["reason"] == "Moved from assessment to coordination"


def test_a_change_after_an_audit_context_in_the_same_transaction_is_not_attributed_to_it(
    coordinator: Any, data_manager: Any
) -> None:
    participant = make_participant("BAL", stage="registered", user=coordinator)
    with transaction.atomic():
        with audit_context(user=data_manager, reason="First change"):
            Participant.objects.filter(pk=participant.pk).update(sex="male")
        Participant.objects.filter(pk=participant.pk).update(sex="female")
    first, second = events_of(participant).order_by("-pgh_id")[:2][::-1]
    assert first.pgh_context["reason"] == "First change"
    assert second.pgh_context is None


def test_a_bulk_update_is_captured_row_by_row(coordinator: Any, data_manager: Any) -> None:
    participants = [make_participant("BAL", stage="registered", user=coordinator) for _ in range(3)]
    with audit_context(user=data_manager, reason="Sex corrected from the source documents"):
        changed = Participant.objects.filter(pk__in=[p.pk for p in participants]).update(sex="male")
    assert changed == 3
    for participant in participants:
        event = latest_event(participant)
        assert event.pgh_label == "update"
        assert event.sex == "male"
        assert event.pgh_context["username"] == "dm"
        assert event.pgh_context["reason"] == "Sex corrected from the source documents"


def test_raw_sql_outside_the_application_is_caught_and_shown_as_unattributed(
    coordinator: Any, data_manager: Any
) -> None:
    participant = make_participant("BAL", stage="registered", user=coordinator)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE participants_participant SET sex = 'male' WHERE id = %s", [participant.pk]
        )
    event = latest_event(participant)
    assert event.pgh_label == "update" and event.pgh_context is None
    entry = audit_trail.participant_trail(participant=participant, user=data_manager)[0]
    assert entry.who.startswith("(not recorded")
    assert entry.changes[0].field == "Sex"
    assert (entry.changes[0].old, entry.changes[0].new) == ("Female", "Male")


EVENT_MODELS: list[Any] = sorted(
    (m for m in apps.get_models() if issubclass(m, pghistory.models.Event)),
    key=lambda m: m._meta.label,
)


def test_every_event_table_has_the_append_only_trigger(db: None) -> None:
    """Structural check for every app's event tables, also those issue 2 writes no rows to."""
    with connection.cursor() as cursor:
        for model in [*EVENT_MODELS, AuthEvent]:
            cursor.execute(
                """SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
                   WHERE c.relname = %s AND t.tgname LIKE 'pgtrigger_append_only_%%'
                   AND t.tgenabled = 'O'""",
                [model._meta.db_table],
            )
            assert cursor.fetchone()[0] == 1, model._meta.label


def test_no_audit_event_can_be_changed_or_deleted(coordinator: Any) -> None:
    participant = make_participant("BAL", stage="consented", user=coordinator)
    allocate(participant, "IMR", user=coordinator)
    with audit_context(user=coordinator, reason="test"):
        staff_save(
            username="ext", roles=["monitor"], site_codes=[], password="Lighthouse-Kettle-42"
        )
    AuthEvent.objects.create(kind="login", username="carla")
    tried = []
    for model in [*EVENT_MODELS, AuthEvent]:
        row = model.objects.first()
        if row is None:
            continue  # another app's events, covered by the trigger check above
        tried.append(model._meta.label)
        pk_name = model._meta.pk.name
        with pytest.raises(DatabaseError), transaction.atomic():
            model.objects.filter(pk=row.pk).update(**{pk_name: row.pk})
        with pytest.raises(DatabaseError), transaction.atomic():
            model.objects.filter(pk=row.pk).delete()
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f'DELETE FROM "{model._meta.db_table}"')
    assert {
        "participants.ParticipantEvent",
        "participants.EligibilityScreeningEvent",
        "trial.RoleAssignmentEvent",
        "accounts.StaffAccountEvent",
        "randomization.AllocationEvent",
        "accounts.AuthEvent",
    } <= set(tried)


def audit_page(client: Any, participant: Participant) -> str:
    response = client.get(f"/participants/{participant.pk}/audit/")
    assert response.status_code == 200
    return response.content.decode()


def test_the_audit_page_says_who_when_what_old_new_and_why(
    coordinator: Any, data_manager: Any
) -> None:
    participant = make_participant("BAL", stage="consented", user=coordinator)
    services.participant_close(
        user=coordinator,
        participant=participant,
        status="withdrawn",
        on=timezone.localdate(),
        reason="Does not want more interviews",
    )
    entries = audit_trail.participant_trail(participant=participant, user=data_manager)
    newest = next(e for e in entries if e.reason == "Does not want more interviews")
    assert newest.who == "carla"
    assert ("Status", "Consented", "Withdrawn") in [(c.field, c.old, c.new) for c in newest.changes]
    assert newest.at.utcoffset() == timedelta(0)
    assert newest.local_text.endswith(("CET", "CEST"))
    html = audit_page(page_client(data_manager), participant)
    assert "Does not want more interviews" in html
    assert newest.utc_shown in html and newest.local_shown in html
    # Every write since registration is there.
    assert {"Registration", "Eligibility screening", "Consent recorded"} <= {
        e.reason for e in entries
    }


def test_the_audit_page_never_shows_the_cpr_number_its_ciphertext_or_hash(
    coordinator: Any, data_manager: Any
) -> None:
    cpr = unique_cpr()
    participant = services.participant_register(
        user=coordinator, site_code="BAL", cpr=cpr, sex="female"
    )
    from participants import cpr as cpr_module

    with audit_context(user=data_manager, reason="Key rotation"):
        Participant.objects.filter(pk=participant.pk).update(
            cpr_ciphertext=cpr_module.reencrypt(participant.cpr_ciphertext)
        )
    participant.refresh_from_db()
    html = audit_page(page_client(data_manager), participant)
    api = (
        api_client(data_manager)
        .get(f"/api/v1/participants/{participant.pk}/audit/")
        .content.decode()
    )
    for text in (html, api):
        assert cpr not in text and cpr.replace("-", "") not in text
        assert participant.cpr_ciphertext not in text
        assert participant.cpr_hash not in text
        assert "gAAAAA" not in text  # the start of every Fernet token
    assert "changed (encrypted)" in html
    assert "Key rotation" in html


def test_blinded_viewers_never_see_allocation_in_the_audit_history(
    coordinator: Any, data_manager: Any
) -> None:
    participant = make_participant("BAL", stage="consented", user=coordinator)
    allocation = allocate(participant, "IMR", user=coordinator)
    monitor = make_staff("mon", Role.MONITOR)
    for viewer in (data_manager, monitor):
        html = audit_page(page_client(viewer), participant)
        assert allocation.randomization_code not in html
        assert "Allocation" not in html
        data = api_client(viewer).get(f"/api/v1/participants/{participant.pk}/audit/").json()
        assert all(e["record"].startswith(("Participant", "Eligibility")) for e in data)


def test_a_source_marked_arm_revealing_is_shown_only_to_those_who_may_see_allocation(
    coordinator: Any, data_manager: Any, monkeypatch: Any
) -> None:
    participant = make_participant("BAL", stage="consented", user=coordinator)
    allocation = allocate(participant, "TAU", user=coordinator)
    arm_revealing = AuditSource(
        event_model(Allocation), "participant_id", "Allocation", blinded_may_see=False
    )
    declared = audit_trail.participant_sources()
    monkeypatch.setattr(audit_trail, "participant_sources", lambda: [*declared, arm_revealing])
    blinded = audit_trail.participant_trail(participant=participant, user=data_manager)
    assert not [e for e in blinded if e.record.startswith("Allocation")]
    unblinded = audit_trail.participant_trail(participant=participant, user=coordinator)
    shown = [e for e in unblinded if e.record.startswith("Allocation")]
    assert shown and ("Arm", "—", "Treatment as usual") in [
        (c.field, c.old, c.new) for c in shown[0].changes
    ]
    assert allocation.randomization_code in {c.new for c in shown[0].changes}


def test_every_declared_source_is_a_pghistory_event_model_that_filters_by_participant(
    coordinator: Any,
) -> None:
    participant = make_participant("BAL", stage="eligible", user=coordinator)
    for source in audit_trail.participant_sources():
        assert issubclass(source.event_model, pghistory.models.Event), source
        source.event_model.objects.filter(source.of_participant(participant.pk)).exists()


def test_screenings_appear_in_the_history_with_their_answers(
    coordinator: Any, data_manager: Any
) -> None:
    participant = make_participant("BAL", stage="ineligible", user=coordinator)
    screening = EligibilityScreening.objects.get(participant=participant)
    entries = audit_trail.participant_trail(participant=participant, user=data_manager)
    created = next(e for e in entries if e.record == f"Eligibility screening {screening.pk}")
    fields = {c.field: c.new for c in created.changes}
    assert fields["Danish fluent"] == "no"
    assert fields["Eligible"] == "no"
    assert "Does not speak" in fields["Reasons"]


def _closed_on(coordinator: Any, day: date) -> Participant:
    participant = make_participant("BAL", stage="consented", user=coordinator)
    services.participant_close(
        user=coordinator, participant=participant, status="withdrawn", on=day, reason="Moved"
    )
    return participant


def test_a_danish_reader_sees_the_audit_page_in_danish_formats(
    coordinator: Any, data_manager: Any
) -> None:
    AccountPreference.objects.create(user=data_manager, language="da")
    today = timezone.localdate()  # (registration is today; the withdrawal cannot be earlier)
    participant = _closed_on(coordinator, today)
    entry = next(
        e
        for e in audit_trail.participant_trail(participant=participant, user=data_manager)
        if e.reason == "Moved"
    )
    html = audit_page(page_client(data_manager), participant)
    assert '<html lang="da">' in html
    # The withdrawal date, a date value among the changes: dd-mm-åååå, never ISO.
    assert f"{today:%d-%m-%Y}" in html and f"{today:%Y-%m-%d}" not in html
    # When: UTC and Copenhagen time, dd-mm-åååå HH:MM.
    utc = entry.at.astimezone(UTC)
    local = entry.at_local
    assert f"{utc:%d-%m-%Y %H:%M} UTC" in html
    assert f"{local:%d-%m-%Y %H:%M} {local:%Z}" in html
    assert local.tzname() in ("CET", "CEST")
    assert f"{utc:%Y-%m-%d}" not in html
    # The API keeps its language-neutral text.
    assert entry.local_text == f"{local:%Y-%m-%d %H:%M:%S %Z}"


def test_an_english_reader_sees_the_audit_page_in_the_english_formats(
    coordinator: Any, data_manager: Any, settings: Any
) -> None:
    AccountPreference.objects.create(user=data_manager, language="en")
    today = timezone.localdate()
    participant = _closed_on(coordinator, today)
    entry = next(
        e
        for e in audit_trail.participant_trail(participant=participant, user=data_manager)
        if e.reason == "Moved"
    )
    html = audit_page(page_client(data_manager), participant)
    assert '<html lang="en">' in html
    # imrtrial/formats/en: ISO dates (Y-m-d), short times H:i.
    assert settings.FORMAT_MODULE_PATH == ["imrtrial.formats"]
    assert f"{today:%Y-%m-%d}" in html and f"{today:%d-%m-%Y}" not in html
    utc = entry.at.astimezone(UTC)
    assert f"{utc:%Y-%m-%d %H:%M} UTC" in html
    assert f"{entry.at_local:%Y-%m-%d %H:%M %Z}" in html


def test_change_values_are_shown_in_the_readers_format() -> None:
    moment = datetime(2026, 7, 1, 10, 30, tzinfo=UTC)
    day = audit_trail.Change("Date", "2026-03-04", "—", old_value=date(2026, 3, 4))
    number = audit_trail.Change("Score", "2.5", "3.25", Decimal("2.5"), 3.25)
    when = audit_trail.Change("At", "—", "2026-07-01 10:30:00 UTC", new_value=moment)
    word = audit_trail.Change("Eligible", "no", "yes")
    with translation.override("da"):
        assert day.old_shown == "04-03-2026"
        assert (number.old_shown, number.new_shown) == ("2,5", "3,25")
        assert when.new_shown == "01-07-2026 12:30 CEST"  # Copenhagen summer time
        assert (word.old_shown, word.new_shown) == ("nej", "ja")
    with translation.override("en"):
        assert day.old_shown == "2026-03-04"
        assert (number.old_shown, number.new_shown) == ("2.5", "3.25")
        assert when.new_shown == "2026-07-01 12:30 CEST"
        assert word.new_shown == "yes"
    # Equal however the typed value was kept: the API compares and shows the text.
    assert day == audit_trail.Change("Date", "2026-03-04", "—")
