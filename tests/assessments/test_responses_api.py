"""PUT and GET of a form as API.md describes them: validation, versions, reasons, audit."""

from __future__ import annotations

from typing import Any

import pytest

from assessments.models import InstrumentResponse, Query
from instruments import registry
from tests.assessments.helpers import extreme_items, form_url, put_form, typical_items
from tests.factories import allocate, api_client, make_participant, make_staff
from trial.audit import events_of
from trial.models import DatasetLock
from trial.roles import Role

FORMS = [i.code for i in registry.forms()]


def panss(**changes: Any) -> dict[str, Any]:
    return typical_items("PANSS") | changes


def test_a_complete_panss_is_created_with_its_scores(assessor: Any, participant: Any) -> None:
    response = put_form(assessor, participant, "baseline", "PANSS", extreme_items("PANSS", "max"))
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "complete"
    assert body["version"] == 1
    assert body["scores"]["PANSS_TOTAL"] == 210
    assert body["rater"] == "assessor-bal"
    assert body["rater_role"] == "assessor"


@pytest.mark.parametrize("code", [c for c in FORMS if c not in ("IMRS_C", "DEMOG")])
def test_the_minimum_and_maximum_forms_give_the_spec_range(
    code: str, assessor: Any, sites: dict
) -> None:
    instrument = registry.get(code)
    participant = make_participant("BAL")
    timepoint = instrument.timepoints[0]
    if timepoint != "baseline":
        allocate(participant, "TAU")
    low = put_form(assessor, participant, timepoint, code, extreme_items(code, "min"))
    assert low.status_code == 201, low.json()
    high = put_form(
        assessor, participant, timepoint, code, extreme_items(code, "max"), version=1, reason="max"
    )
    assert high.status_code == 200, high.json()
    primary = [s for s in instrument.scores if not s.sensitivity and s.method != "indicator"]
    for score in primary:
        if score.code == "PSP_DECILE":
            assert (low.json()["scores"][score.code], high.json()["scores"][score.code]) == (1, 81)
            continue
        assert low.json()["scores"][score.code] == score.min, score.code
        assert high.json()["scores"][score.code] == score.max, score.code


@pytest.mark.parametrize("code", [c for c in FORMS if c != "IMRS_C"])
def test_every_out_of_range_or_wrong_step_value_is_refused_with_a_message_naming_the_item(
    code: str, assessor: Any, sites: dict
) -> None:
    instrument = registry.get(code)
    participant = make_participant("BAL")
    timepoint = instrument.timepoints[0]
    if timepoint != "baseline":
        allocate(participant, "TAU")
    for item in instrument.entered_items:
        if item.type == "text":
            bad_values: list[Any] = ["F32.1", ""]
        else:
            step = item.step or 1
            assert item.min is not None
            bad_values = [item.min - step, (item.max or 0) + step, item.min + step / 2, "3", True]
        for bad in bad_values:
            items = typical_items(code) | {item.code: bad}
            response = put_form(assessor, participant, timepoint, code, items, status="draft")
            assert response.status_code == 400, (item.code, bad, response.json())
            errors = response.json()
            assert list(errors) == [item.code], (item.code, bad, errors)
            message = errors[item.code][0]
            assert item.code in message
            assert item.allowed_text() in message
    assert not InstrumentResponse.objects.filter(participant=participant).exists()


def test_one_message_per_bad_item_and_nothing_is_written(assessor: Any, participant: Any) -> None:
    response = put_form(
        assessor, participant, "baseline", "PANSS", panss(P1=0, N3=8, G5=2.5, G9="x")
    )
    assert response.status_code == 400
    errors = response.json()
    assert set(errors) == {"P1", "N3", "G5", "G9"}
    assert all(len(messages) == 1 for messages in errors.values())
    assert "1, 2, 3, 4, 5, 6 or 7" in errors["P1"][0]
    assert not InstrumentResponse.objects.exists()


def test_unknown_items_and_reasons_are_refused(assessor: Any, participant: Any) -> None:
    response = put_form(
        assessor,
        participant,
        "baseline",
        "HAMD6",
        {"HAMD6_1": 1, "HAMD6_7": 2},
        missing={"HAMD6_2": "forgot"},
        status="draft",
    )
    assert response.status_code == 400
    assert set(response.json()) == {"HAMD6_7", "HAMD6_2"}
    assert "refused" in response.json()["HAMD6_2"][0]


