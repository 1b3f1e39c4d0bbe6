"""The instrument modules against the specification's machine-readable companion (a copy of
instruments.json kept with the tests), and the metadata the exports and codebook read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from instruments import metadata, registry

SPEC = json.loads((Path(__file__).parent / "data" / "instruments.json").read_text())
TIMEPOINTS = {"T0": "baseline", "T1": "post", "T2": "followup"}
# Deliberate, documented departures from the JSON.
OTHER_CATEGORY = {("DEMOG", "HOUSING"), ("DEMOG", "LIVING")}  # [P] "other (specify)" = 9
OWNED_ELSEWHERE = {"IMR_FID", "IT_IS", "ELIG"}  # fidelity and participants apps


def test_every_instrument_of_the_spec_has_a_module() -> None:
    assert set(SPEC) - OWNED_ELSEWHERE == set(registry.codes())


@pytest.mark.parametrize("code", sorted(set(SPEC) - OWNED_ELSEWHERE))
def test_items_ranges_options_and_timepoints_match_the_spec(code: str) -> None:
    spec, instrument = SPEC[code], registry.get(code)
    # Same items (PSP asks its follow-up question before the total, so order may differ).
    assert sorted(i["code"] for i in spec["items"]) == sorted(i.code for i in instrument.items)
    for spec_item in spec["items"]:
        item = instrument.item(spec_item["code"])
        if (code, item.code) in OTHER_CATEGORY:
            assert item.max == 9 and 9 in item.comment_required_for
        else:
            assert (item.min, item.max) == (spec_item["min"], spec_item["max"]), item.code
        if spec_item.get("step") is not None:
            assert item.step == spec_item["step"], item.code
        for option in spec_item.get("options", []):
            assert item.option_label(option["value"]) == option["label"], item.code
        assert item.na_structural == bool(spec_item.get("na_allowed")), item.code
        assert item.layout_descending == bool(spec_item.get("layout_highest_first")), item.code
    if instrument.form_entry:
        assert list(instrument.timepoints) == [TIMEPOINTS[t] for t in spec["timepoints"]]


@pytest.mark.parametrize("code", sorted(set(SPEC) - OWNED_ELSEWHERE))
def test_every_score_of_the_spec_is_computed_with_its_range(code: str) -> None:
    instrument = registry.get(code)
    for spec_score in SPEC[code]["scores"]:
        score = instrument.score(spec_score["code"])
        assert (score.min, score.max) == (spec_score["min"], spec_score["max"]), score.code
        assert score.higher_is == spec_score["higher_is"], score.code
        assert not score.sensitivity
    for score in instrument.scores:
        if score.code.endswith("_PRO"):
            assert score.sensitivity and score.decimals > 0


def test_prorated_scores_exist_only_where_the_spec_allows_them() -> None:
    prorated = {s.code for i in registry.all() for s in i.scores if s.sensitivity}
    assert prorated == {
        "PANSS_P_PRO",
        "PANSS_N_PRO",
        "PANSS_G_PRO",
        "PANSS_TOTAL_PRO",
        "IMRS_P_TOTAL_PRO",
        "IMRS_P_MEAN_PRO",
        "IMRS_C_TOTAL_PRO",
        "IMRS_C_MEAN_PRO",
        "MHRM_TOTAL_PRO",
        "CSQ8_TOTAL_PRO",
    }


def test_raters_follow_the_blinding_design() -> None:
    assessor = {"GAF", "PSP", "PANSS", "HAMD6", "YMRS", "IMRS_P", "MHRM", "SHS", "CSQ8"}
    for code in assessor:
        assert registry.get(code).entered_by == ("assessor",), code
    clinician_form = registry.get("IMRS_C")
    assert clinician_form.entered_by == ("clinician",)
    assert clinician_form.blinded_readable is False
    assert [i.code for i in registry.all() if not i.blinded_readable] == ["IMRS_C"]


def test_export_variables_carry_labels_types_and_value_labels() -> None:
    panss = {v.code: v for v in metadata.variables(registry.get("PANSS"))}
    assert panss["P1"].value_labels[7] == "extreme"
    assert (panss["PANSS_TOTAL"].kind, panss["PANSS_TOTAL"].min, panss["PANSS_TOTAL"].max) == (
        "score",
        30,
        210,
    )
    assert panss["PANSS_TOTAL_PRO"].sensitivity and panss["PANSS_TOTAL_PRO"].decimals == 2
    demog = {v.code: v for v in metadata.variables(registry.get("DEMOG"))}
    assert "DOB" not in demog
    assert demog["AGE"].kind == "derived" and demog["SEX"].value_labels == {1: "male", 2: "female"}
    gaf = [v.code for v in metadata.variables(registry.get("GAF"))]
    assert gaf == ["GAF_S", "GAF_F", "GAF_MIN"]
    ymrs = {v.code: v for v in metadata.variables(registry.get("YMRS"))}
    assert ymrs["YMRS_1"].type == "decimal" and ymrs["YMRS_TOTAL"].decimals == 1


def test_missing_reasons_have_codes_outside_every_range() -> None:
    codes = set(metadata.MISSING_CODES.values())
    assert len(codes) == 5 and all(c < 0 for c in codes)
    lowest: Any = min(
        (item.min for i in registry.all() for item in i.items if item.min is not None), default=0
    )
    assert max(codes) < lowest
