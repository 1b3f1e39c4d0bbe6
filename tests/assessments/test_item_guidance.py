"""Item anchors and definitions at hand: every item of IMRS (both versions), PANSS, YMRS,
HAM-D6 and PSP's domains has a definition, shown on demand on the form with an anchor per
value; the instruments API carries them; the fidelity scale's rating page has its items'."""

from __future__ import annotations

import re
from typing import Any

import pytest

from fidelity import scale
from instruments import registry
from tests.factories import api_client, page_client

WITH_GUIDANCE = ("IMRS_P", "IMRS_C", "PANSS", "YMRS", "HAMD6")


@pytest.mark.parametrize("code", WITH_GUIDANCE)
def test_every_entered_item_has_a_definition_and_an_anchor_per_anchor_point(code: str) -> None:
    for item in registry.get(code).entered_items:
        assert str(item.definition).strip(), item.code
        anchors = {option.value for option in item.scale_anchors}
        expected = set(item.anchors) if item.anchors else set(item.allowed_values() or [])
        assert expected <= anchors, item.code


def test_psp_domains_and_the_fidelity_items_have_definitions() -> None:
    psp = registry.get("PSP")
    for code in ("PSP_A", "PSP_B", "PSP_C", "PSP_D", "PSP_TOTAL"):
        assert str(next(i for i in psp.items if i.code == code).definition).strip(), code
    assert all(item.definition for item in scale.ITEMS)


def test_the_form_shows_the_definition_on_demand_and_an_anchor_in_each_choice(
    assessor: Any, participant: Any
) -> None:
    html = (
        page_client(assessor)
        .get(f"/assessments/participants/{participant.pk}/baseline/HAMD6/")
        .content.decode()
    )
    details = re.search(r'<details[^>]*id="definition-HAMD6_4">.*?</details>', html, re.S)
    assert details and "complete stupor" in details.group(0)
    assert '<option value="4">4 – complete stupor</option>' in html
    ymrs = (
        page_client(assessor)
        .get(f"/assessments/participants/{participant.pk}/baseline/YMRS/")
        .content.decode()
    )
    # A half point between anchors stays allowed, without an anchor of its own.
    assert '<option value="2.5">2.5</option>' in ymrs


def test_the_instruments_api_carries_definitions_and_anchor_labels(assessor: Any) -> None:
    body = api_client(assessor).get("/api/v1/instruments/HAMD6/").json()
    item = next(i for i in body["items"] if i["code"] == "HAMD6_6")
    assert item["definition"]
    assert [a["value"] for a in item["anchor_labels"]] == [0, 1, 2]