def test_a_complete_form_needs_every_item_answered_or_given_a_reason(
    assessor: Any, participant: Any
) -> None:
    items = typical_items("HAMD6")
    del items["HAMD6_3"], items["HAMD6_4"]
    response = put_form(
        assessor, participant, "baseline", "HAMD6", items, missing={"HAMD6_4": "refused"}
    )
    assert response.status_code == 400
    assert list(response.json()) == ["HAMD6_3"]
    draft = put_form(
        assessor,
        participant,
        "baseline",
        "HAMD6",
        items,
        missing={"HAMD6_4": "refused"},
        status="draft",
    )
    assert draft.status_code == 201
    assert draft.json()["scores"]["HAMD6_TOTAL"] is None


def test_a_value_and_a_missing_reason_for_one_item_are_refused(
    assessor: Any, participant: Any
) -> None:
    response = put_form(
        assessor, participant, "baseline", "PANSS", panss(), missing={"P7": "refused"}
    )
    assert response.status_code == 400
    assert list(response.json()) == ["P7"]


def test_a_missing_item_is_stored_as_a_reason_never_as_a_number(
    assessor: Any, participant: Any
) -> None:
    items = panss()
    del items["P7"]
    response = put_form(
        assessor, participant, "baseline", "PANSS", items, missing={"P7": "refused"}
    )
    assert response.status_code == 201
    saved = InstrumentResponse.objects.get()
    assert "P7" not in saved.items and saved.missing == {"P7": "refused"}
    assert saved.scores["PANSS_TOTAL"] is None
    assert saved.scores["PANSS_TOTAL_PRO"] is not None


def test_ymrs_accepts_half_points_on_0_to_4_items_and_any_integer_on_0_to_8_items(
    assessor: Any, participant: Any
) -> None:
    items = typical_items("YMRS") | {"YMRS_1": 2.5, "YMRS_5": 3, "YMRS_9": 7}
    response = put_form(assessor, participant, "baseline", "YMRS", items)
    assert response.status_code == 201, response.json()
    assert response.json()["items"]["YMRS_1"] == 2.5
    refused = put_form(
        assessor, participant, "baseline", "YMRS", items | {"YMRS_5": 3.5}, version=1, reason="x"
    )
    assert refused.status_code == 400
    assert "YMRS_5" in refused.json()


def test_a_stale_version_is_a_conflict_and_writes_nothing(assessor: Any, participant: Any) -> None:
    first = put_form(assessor, participant, "baseline", "PANSS", panss(), status="draft")
    assert first.status_code == 201
    second = put_form(
        assessor, participant, "baseline", "PANSS", panss(P1=5), status="draft", version=1
    )
    assert second.status_code == 200
    assert second.json()["version"] == 2
    stale = put_form(
        assessor, participant, "baseline", "PANSS", panss(P1=6), status="draft", version=1
    )
    assert stale.status_code == 409
    assert InstrumentResponse.objects.get().items["P1"] == 5


def test_changing_an_existing_form_without_a_version_is_a_conflict(
    assessor: Any, participant: Any
) -> None:
    put_form(assessor, participant, "baseline", "PANSS", panss(), status="draft")
    again = put_form(assessor, participant, "baseline", "PANSS", panss(P1=5), status="draft")
    assert again.status_code == 409


def test_a_new_form_takes_version_0_or_none_and_refuses_a_later_version(
    assessor: Any, participant: Any
) -> None:
    assert (
        put_form(
            assessor, participant, "baseline", "GAF", {"GAF_S": 50, "GAF_F": 50}, version=3
        ).status_code
        == 409
    )
    assert (
        put_form(
            assessor, participant, "baseline", "GAF", {"GAF_S": 50, "GAF_F": 50}, version=0
        ).status_code
        == 201
    )


def test_a_completed_form_changes_only_with_a_reason(assessor: Any, participant: Any) -> None:
    put_form(assessor, participant, "baseline", "PANSS", panss())
    without = put_form(assessor, participant, "baseline", "PANSS", panss(P1=6), version=1)
    assert without.status_code == 400
    assert "reason" in without.json()
    assert InstrumentResponse.objects.get().items["P1"] == panss()["P1"]
    even_as_draft = put_form(
        assessor, participant, "baseline", "PANSS", panss(), version=1, status="draft"
    )
    assert even_as_draft.status_code == 400
    with_reason = put_form(
        assessor,
        participant,
        "baseline",
        "PANSS",
        panss(P1=6),
        version=1,
        reason="Misread the scale",
    )
    assert with_reason.status_code == 200
    assert with_reason.json()["version"] == 2


