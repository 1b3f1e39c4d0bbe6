"""Forms that never lose work (issue 10): a refused save lists every problem at the top with a
link to its field and keeps what was typed; drafts are saved automatically (a draft version
without a reason, never on a form completed before); after saving, the next form of the visit
is offered."""

from __future__ import annotations

import re
from typing import Any

from assessments.models import InstrumentResponse
from tests.assessments.helpers import typical_items
from tests.factories import page_client


def page_url(participant: Any, code: str, suffix: str = "") -> str:
    return f"/assessments/participants/{participant.pk}/baseline/{code}/{suffix}"


def panss_post(**changes: str) -> dict[str, str]:
    data = {f"item-{code}": str(value) for code, value in typical_items("PANSS").items()}
    data.update({"status": "complete", "version": "0", "interview_date": "", "reason": ""})
    data.update(changes)
    return data


def test_a_refused_panss_lists_each_problem_at_the_top_with_a_link_to_its_field(
    assessor: Any, participant: Any
) -> None:
    answer = page_client(assessor).post(
        page_url(participant, "PANSS"), panss_post(**{"item-G16": "", "item-P3": "9"})
    )
    assert answer.status_code == 400
    html = answer.content.decode()
    found = re.search(r'<div class="error-summary".*?</div>', html, re.S)
    assert found is not None
    summary = found.group(0)
    assert "2 problems" in summary
    assert 'href="#id-G16"' in summary and 'href="#id-P3"' in summary
    # The summary comes before the form; what was typed stays in it.
    assert html.index('id="error-summary"') < html.index('id="entry-form"')
    assert re.search(r'<option value="9" selected>9 \(not allowed\)</option>', html)
    assert re.search(r'id="id-G15".*?<option value="\d" selected', html, re.S)
    assert "nothing is saved yet" in html
    assert not InstrumentResponse.objects.exists()


def test_autosave_writes_a_draft_version_without_a_reason(assessor: Any, participant: Any) -> None:
    client = page_client(assessor)
    data = {"item-P1": "3", "item-P2": "4", "version": "0", "interview_date": ""}
    answer = client.post(page_url(participant, "PANSS", "autosave/"), data)
    assert answer.status_code == 200
    saved = InstrumentResponse.objects.get()
    assert (saved.status, saved.version, saved.items) == ("draft", 1, {"P1": 3, "P2": 4})
    html = answer.content.decode()
    assert "version 1" in html and 'id="entry-version"' in html and 'value="1"' in html

    # Even if the page asked for "complete", autosave writes a draft.
    data |= {"item-P3": "2", "version": "1", "status": "complete"}
    client.post(page_url(participant, "PANSS", "autosave/"), data)
    saved.refresh_from_db()
    assert (saved.status, saved.version, saved.items["P3"]) == ("draft", 2, 2)


def test_autosave_refuses_bad_values_and_stale_versions_and_writes_nothing(
    assessor: Any, participant: Any
) -> None:
    client = page_client(assessor)
    answer = client.post(page_url(participant, "PANSS", "autosave/"), {"item-P1": "0"})
    assert answer.status_code == 400 and "Draft not saved" in answer.content.decode()
    assert not InstrumentResponse.objects.exists()
    client.post(page_url(participant, "PANSS", "autosave/"), {"item-P1": "3", "version": "0"})
    stale = client.post(
        page_url(participant, "PANSS", "autosave/"), {"item-P1": "4", "version": "0"}
    )
    assert stale.status_code == 409
    assert InstrumentResponse.objects.get().items == {"P1": 3}


def test_autosave_never_changes_a_form_completed_before(assessor: Any, participant: Any) -> None:
    client = page_client(assessor)
    assert client.post(page_url(participant, "PANSS"), panss_post()).status_code == 302
    page = client.get(page_url(participant, "PANSS")).content.decode()
    assert 'id="autosave"' not in page and 'id="autosave-off"' in page
    data = panss_post(**{"item-P1": "5", "version": "1"})
    answer = client.post(page_url(participant, "PANSS", "autosave/"), data)
    assert answer.status_code == 409 and "needs a reason" in answer.content.decode()
    saved = InstrumentResponse.objects.get()
    assert (saved.version, saved.status) == (1, "complete")


def test_after_saving_the_next_form_of_the_visit_is_offered(
    assessor: Any, participant: Any
) -> None:
    client = page_client(assessor)
    assert client.get(page_url(participant, "PANSS")).content.decode().count("next-form") == 0
    client.post(page_url(participant, "PANSS"), panss_post())
    html = client.get(page_url(participant, "PANSS")).content.decode()
    found = re.search(r'<a class="button" id="next-form" href="([^"]+)"', html)
    assert found is not None
    link = found.group(1)
    assert link == page_url(participant, "HAMD6")
