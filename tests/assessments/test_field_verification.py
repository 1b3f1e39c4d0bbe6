"""Source-data verification per field and the monitors' worklist: unverified complete forms
per site, oldest first; a field mark holds for the version it was made on and any later change
resets it; possible while frozen, not after lock; audited."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import DatabaseError, transaction

from assessments import selectors, services
from assessments.models import FieldVerification, InstrumentResponse
from tests.assessments.helpers import typical_items
from tests.factories import allocate, make_participant, make_staff, page_client
from trial.audit import event_model
from trial.errors import Conflict, Forbidden, Invalid
from trial.models import DatasetLock
from trial.roles import Role


def save(user: Any, participant: Any, code: str, **changes: Any) -> InstrumentResponse:
    items = typical_items(code) | changes.pop("items", {})
    return services.response_save(
        user=user,
        participant=participant,
        timepoint="baseline",
        code=code,
        items=items,
        status=changes.pop("status", "complete"),
        **changes,
    ).response


def test_a_field_mark_holds_for_its_version_and_a_later_change_resets_it(
    assessor: Any, monitor: Any, participant: Any
) -> None:
    response = save(assessor, participant, "PANSS")
    services.response_verify_fields(
        user=monitor, response=response, version=1, fields=["P1", "interview_date"]
    )
    assert set(selectors.field_verifications(response)) == {"P1", "interview_date"}
    event = event_model(FieldVerification).objects.filter(item="P1").get()
    assert event.pgh_context["user"] == monitor.pk

    changed = save(assessor, participant, "PANSS", items={"P2": 6}, version=1, reason="Typo")
    assert changed.version == 2
    assert selectors.field_verifications(changed) == {}  # reset by the change
    assert FieldVerification.objects.count() == 2  # the marks of version 1 stay in the record


def test_only_verifiers_mark_fields_of_a_complete_version_they_name(
    assessor: Any, monitor: Any, data_manager: Any, participant: Any
) -> None:
    draft = save(assessor, participant, "HAMD6", status="draft")
    with pytest.raises(Invalid):
        services.response_verify_fields(user=monitor, response=draft, version=1, fields=["HAMD6_1"])
    with pytest.raises(Forbidden):
        services.response_verify_fields(
            user=assessor, response=draft, version=1, fields=["HAMD6_1"]
        )
    response = save(assessor, participant, "HAMD6", version=1)
    with pytest.raises(Conflict):
        services.response_verify_fields(
            user=monitor, response=response, version=1, fields=["HAMD6_1"]
        )
    with pytest.raises(Invalid) as refused:
        services.response_verify_fields(
            user=data_manager, response=response, version=2, fields=["HAMD6_1", "P1"]
        )
    assert "P1" in str(refused.value.fields)
    assert not FieldVerification.objects.exists()


def test_fields_are_verified_while_frozen_and_never_after_lock(
    assessor: Any, monitor: Any, data_manager: Any, participant: Any
) -> None:
    response = save(assessor, participant, "HAMD6")
    DatasetLock.objects.create(level="freeze", reason="Cleaning", set_by=data_manager)
    services.response_verify_fields(user=monitor, response=response, version=1, fields=["HAMD6_1"])
    DatasetLock.objects.create(level="lock", reason="Final", set_by=data_manager)
    with pytest.raises(Conflict):
        services.response_verify_fields(
            user=monitor, response=response, version=1, fields=["HAMD6_2"]
        )
    # The database refuses it too, whatever the path.
    with pytest.raises(DatabaseError), transaction.atomic():
        FieldVerification.objects.create(
            response=response, item="HAMD6_3", version=1, verified_by=monitor
        )


def test_the_worklist_lists_unverified_complete_forms_per_site_oldest_first(
    assessor: Any, monitor: Any, participant: Any
) -> None:
    elsewhere = make_participant("GLA")
    gla_assessor = make_staff("assessor-gla", Role.ASSESSOR, sites=["GLA"])
    first = save(assessor, participant, "PANSS")
    save(assessor, participant, "HAMD6", status="draft")  # a draft: not listed
    second = save(gla_assessor, elsewhere, "GAF")
    verified = save(assessor, participant, "YMRS")
    services.response_verify(user=monitor, response=verified, version=1)
    services.response_verify_fields(user=monitor, response=first, version=1, fields=["P1"])

    rows = selectors.sdv_worklist(user=monitor)
    assert [r.response.pk for r in rows] == [first.pk, second.pk]
    assert rows[0].fields_verified == 1 and rows[1].fields_verified == 0
    assert [r.response.pk for r in selectors.sdv_worklist(user=monitor, site="GLA")] == [second.pk]
    assert selectors.sdv_worklist(user=assessor) == []
    # The counts per site (from the visits' progress rows) are the list's.
    assert selectors.sdv_waiting_per_site(user=monitor) == {participant.site.code: 1, "GLA": 1}
    assert selectors.sdv_waiting_per_site(user=assessor) == {}

    html = page_client(monitor).get("/assessments/verification/").content.decode()
    assert html.index(participant.study_id) < html.index(elsewhere.study_id)
    assert page_client(assessor).get("/assessments/verification/").status_code == 403
    services.response_verify(user=monitor, response=second, version=1)
    assert selectors.sdv_waiting_per_site(user=monitor) == {participant.site.code: 1}


def test_the_clinicians_form_never_reaches_the_blinded_worklist(
    clinician: Any, assessor: Any, monitor: Any, participant: Any
) -> None:
    allocate(participant, "IMR")
    save(clinician, participant, "IMRS_C")
    assert InstrumentResponse.objects.filter(instrument="IMRS_C", status="complete").exists()
    assert selectors.sdv_worklist(user=monitor) == []
    assert selectors.sdv_waiting_per_site(user=monitor) == {}
    # Data managers are blinded too: neither the list nor its counts hold the form.
    data_manager = make_staff("dm", Role.DATA_MANAGER)
    assert selectors.sdv_waiting_per_site(user=data_manager) == {}
    assert selectors.sdv_worklist(user=data_manager) == []
    save(assessor, participant, "GAF")
    assert selectors.sdv_waiting_per_site(user=data_manager) == {participant.site.code: 1}


def test_the_form_page_marks_ticked_fields(assessor: Any, monitor: Any, participant: Any) -> None:
    response = save(assessor, participant, "HAMD6")
    client = page_client(monitor)
    url = f"/assessments/participants/{participant.pk}/baseline/HAMD6/"
    page = client.get(url).content.decode()
    assert 'name="field" value="HAMD6_1" form="verify-fields"' in page
    answer = client.post(url + "verify-fields/", {"version": "1", "field": ["HAMD6_1", "HAMD6_2"]})
    assert answer.status_code == 302
    page = client.get(url).content.decode()
    assert 'id="verified-HAMD6_1"' in page and 'id="verified-HAMD6_2"' in page
    assert 'value="HAMD6_3" form="verify-fields"' in page
    assert set(selectors.field_verifications(response)) == {"HAMD6_1", "HAMD6_2"}


@pytest.mark.browser
def test_a_monitor_works_through_the_verification_worklist(
    assessor: Any, monitor: Any, participant: Any, page: Any, log_in: Any
) -> None:
    save(assessor, participant, "HAMD6")
    log_in(monitor)
    page.get_by_role("link", name="Verification").first.click()
    page.locator("#sdv-forms").get_by_role("link", name="HAM-D6").click()
    page.locator('input[name="field"][value="HAMD6_1"]').check()
    page.locator('input[name="field"][value="HAMD6_2"]').check()
    page.get_by_role("button", name="Mark the ticked fields of version 1").click()
    page.locator("#verified-HAMD6_2").wait_for()
    page.get_by_role("button", name="Mark version 1 as source-verified").click()
    page.get_by_text("marked as source-verified").first.wait_for()
    page.goto("/assessments/verification/")
    assert "No complete form is waiting" in page.inner_text("#sdv-forms")
    assert page.console_problems == []