def test_saving_the_same_content_again_is_not_a_change(assessor: Any, participant: Any) -> None:
    put_form(assessor, participant, "baseline", "PANSS", panss())
    again = put_form(assessor, participant, "baseline", "PANSS", panss(), version=1)
    assert again.status_code == 200
    assert again.json()["version"] == 1


def test_the_audit_trail_keeps_every_version_with_who_and_why(
    assessor: Any, participant: Any
) -> None:
    put_form(assessor, participant, "baseline", "PANSS", panss())
    put_form(
        assessor, participant, "baseline", "PANSS", panss(P1=6), version=1, reason="Misread P1"
    )
    put_form(assessor, participant, "baseline", "PANSS", panss(P1=7), version=2, reason="Informant")
    saved = InstrumentResponse.objects.get()
    events = list(events_of(saved).order_by("pgh_id"))
    assert [e.version for e in events] == [1, 2, 3]
    assert [e.items["P1"] for e in events] == [panss()["P1"], 6, 7]
    assert events[1].pgh_context["reason"] == "Misread P1"
    assert events[2].pgh_context["username"] == "assessor-bal"
    history = api_client(assessor).get(form_url(participant, "baseline", "PANSS") + "history/")
    assert [h["reason"] for h in history.json()] == ["", "Misread P1", "Informant"]


def test_get_returns_the_saved_form_and_404_before_anything_is_saved(
    assessor: Any, participant: Any
) -> None:
    client = api_client(assessor)
    assert client.get(form_url(participant, "baseline", "SHS")).status_code == 404
    put_form(assessor, participant, "baseline", "SHS", typical_items("SHS"))
    body = client.get(form_url(participant, "baseline", "SHS")).json()
    assert body["items"] == typical_items("SHS")
    assert body["version"] == 1 and body["status"] == "complete"
    assert body["scores"]["SHS_TOTAL"] == sum(typical_items("SHS").values())


def test_unknown_instruments_and_forms_outside_the_schedule_are_404(
    assessor: Any, participant: Any
) -> None:
    client = api_client(assessor)
    assert (
        client.put(form_url(participant, "baseline", "NOPE"), {}, format="json").status_code == 404
    )
    assert (
        put_form(assessor, participant, "baseline", "CSQ8", typical_items("CSQ8")).status_code
        == 404
    )
    assert put_form(assessor, participant, "baseline", "SERVICE_USE", {}).status_code == 404
    assert client.get(form_url(participant, "month6", "PANSS")).status_code == 404


def test_post_intervention_forms_open_only_after_randomization(
    assessor: Any, participant: Any
) -> None:
    refused = put_form(assessor, participant, "post", "PANSS", panss())
    assert refused.status_code == 400
    allocate(participant, "IMR")
    assert put_form(assessor, participant, "post", "CSQ8", typical_items("CSQ8")).status_code == 201


def test_baseline_entry_needs_recorded_consent(assessor: Any, sites: dict) -> None:
    eligible = make_participant("BAL", stage="eligible")
    assert (
        put_form(assessor, eligible, "baseline", "GAF", {"GAF_S": 40, "GAF_F": 40}).status_code
        == 400
    )


def test_participants_outside_the_users_sites_are_404(assessor: Any, sites: dict) -> None:
    elsewhere = make_participant("GLA")
    assert put_form(assessor, elsewhere, "baseline", "PANSS", panss()).status_code == 404
    assert api_client(assessor).get(form_url(elsewhere, "baseline", "PANSS")).status_code == 404


def test_the_clinician_only_form_is_refused_to_an_assessor(assessor: Any, participant: Any) -> None:
    response = put_form(assessor, participant, "baseline", "IMRS_C", typical_items("IMRS_C"))
    assert response.status_code == 403
    assert not InstrumentResponse.objects.exists()


def test_an_assessor_never_sees_the_clinicians_imrs(
    assessor: Any, clinician: Any, participant: Any, data_manager: Any, monitor: Any
) -> None:
    created = put_form(clinician, participant, "baseline", "IMRS_C", typical_items("IMRS_C"))
    assert created.status_code == 201
    assert created.json()["rater_role"] == "clinician"
    for blinded in (assessor, data_manager, monitor):
        response = api_client(blinded).get(form_url(participant, "baseline", "IMRS_C"))
        assert response.status_code == 403
        assert "IMRS_C_1" not in response.content.decode()
    both = make_staff("both", Role.CLINICIAN, Role.ASSESSOR, sites=["BAL"])
    assert api_client(both).get(form_url(participant, "baseline", "IMRS_C")).status_code == 403
    assert (
        put_form(
            both, participant, "baseline", "IMRS_C", typical_items("IMRS_C"), version=1, reason="x"
        ).status_code
        == 403
    )


