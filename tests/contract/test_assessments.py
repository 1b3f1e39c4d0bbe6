"""API.md, "Assessments": the instruments, and saving and reading a form."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.contract.client import (
    Api,
    assert_error_shape,
    consented,
    form_items,
    randomize,
)

# instruments/instruments.json of the specification (a copy is kept with the tests).
SPEC = json.loads(
    (Path(__file__).parents[1] / "instruments" / "data" / "instruments.json").read_text()
)
TIMEPOINTS = {"T0": "baseline", "T1": "post", "T2": "followup"}
PANSS = [f"P{i}" for i in range(1, 8)] + [f"N{i}" for i in range(1, 8)]
PANSS += [f"G{i}" for i in range(1, 17)]


@pytest.fixture
def coordinator(staff: Any) -> Api:
    return staff("coordinator", sites=("BAL",))


@pytest.fixture
def assessor(staff: Any) -> Api:
    return staff("assessor", sites=("BAL",))


@pytest.fixture
def participant(coordinator: Api) -> dict[str, Any]:
    return consented(coordinator)


def form(participant: dict[str, Any], code: str, timepoint: str = "baseline") -> str:
    return f"participants/{participant['id']}/assessments/{timepoint}/{code}/"


def test_instruments_lists_every_instrument_with_items_and_scores(coordinator: Api) -> None:
    response = coordinator.get("instruments/")
    assert response.status_code == 200
    listed = {i["code"]: i for i in response.json()}
    for code in ("GAF", "PSP", "PANSS", "HAMD6", "YMRS", "IMRS_P", "IMRS_C", "MHRM", "SHS"):
        assert code in listed
    for code in ("CSQ8", "DEMOG", "SERVICE_USE", "IMR_FID"):
        assert code in listed
    for code, instrument in listed.items():
        assert isinstance(instrument["name"], str) and instrument["name"]
        assert isinstance(instrument["rater"], str) and instrument["rater"]
        assert set(instrument["timepoints"]) <= set(TIMEPOINTS.values()), code
        assert isinstance(instrument["scores"], list)
        for item in instrument["items"]:
            assert isinstance(item["code"], str) and isinstance(item["label"], str)
            assert "allowed_values" in item
        for score in instrument["scores"]:
            assert isinstance(score["code"], str) and score["code"]
        if code in SPEC:  # the codes are those of instruments.json
            assert {i["code"] for i in instrument["items"]} == {
                i["code"] for i in SPEC[code]["items"]
            }, code
            assert {s["code"] for s in SPEC[code].get("scores", [])} <= {
                s["code"] for s in instrument["scores"]
            }, code
            if code not in ("SERVICE_USE", "IMR_FID"):  # no participant timepoints
                assert instrument["timepoints"] == [
                    TIMEPOINTS[t] for t in SPEC[code]["timepoints"]
                ], code
    panss = listed["PANSS"]
    assert [i["code"] for i in panss["items"]] == PANSS
    assert all(i["allowed_values"] == [1, 2, 3, 4, 5, 6, 7] for i in panss["items"])
    assert "PANSS_TOTAL" in {s["code"] for s in panss["scores"]}
    # The fidelity scale is there too: its item codes are those of POST /fidelity-ratings/.
    fidelity = listed["IMR_FID"]
    assert [i["code"] for i in fidelity["items"]] == [f"FID_{n}" for n in range(1, 14)]
    assert all(i["allowed_values"] == [1, 2, 3, 4, 5] for i in fidelity["items"])
    assert coordinator.get("instruments/IMR_FID/").json() == fidelity


def test_blinded_users_find_no_fidelity_scale_in_the_instruments(assessor: Api) -> None:
    listed = {i["code"] for i in assessor.get("instruments/").json()}
    assert "PANSS" in listed and "IMR_FID" not in listed
    assert assessor.get("instruments/IMR_FID/").status_code == 404


def test_a_form_is_created_201_then_changed_200_with_scores_and_versions(
    assessor: Api, participant: dict[str, Any]
) -> None:
    url = form(participant, "PANSS")
    items = dict.fromkeys(PANSS, 2)
    created = assessor.put(url, {"items": {"P1": 3}, "status": "draft"})
    assert created.status_code == 201, created.content
    body = created.json()
    assert {"items", "scores", "status", "version"} <= set(body)
    assert (body["items"], body["status"], body["version"]) == ({"P1": 3}, "draft", 1)
    assert body["scores"]["PANSS_TOTAL"] is None  # not every item is there yet

    changed = assessor.put(url, {"items": items, "status": "complete", "version": 1})
    assert changed.status_code == 200, changed.content
    body = changed.json()
    assert (body["status"], body["version"]) == ("complete", 2)
    assert body["scores"]["PANSS_TOTAL"] == 60
    assert body["scores"]["PANSS_P"] == 14 and body["scores"]["PANSS_G"] == 32

    saved = assessor.get(url)
    assert saved.status_code == 200
    read = saved.json()
    for field in ("items", "scores", "status", "version"):
        assert read[field] == body[field], field


def test_a_stale_version_is_409_and_changes_nothing(
    assessor: Api, participant: dict[str, Any]
) -> None:
    url = form(participant, "GAF")
    assert assessor.put(url, {"items": {"GAF_S": 50}, "version": 0}).status_code == 201
    assert assessor.put(url, {"items": {"GAF_S": 51}, "version": 1}).status_code == 200
    assert_error_shape(assessor.put(url, {"items": {"GAF_S": 52}, "version": 1}), 409)
    assert_error_shape(assessor.put(url, {"items": {"GAF_S": 52}}), 409)  # no version at all
    assert assessor.get(url).json()["items"] == {"GAF_S": 51}


def test_bad_items_are_400_with_one_message_per_bad_item_and_nothing_is_saved(
    assessor: Api, participant: dict[str, Any]
) -> None:
    url = form(participant, "PANSS")
    items = dict.fromkeys(PANSS, 2) | {"P1": 0, "P2": 8, "N1": "severe", "G1": 2.5}
    response = assessor.put(url, {"items": items, "status": "complete"})
    body = assert_error_shape(response, 400)
    for code in ("P1", "P2", "N1", "G1"):
        assert code in body and len(body[code]) == 1, body
    assert not {"P3", "N2", "G2"} & set(body)
    assert_error_shape(assessor.get(url), 404)


def test_unknown_items_and_missing_reasons_are_refused_by_name(
    assessor: Api, participant: dict[str, Any]
) -> None:
    url = form(participant, "GAF")
    response = assessor.put(
        url, {"items": {"GAF_S": 40, "GAF_X": 1}, "missing": {"GAF_F": "forgot"}}
    )
    body = assert_error_shape(response, 400)
    assert "GAF_X" in str(body) and "GAF_F" in str(body)


def test_a_missing_item_has_a_reason_and_leaves_its_score_missing(
    assessor: Api, participant: dict[str, Any]
) -> None:
    url = form(participant, "PANSS")
    items = {code: 2 for code in PANSS if code != "P7"}
    response = assessor.put(
        url, {"items": items, "missing": {"P7": "refused"}, "status": "complete"}
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["scores"]["PANSS_TOTAL"] is None and body["scores"]["PANSS_P"] is None
    assert body["scores"]["PANSS_N"] == 14
    assert assessor.get(url).json()["missing"] == {"P7": "refused"}


def test_a_completed_form_changes_only_with_a_reason(
    assessor: Api, participant: dict[str, Any]
) -> None:
    url = form(participant, "GAF")
    complete = {"items": {"GAF_S": 50, "GAF_F": 55}, "status": "complete"}
    assert assessor.put(url, complete).status_code == 201
    change = {"items": {"GAF_S": 50, "GAF_F": 45}, "status": "complete", "version": 1}
    assert "reason" in assert_error_shape(assessor.put(url, change), 400)
    assert assessor.get(url).json()["items"]["GAF_F"] == 55
    response = assessor.put(url, change | {"reason": "Transcription error"})
    assert response.status_code == 200
    assert (response.json()["version"], response.json()["items"]["GAF_F"]) == (2, 45)
    # Going back to draft is a change too.
    back = {"items": {"GAF_S": 50}, "status": "draft", "version": 2}
    assert "reason" in assert_error_shape(assessor.put(url, back), 400)


def test_the_timepoints_are_baseline_post_and_followup(
    staff: Any, coordinator: Api, assessor: Api, settings: Any, lists: str
) -> None:
    settings.RANDOMIZATION_REQUIRES_BASELINE = False
    participant = consented(coordinator)
    gaf = {"items": {"GAF_S": 60, "GAF_F": 61}, "status": "complete"}
    assert assessor.put(form(participant, "GAF", "baseline"), gaf).status_code == 201
    before = assessor.put(form(participant, "GAF", "post"), gaf)
    assert before.status_code in (400, 409)  # not randomised yet
    assert_error_shape(before, before.status_code)
    assert randomize(coordinator, participant["id"]).status_code == 201
    for timepoint in ("post", "followup"):
        response = assessor.put(form(participant, "GAF", timepoint), gaf)
        assert response.status_code == 201, (timepoint, response.content)
        assert assessor.get(form(participant, "GAF", timepoint)).json()["items"] == gaf["items"]
    assert_error_shape(assessor.get(form(participant, "GAF", "week3")), 404)
    assert_error_shape(assessor.put(form(participant, "CSQ8", "baseline"), gaf), 404)
    assert_error_shape(assessor.put(form(participant, "NOPE", "baseline"), gaf), 404)


def test_the_forms_of_a_participant_outside_the_callers_sites_are_404(
    staff: Any, participant: dict[str, Any]
) -> None:
    elsewhere = staff("assessor", sites=("GLA",))
    url = form(participant, "GAF")
    assert_error_shape(elsewhere.put(url, {"items": {"GAF_S": 50}}), 404)
    assert_error_shape(elsewhere.get(url), 404)


def test_forms_built_from_the_instrument_list_are_accepted(
    assessor: Api, participant: dict[str, Any]
) -> None:
    instruments = assessor.get("instruments/").json()
    for code in ("DEMOG", "GAF", "PSP", "PANSS", "HAMD6", "YMRS", "IMRS_P", "MHRM", "SHS"):
        response = assessor.put(
            form(participant, code), {"items": form_items(code, instruments), "status": "complete"}
        )
        assert response.status_code == 201, (code, response.content)
        assert response.json()["status"] == "complete"
