"""The participant's audit history collects every app's changes (trial.audit_trail): every
version of every form with old and new item values and the reason, verification, queries and
their messages, register data, blinding guesses and unblinding reports; the allocation, group
membership and attendance only for viewers who may see allocation; and the IMRS staff version
without its values or reasons for blinded viewers."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone, translation

from assessments import services as assessment_services
from fidelity import services as fidelity_services
from instruments import registry
from participants import services as participant_services
from randomization import services as randomization_services
from tests.assessments.helpers import typical_items
from tests.factories import (
    allocate,
    api_client,
    complete_baseline,
    coordinator_for,
    make_imr_group,
    make_participant,
    make_staff,
    page_client,
)
from trial import audit_trail
from trial.audit_trail import AuditEntry
from trial.roles import Role

CPR = "030375-1234"


@pytest.fixture
def people(sites: dict) -> dict[str, Any]:
    return {
        "coordinator": coordinator_for("BAL"),
        "assessor": make_staff("assessor-bal", Role.ASSESSOR, sites=["BAL"]),
        "clinician": make_staff("clinician-bal", Role.CLINICIAN, sites=["BAL"]),
        "data_manager": make_staff("dm", Role.DATA_MANAGER),
        "monitor": make_staff("monitor", Role.MONITOR),
        "statistician": make_staff("stat", Role.STATISTICIAN),
    }


def registered(people: dict[str, Any]) -> Any:
    """A consented participant with a known CPR number (for the register file)."""
    coordinator = people["coordinator"]
    participant = participant_services.participant_register(
        user=coordinator, site_code="BAL", cpr=CPR, sex="female"
    )
    from tests.factories import ELIGIBLE_ANSWERS

    participant_services.participant_screen(
        user=coordinator, participant=participant, answers=dict(ELIGIBLE_ANSWERS)
    )
    participant_services.participant_record_consent(
        user=coordinator, participant=participant, consent_date=timezone.localdate()
    )
    return participant


def trail_of(participant: Any, user: Any) -> list[AuditEntry]:
    return audit_trail.participant_trail(participant=participant, user=user)


def rows(entries: list[AuditEntry]) -> set[tuple[str, str, str, str]]:
    return {(e.record, c.field, c.old, c.new) for e in entries for c in e.changes}


def page_text(user: Any, participant: Any) -> str:
    response = page_client(user).get(f"/participants/{participant.pk}/audit/")
    assert response.status_code == 200
    return response.content.decode()


def save(user: Any, participant: Any, code: str, items: dict, **extra: Any) -> Any:
    return assessment_services.response_save(
        user=user,
        participant=participant,
        timepoint="baseline",
        code=code,
        items=items,
        **extra,
    ).response


def test_every_version_of_a_form_shows_old_and_new_item_values_and_the_reason(
    people: dict,
) -> None:
    participant = registered(people)
    items = typical_items("PANSS")
    first = save(people["assessor"], participant, "PANSS", items, status="complete")
    changed = dict(items, P1=items["P1"] + 1)
    save(
        people["assessor"],
        participant,
        "PANSS",
        changed,
        status="complete",
        version=first.version,
        reason="Misread the source: P1 was one point higher",
    )
    for viewer in (people["data_manager"], people["monitor"]):
        entries = [e for e in trail_of(participant, viewer) if e.record.startswith("PANSS")]
        assert [e.action for e in entries] == ["changed", "created"]
        newest = entries[0]
        assert newest.reason == "Misread the source: P1 was one point higher"
        assert newest.who == "assessor-bal"
        fields = {(c.field, c.old, c.new) for c in newest.changes}
        assert ("Item: P1", str(items["P1"]), str(items["P1"] + 1)) in fields
        assert ("Version", "1", "2") in fields
        assert any(c.field.startswith("Score: PANSS_P") for c in newest.changes)
        assert ("Item: G16", "—", str(items["G16"])) in {
            (c.field, c.old, c.new) for c in entries[1].changes
        }
    html = page_text(people["data_manager"], participant)
    assert "PANSS · Baseline (before randomisation)" in html and "Misread the source" in html


def test_verification_queries_and_their_answers_appear_with_who_and_why(people: dict) -> None:
    participant = registered(people)
    response = save(people["assessor"], participant, "HAMD6", typical_items("HAMD6"))
    response = save(
        people["assessor"],
        participant,
        "HAMD6",
        typical_items("HAMD6"),
        status="complete",
        version=response.version,
    )
    assessment_services.response_verify(
        user=people["monitor"], response=response, version=response.version
    )
    query = assessment_services.query_raise(
        user=people["data_manager"], response=response, item="HAMD6_1", message="Please confirm"
    )
    assessment_services.query_answer(
        user=people["assessor"], query=query, text="Confirmed against the interview notes"
    )
    assessment_services.query_close(user=people["data_manager"], query=query, text="Thanks")

    entries = trail_of(participant, people["monitor"])
    verification = next(e for e in entries if e.reason == "Source-data verification")
    changes = {(c.field, c.old, c.new) for c in verification.changes}
    assert ("Status", "Complete", "Verified") in changes
    assert ("Verified by", "—", "monitor") in changes
    assert verification.record.endswith("Baseline (before randomisation)")
    assert verification.who == "monitor"
    query_rows = [e for e in entries if e.record.startswith(f"Query {query.pk}")]
    assert any(
        ("Status", "Answered", "Closed") in {(c.field, c.old, c.new) for c in e.changes}
        for e in query_rows
    )
    messages = {c.new for e in query_rows for c in e.changes if c.field == "Text"}
    assert {"Please confirm", "Confirmed against the interview notes", "Thanks"} <= messages
    closed = next(e for e in query_rows if e.record == f"Query {query.pk}: closed")
    assert closed.who == "dm" and closed.reason == "Thanks"


def test_register_data_and_its_supersession_appear_on_the_participants_history(
    people: dict,
) -> None:
    participant = registered(people)
    header = (
        "cpr;period_start;period_end;admissions;admission_days;emergency_visits;outpatient_contacts"
    )
    first = assessment_services.register_import(
        user=people["data_manager"],
        content=f"{header}\n{CPR};2024-01-01;2024-06-30;1;12;2;10\n".encode(),
        note="First extraction",
    )
    second = assessment_services.register_import(
        user=people["data_manager"],
        content=f"{header}\n{CPR};2024-01-01;2024-06-30;1;14;2;10\n".encode(),
        note="Corrected extraction",
    )
    entries = trail_of(participant, people["data_manager"])
    periods = [e for e in entries if e.record.startswith("Register data")]
    assert len(periods) == 2
    assert {("Admission days", "—", "12"), ("Admission days", "—", "14")} <= {
        (c.field, c.old, c.new) for e in periods for c in e.changes
    }
    assert {e.reason for e in periods} == {"First extraction", "Corrected extraction"}
    assert periods[0].record.startswith("Register data 2024-01-01 – 2024-06-30 (import ")
    with translation.override("da"):  # the period as dd-mm-åååå in Danish
        danish = {e.record for e in trail_of(participant, people["data_manager"])}
    assert f"Registerdata 01-01-2024 – 30-06-2024 (import {first.pk}, linje 2)" in danish
    superseded = [
        e for e in entries if e.record == f"Register import {first.pk}" and e.action == "changed"
    ]
    assert superseded and any(c.field == "Superseded by" for c in superseded[0].changes)
    assert f"Register import {second.pk}" in {e.record for e in entries}
    # Another participant's history has none of it.
    other = make_participant("BAL")
    assert not [e for e in trail_of(other, people["data_manager"]) if "Register" in e.record]


def test_blinded_viewers_see_that_the_imrs_staff_version_changed_but_not_its_values_or_reasons(
    people: dict,
) -> None:
    participant = registered(people)
    items = typical_items("IMRS_C")
    first = save(people["clinician"], participant, "IMRS_C", items, status="complete")
    code = next(iter(items))
    other_value = next(
        v for v in registry.get("IMRS_C").item(code).allowed_values() or [] if v != items[code]
    )
    changed = dict(items, **{code: other_value})
    save(
        people["clinician"],
        participant,
        "IMRS_C",
        changed,
        status="complete",
        version=first.version,
        reason="Discussed relapse plan made in the group sessions",
    )
    query = assessment_services.query_raise(
        user=people["data_manager"], response=first, item=code, message="Please check the item"
    )

    for viewer in (people["data_manager"], people["monitor"]):
        entries = [e for e in trail_of(participant, viewer) if e.record.startswith("IMRS")]
        assert entries, viewer
        assert all("values not shown" in e.record for e in entries)
        assert all(
            not c.field.startswith(("Item", "Score", "Missing")) for e in entries for c in e.changes
        )
        assert all("relapse plan" not in e.reason for e in entries)
        assert ("Version", "1", "2") in {
            (c.field, c.old, c.new) for e in entries for c in e.changes
        }
        html = page_text(viewer, participant)
        assert "relapse plan" not in html and "Item: " + code not in html
        api = api_client(viewer).get(f"/api/v1/participants/{participant.pk}/audit/").json()
        assert "relapse plan" not in str(api) and f"Item: {code}" not in str(api)
    # Queries on the form: the data manager sees every query (as on the query pages), the
    # monitor not those on a form blinded staff cannot read.
    assert f"Query {query.pk}" in page_text(people["data_manager"], participant)
    assert f"Query {query.pk}" not in page_text(people["monitor"], participant)

    # Viewers who may see allocation see the values and the reason.
    for viewer in (people["statistician"], people["coordinator"]):
        entries = [e for e in trail_of(participant, viewer) if e.record.startswith("IMRS")]
        assert entries and not any("values not shown" in e.record for e in entries)
        assert "Discussed relapse plan made in the group sessions" in {e.reason for e in entries}
        assert (f"Item: {code}", str(items[code]), str(other_value)) in {
            (c.field, c.old, c.new) for e in entries for c in e.changes
        }


def test_the_allocation_is_shown_only_to_viewers_who_may_see_allocation(people: dict) -> None:
    participant = make_participant("BAL")
    allocation = allocate(participant, "IMR", user=people["coordinator"])
    for viewer in (people["data_manager"], people["monitor"]):
        entries = trail_of(participant, viewer)
        assert not [e for e in entries if e.record == "Randomisation"]
        assert "IMR" not in str(rows(entries)) and allocation.randomization_code not in str(
            rows(entries)
        )
    shown = rows(trail_of(participant, people["statistician"]))
    assert ("Randomisation", "Arm", "—", "IMR + treatment as usual") in shown
    assert ("Randomisation", "Randomization code", "—", allocation.randomization_code) in shown
    assert not [r for r in shown if r[1] in ("Slot", "Idempotency key")]


def test_blinding_guesses_and_their_corrections_are_on_the_history(people: dict) -> None:
    participant = make_participant("BAL")
    allocate(participant, "TAU")
    randomization_services.blinding_guess_record(
        user=people["assessor"], participant=participant, timepoint="post", guess="dont_know"
    )
    randomization_services.blinding_guess_record(
        user=people["assessor"],
        participant=participant,
        timepoint="post",
        guess="IMR",
        reason="The participant talked about the weekly meetings",
    )
    entries = [
        e
        for e in trail_of(participant, people["data_manager"])
        if e.record
        == "Blinding guess (Post-intervention (9 months after randomisation, window 8–11))"
    ]
    assert [e.action for e in entries] == ["changed", "created"]
    assert ("Guess", "Don't know", "IMR + treatment as usual") in {
        (c.field, c.old, c.new) for c in entries[0].changes
    }
    assert entries[0].reason == "The participant talked about the weekly meetings"


def test_unblinding_reports_are_shown_as_on_the_unblinding_pages(people: dict) -> None:
    participant = make_participant("BAL")
    other_monitor = make_staff("monitor-2", Role.MONITOR)
    randomization_services.unblinding_incident_report(
        user=people["assessor"],
        learned_on=timezone.localdate() - timedelta(days=1),
        how="participant_told",
        participant=participant,
    )
    randomization_services.unblinding_incident_report(
        user=other_monitor,
        learned_on=timezone.localdate(),
        how="record_seen",
        description="A letter in the record",
        participant=participant,
    )

    def reports(viewer: Any) -> set[str]:
        return {
            c.new
            for e in trail_of(participant, viewer)
            if e.record.startswith("Unblinding report")
            for c in e.changes
            if c.field == "Person unblinded"
        }

    assert reports(people["data_manager"]) == {"assessor-bal", "monitor-2"}
    assert reports(other_monitor) == {"monitor-2"}
    assert reports(people["monitor"]) == set()


def test_group_membership_and_attendance_are_shown_only_to_viewers_who_may_see_allocation(
    people: dict,
) -> None:
    instructors = [make_staff(f"instructor-{n}", Role.INSTRUCTOR, sites=["BAL"]) for n in (1, 2)]
    participant = make_participant("BAL")
    allocate(participant, "IMR")
    group = make_imr_group(
        "BAL",
        name="Tuesday group",
        start_date=timezone.localdate() - timedelta(days=7),
        instructors=instructors,
    )
    fidelity_services.membership_add(
        user=people["coordinator"], group=group, participant_id=participant.pk
    )
    session = fidelity_services.session_add(
        user=instructors[0], group=group, date=timezone.localdate(), module=1
    )
    fidelity_services.attendance_record(
        user=instructors[0], session=session, present=[participant.pk]
    )
    fidelity_services.attendance_record(
        user=instructors[0], session=session, present=[], reason="Left before the start"
    )
    for viewer in (people["data_manager"], people["monitor"]):
        entries = trail_of(participant, viewer)
        assert not [e for e in entries if "IMR" in e.record]
        html = page_text(viewer, participant)
        assert "Tuesday group" not in html and "attendance" not in html.lower()
    entries = trail_of(participant, people["statistician"])
    assert "IMR group membership (Tuesday group)" in {e.record for e in entries}
    attendance = [e for e in entries if e.record.startswith("IMR attendance, Tuesday group")]
    assert [e.action for e in attendance] == ["changed", "created"]
    assert ("Present", "yes", "no") in {(c.field, c.old, c.new) for c in attendance[0].changes}
    assert attendance[0].reason == "Left before the start"
    assert attendance[0].record == f"IMR attendance, Tuesday group session {session.date:%Y-%m-%d}"
    with translation.override("da"):  # the session's date as dd-mm-åååå in Danish
        records = {e.record for e in trail_of(participant, people["statistician"])}
    assert f"IMR-fremmøde, Tuesday group, session {session.date:%d-%m-%Y}" in records


def test_complete_baseline_and_every_declared_source_filter_by_participant(people: dict) -> None:
    """A second participant's records never appear on the first one's history."""
    first, second = make_participant("BAL"), make_participant("BAL")
    complete_baseline(second, user=people["assessor"])
    allocate(second, "IMR")
    for viewer in (people["data_manager"], people["statistician"]):
        records = {e.record for e in trail_of(first, viewer)}
        assert not [r for r in records if r.startswith(("PANSS", "Randomisation"))]