def test_a_clinician_may_not_enter_the_blinded_interview(clinician: Any, participant: Any) -> None:
    assert put_form(clinician, participant, "baseline", "PANSS", panss()).status_code == 403
    assert (
        put_form(clinician, participant, "baseline", "IMRS_P", typical_items("IMRS_P")).status_code
        == 403
    )


def test_imrs_item_13_not_applicable_keeps_the_prorated_total(
    clinician: Any, participant: Any
) -> None:
    items = typical_items("IMRS_C")
    del items["IMRS_C_13"]
    response = put_form(
        clinician, participant, "baseline", "IMRS_C", items, missing={"IMRS_C_13": "not_applicable"}
    )
    assert response.status_code == 201, response.json()
    scores = response.json()["scores"]
    assert scores["IMRS_C_TOTAL"] is None
    assert scores["IMRS_C_TOTAL_PRO"] == 45 and scores["IMRS_C_MED_NA"] == 1


def test_demographics_derive_site_sex_and_age_and_never_ask_for_the_birth_date(
    assessor: Any, participant: Any
) -> None:
    items = extreme_items("DEMOG")
    response = put_form(assessor, participant, "baseline", "DEMOG", items | {"SEX": 2, "SITE": 1})
    assert response.status_code == 201, response.json()
    body = response.json()
    assert "SEX" not in body["items"] and "DOB" not in body["items"]
    assert body["derived"] == {"SITE": 1, "SEX": 2, "AGE": None}
    wrong = put_form(
        assessor, participant, "baseline", "DEMOG", items | {"SEX": 1}, version=1, reason="x"
    )
    assert wrong.status_code == 400 and "SEX" in wrong.json()
    allocate(participant, "TAU")
    again = api_client(assessor).get(form_url(participant, "baseline", "DEMOG")).json()
    born = participant.date_of_birth
    assert again["derived"]["AGE"] >= 18 and again["derived"]["AGE"] <= 120
    assert "DOB" not in again["derived"] and born.isoformat() not in str(again)


def test_demographics_check_the_icd10_code_against_the_group(
    assessor: Any, participant: Any
) -> None:
    items = extreme_items("DEMOG") | {"DX_GROUP": 2, "DX_ICD10": "F20.1"}
    response = put_form(assessor, participant, "baseline", "DEMOG", items)
    assert response.status_code == 400
    assert "DX_ICD10" in response.json()
    other = extreme_items("DEMOG") | {"HOUSING": 9}
    response = put_form(assessor, participant, "baseline", "DEMOG", other)
    assert response.status_code == 400 and "HOUSING" in response.json()
    specified = put_form(
        assessor, participant, "baseline", "DEMOG", other, comments={"HOUSING": "Hostel"}
    )
    assert specified.status_code == 201


def test_a_coordinator_may_enter_demographics_but_not_ratings(participant: Any) -> None:
    coordinator = make_staff("coord", Role.COORDINATOR, sites=["BAL"])
    assert (
        put_form(coordinator, participant, "baseline", "DEMOG", extreme_items("DEMOG")).status_code
        == 201
    )
    assert (
        put_form(coordinator, participant, "baseline", "GAF", {"GAF_S": 5, "GAF_F": 5}).status_code
        == 403
    )


@pytest.mark.parametrize("level", ["freeze", "lock"])
def test_a_frozen_or_locked_database_refuses_data_entry_with_409(
    level: str, assessor: Any, participant: Any, data_manager: Any
) -> None:
    put_form(assessor, participant, "baseline", "PANSS", panss(), status="draft")
    DatasetLock.objects.create(level=level, reason="Interim", set_by=data_manager)
    response = put_form(
        assessor, participant, "baseline", "PANSS", panss(P1=7), status="draft", version=1
    )
    assert response.status_code == 409
    assert InstrumentResponse.objects.get().version == 1


def test_the_participants_form_list_shows_status_but_no_clinician_values_to_assessors(
    assessor: Any, clinician: Any, participant: Any
) -> None:
    put_form(clinician, participant, "baseline", "IMRS_C", typical_items("IMRS_C"))
    rows = api_client(assessor).get(f"/api/v1/participants/{participant.pk}/assessments/").json()
    imrs_c = next(r for r in rows if r["instrument"] == "IMRS_C" and r["timepoint"] == "baseline")
    assert imrs_c["status"] == "complete"
    assert imrs_c["may_read"] is False and imrs_c["may_enter"] is False
    assert not any(r["instrument"] == "CSQ8" and r["timepoint"] == "baseline" for r in rows)


