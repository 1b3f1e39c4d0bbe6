"""Printed CRFs (issue 10): blank forms with anchors, filled forms whose text is the saved
values, visits and casebooks; role and site checks; blinded readers' PDFs hold no arm."""

from __future__ import annotations

import re
from typing import Any

from instruments import registry
from tests.assessments.helpers import put_form, typical_items
from tests.casebooks.conftest import pdf_text
from tests.factories import make_participant, make_staff, page_client
from trial.roles import Role


def _item_lines(text: str) -> dict[str, str]:
    """item code -> the rest of its line in the extracted text."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        match = re.match(r"^([A-Z][A-Z0-9_]+)(?:\s+(.*))?$", line.strip())
        if match:
            found.setdefault(match.group(1), match.group(2) or "")
    return found


def test_the_text_of_a_filled_crf_is_the_saved_values(assessor: Any, participant: Any) -> None:
    items = typical_items("PANSS")
    missing_code = "G16"
    del items[missing_code]
    saved = put_form(
        assessor, participant, "baseline", "PANSS", items, missing={missing_code: "refused"}
    )
    assert saved.status_code == 201, saved.content
    answer = page_client(assessor).get(
        f"/casebooks/participants/{participant.pk}/baseline/PANSS.pdf"
    )
    assert answer.status_code == 200
    assert answer["Content-Type"] == "application/pdf"
    text = pdf_text(answer.content)
    lines = _item_lines(text)
    for code, value in items.items():
        assert code in lines, code
        assert re.search(rf"(^|\s){value}(\s|$)", lines[code]), (code, value, lines[code])
    assert "refused" in lines[missing_code]
    assert participant.study_id in text
    assert "version 1" in text
    assert "assessor-bal" in text
    assert "not verified" in text
    scores = saved.json()["scores"]
    for code, value in scores.items():
        if value is not None:
            assert re.search(rf"{code}\b.*\b{value}\b", text), (code, value)


def test_a_blank_crf_lists_each_items_anchors_and_fills_in_the_study_id_and_visit(
    assessor: Any, participant: Any
) -> None:
    client = page_client(assessor)
    blank = client.get("/casebooks/blank/HAMD6.pdf")
    assert blank.status_code == 200
    text = pdf_text(blank.content)
    instrument = registry.get("HAMD6")
    lines = _item_lines(text)
    for item in instrument.entered_items:
        assert item.code in lines
        # One box per allowed value, with its anchor where the module has one, after the
        # item's question (lines joined: a long anchor wraps).
        after = " ".join(text[text.index(str(item.label).split()[0]) :].split())[:1500]
        for value in item.allowed_values() or []:
            label = item.option_label(value)
            choice = f"{value} – {label}" if label and label != str(value) else str(value)
            assert " ".join(choice.split()) in after, (item.code, choice)
    from_participant = client.get(f"/casebooks/participants/{participant.pk}/baseline/HAMD6.pdf")
    text = pdf_text(from_participant.content)
    assert participant.study_id in text
    assert "Baseline" in text


def test_a_casebook_is_for_data_managers_monitors_and_the_sites_investigator(
    sites: dict, assessor: Any, data_manager: Any, monitor: Any, investigator: Any
) -> None:
    participant = make_participant("BAL")
    put_form(assessor, participant, "baseline", "GAF", typical_items("GAF"))
    url = f"/casebooks/participants/{participant.pk}/casebook.pdf"
    for user in (data_manager, monitor, investigator):
        answer = page_client(user).get(url)
        assert answer.status_code == 200, user
        text = pdf_text(answer.content)
        assert "GAF" in text
        # Forms never entered are named, not printed as blank CRFs with every anchor.
        assert "Not entered" in text and "PANSS" in text
        assert "Positive and Negative Syndrome" not in text
    assert page_client(assessor).get(url).status_code == 403
    elsewhere = make_staff("investigator-gla", Role.INVESTIGATOR, sites=["GLA"])
    assert page_client(elsewhere).get(url).status_code == 404


def test_a_participant_of_another_site_is_not_printed(sites: dict, assessor: Any) -> None:
    other = make_participant("GLA")
    client = page_client(assessor)
    assert client.get(f"/casebooks/participants/{other.pk}/baseline/GAF.pdf").status_code == 404
    assert client.get(f"/casebooks/participants/{other.pk}/baseline.pdf").status_code == 404


def test_blinded_readers_get_no_clinicians_imrs_and_no_arm(
    sites: dict, assessor: Any, clinician: Any, data_manager: Any, monitor: Any
) -> None:
    from tests.factories import allocate

    participant = make_participant("BAL")
    allocate(participant, "IMR")
    put_form(assessor, participant, "baseline", "GAF", typical_items("GAF"))
    put_form(clinician, participant, "baseline", "IMRS_C", typical_items("IMRS_C"))
    for user in (assessor, data_manager, monitor):
        client = page_client(user)
        assert (
            client.get(f"/casebooks/participants/{participant.pk}/baseline/IMRS_C.pdf").status_code
            == 403
        )
        assert client.get("/casebooks/blank/IMRS_C.pdf").status_code == 403
        for url in (
            f"/casebooks/participants/{participant.pk}/baseline.pdf",
            f"/casebooks/participants/{participant.pk}/casebook.pdf",
        ):
            answer = client.get(url)
            if answer.status_code == 403:
                continue
            text = pdf_text(answer.content)
            assert "GAF" in text
            assert "IMRS_C" not in text and "IMRS_C_" not in text
            assert not re.search(r"\b(IMR|TAU)\b", text.replace("IMRS", "")), url
            assert "arm" not in text.lower().split()
    unblinded = pdf_text(
        page_client(clinician).get(f"/casebooks/participants/{participant.pk}/baseline.pdf").content
    )
    assert "IMRS_C" in unblinded