def test_the_instrument_list_describes_every_instrument(assessor: Any) -> None:
    body = api_client(assessor).get("/api/v1/instruments/").json()
    by_code = {i["code"]: i for i in body}
    assert set(by_code) >= {
        "GAF",
        "PSP",
        "PANSS",
        "HAMD6",
        "YMRS",
        "IMRS_P",
        "IMRS_C",
        "MHRM",
        "SHS",
        "CSQ8",
        "DEMOG",
        "SERVICE_USE",
    }
    assert by_code["IMRS_C"]["rater"] == "clinician"
    assert by_code["PANSS"]["rater"] == "assessor"
    assert by_code["CSQ8"]["timepoints"] == ["post", "followup"]
    p1 = by_code["PANSS"]["items"][0]
    assert (p1["code"], p1["label"], p1["allowed_values"]) == (
        "P1",
        "Delusions",
        [1, 2, 3, 4, 5, 6, 7],
    )
    assert by_code["YMRS"]["items"][0]["allowed_values"][:3] == [0, 0.5, 1]
    assert {s["code"] for s in by_code["PANSS"]["scores"]} >= {"PANSS_TOTAL", "PANSS_TOTAL_PRO"}
    assert any(s["sensitivity"] for s in by_code["PANSS"]["scores"])


def test_verification_marks_a_complete_form_and_any_later_change_clears_it(
    assessor: Any, participant: Any, monitor: Any
) -> None:
    put_form(assessor, participant, "baseline", "PANSS", panss())
    url = form_url(participant, "baseline", "PANSS") + "verify/"
    assert api_client(assessor).post(url, {"version": 1}, format="json").status_code == 403
    assert api_client(monitor).post(url, {"version": 2}, format="json").status_code == 409
    verified = api_client(monitor).post(url, {"version": 1}, format="json")
    assert verified.status_code == 200
    assert verified.json()["status"] == "verified"
    assert verified.json()["verified_by"] == "monitor"
    assert api_client(monitor).post(url, {"version": 1}, format="json").status_code == 409
    changed = put_form(
        assessor, participant, "baseline", "PANSS", panss(P2=7), version=1, reason="SDV finding"
    )
    assert changed.status_code == 200
    assert changed.json()["status"] == "complete" and changed.json()["verified_by"] is None
    labels = [
        (e.status, e.verified_by_id)
        for e in events_of(InstrumentResponse.objects.get()).order_by("pgh_id")
    ]
    assert labels == [("complete", None), ("verified", monitor.pk), ("complete", None)]


def test_verification_stays_possible_while_frozen_but_data_do_not_change(
    assessor: Any, participant: Any, monitor: Any, data_manager: Any
) -> None:
    from django.db import DatabaseError, transaction

    put_form(assessor, participant, "baseline", "PANSS", panss())
    DatasetLock.objects.create(level="freeze", reason="Cleaning", set_by=data_manager)
    url = form_url(participant, "baseline", "PANSS") + "verify/"
    assert api_client(monitor).post(url, {"version": 1}, format="json").status_code == 200
    with pytest.raises(DatabaseError), transaction.atomic():
        InstrumentResponse.objects.update(items={"P1": 1})
    with pytest.raises(DatabaseError), transaction.atomic():
        InstrumentResponse.objects.update(status="draft")
    DatasetLock.objects.create(level="lock", reason="Final", set_by=data_manager)
    with pytest.raises(DatabaseError), transaction.atomic():
        InstrumentResponse.objects.update(status="complete")


def test_a_draft_cannot_be_verified(assessor: Any, participant: Any, data_manager: Any) -> None:
    put_form(assessor, participant, "baseline", "PANSS", panss(), status="draft")
    url = form_url(participant, "baseline", "PANSS") + "verify/"
    assert api_client(data_manager).post(url, {"version": 1}, format="json").status_code == 400


def test_the_verified_status_cannot_be_sent_by_the_rater(assessor: Any, participant: Any) -> None:
    response = put_form(assessor, participant, "baseline", "PANSS", panss(), status="verified")
    assert response.status_code == 400
    assert "status" in response.json()


def test_baseline_forms_complete_the_randomization_requirement(
    assessor: Any, participant: Any
) -> None:
    from assessments.selectors import baseline_missing

    for code in ("DEMOG", "GAF", "PSP", "PANSS", "HAMD6", "YMRS"):
        assert (
            put_form(assessor, participant, "baseline", code, typical_items(code)).status_code
            == 201
        )
    assert baseline_missing(participant) == []
    assert not Query.objects.exists()
