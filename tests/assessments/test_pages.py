"""The server-rendered pages: forms generated from the instrument modules that keep what was
typed when a save is refused, the participant's forms, queries and the register import."""

from __future__ import annotations

import re
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from assessments.models import InstrumentResponse, Query, RegisterImport
from participants import services as participant_services
from tests.assessments.helpers import put_form, randomize_days_ago, typical_items
from tests.factories import coordinator_for, page_client


def browser(user: Any) -> Client:
    return page_client(user)


def page_url(participant: Any, timepoint: str, code: str) -> str:
    return f"/assessments/participants/{participant.pk}/{timepoint}/{code}/"


def panss_post(**changes: str) -> dict[str, str]:
    data = {f"item-{code}": str(value) for code, value in typical_items("PANSS").items()}
    data.update({"status": "complete", "version": "0", "interview_date": "", "reason": ""})
    data.update(changes)
    return data


def test_the_form_offers_only_the_allowed_values(assessor: Any, participant: Any) -> None:
    html = browser(assessor).get(page_url(participant, "baseline", "PANSS")).content.decode()
    found = re.search(r'<select id="id-P1".*?</select>', html, re.S)
    assert found is not None
    select = found.group(0)
    assert re.findall(r'<option value="(\d*)"', select) == ["", "1", "2", "3", "4", "5", "6", "7"]
    assert 'name="missing-P1"' in html and "missing: refused" in html
    gaf = browser(assessor).get(page_url(participant, "baseline", "GAF")).content.decode()
    assert re.search(r'<input type="number" id="id-GAF_S"[^>]*min="1"[^>]*max="100"', gaf)
    ymrs = browser(assessor).get(page_url(participant, "baseline", "YMRS")).content.decode()
    assert '<option value="2.5">' in ymrs


def test_a_saved_form_shows_its_scores_and_the_prorated_score(
    assessor: Any, participant: Any
) -> None:
    client = browser(assessor)
    data = panss_post(**{"item-P7": "", "missing-P7": "refused"})
    response = client.post(page_url(participant, "baseline", "PANSS"), data)
    assert response.status_code == 302
    html = client.get(response["Location"]).content.decode()
    assert "version 1" in html
    total = re.search(r'id="score-PANSS_TOTAL".*?<td class="value">(.*?)</td>', html, re.S)
    assert total is not None and "missing" in total.group(1)
    prorated = re.search(r'id="score-PANSS_TOTAL_PRO".*?<td class="value">(.*?)</td>', html, re.S)
    assert prorated is not None
    assert prorated.group(1).strip() == str(
        InstrumentResponse.objects.get().scores["PANSS_TOTAL_PRO"]
    )


def test_a_wrong_value_keeps_everything_typed(assessor: Any, participant: Any) -> None:
    client = browser(assessor)
    data = {
        "item-GAF_S": "0",
        "item-GAF_F": "57",
        "interview_date": "2020-01-01",
        "status": "complete",
        "version": "0",
    }
    response = client.post(page_url(participant, "baseline", "GAF"), data)
    assert response.status_code == 400
    html = response.content.decode()
    assert "GAF_S (GAF symptom score): 0 is not allowed" in html
    assert 'value="57"' in html and 'value="0"' in html
    assert 'value="2020-01-01"' in html
    assert not InstrumentResponse.objects.exists()


def test_a_completed_form_asks_for_a_reason_and_keeps_the_change(
    assessor: Any, participant: Any
) -> None:
    put_form(assessor, participant, "baseline", "PANSS", typical_items("PANSS"))
    client = browser(assessor)
    page = client.get(page_url(participant, "baseline", "PANSS")).content.decode()
    assert 'name="reason"' in page
    refused = client.post(
        page_url(participant, "baseline", "PANSS"), panss_post(**{"item-P1": "7", "version": "1"})
    )
    assert refused.status_code == 400
    html = refused.content.decode()
    assert "give the reason for the change" in html
    assert re.search(r'<select id="id-P1".*?<option value="7" selected>', html, re.S)
    saved = client.post(
        page_url(participant, "baseline", "PANSS"),
        panss_post(**{"item-P1": "7", "version": "1", "reason": "Informant report"}),
    )
    assert saved.status_code == 302
    assert InstrumentResponse.objects.get().items["P1"] == 7


def test_a_stale_form_says_so_and_keeps_what_was_typed(assessor: Any, participant: Any) -> None:
    put_form(assessor, participant, "baseline", "PANSS", typical_items("PANSS"), status="draft")
    put_form(
        assessor,
        participant,
        "baseline",
        "PANSS",
        typical_items("PANSS") | {"P2": 6},
        status="draft",
        version=1,
    )
    response = browser(assessor).post(
        page_url(participant, "baseline", "PANSS"),
        panss_post(**{"item-P1": "2", "version": "1", "status": "draft"}),
    )
    assert response.status_code == 409
    assert "changed since you read it" in response.content.decode()
    assert re.search(
        r'<select id="id-P1".*?<option value="2" selected>', response.content.decode(), re.S
    )


def test_the_psp_form_shows_the_interval_of_the_domain_ratings(
    assessor: Any, participant: Any
) -> None:
    client = browser(assessor)
    fragment = client.get(
        "/assessments/psp-interval/",
        {"item-PSP_A": "4", "item-PSP_B": "4", "item-PSP_C": "1", "item-PSP_D": "1"},
    ).content.decode()
    assert "41–50" in fragment and 'data-decile="41"' in fragment
    severe = client.get(
        "/assessments/psp-interval/",
        {
            "item-PSP_A": "5",
            "item-PSP_B": "5",
            "item-PSP_C": "5",
            "item-PSP_D": "5",
            "item-PSP_D9_PROMPT": "0",
        },
    ).content.decode()
    assert "11–15" in severe
    put_form(
        assessor,
        participant,
        "baseline",
        "PSP",
        {"PSP_A": 4, "PSP_B": 4, "PSP_C": 1, "PSP_D": 1, "PSP_TOTAL": 45},
    )
    page = client.get(page_url(participant, "baseline", "PSP")).content.decode()
    assert "41–50" in page
    assert re.search(r'id="row-PSP_D9_PROMPT"[^>]*hidden', page)


def test_the_participant_page_hides_the_clinicians_form_from_assessors_and_has_the_guess_slot(
    assessor: Any, clinician: Any, participant: Any
) -> None:
    put_form(clinician, participant, "baseline", "IMRS_C", typical_items("IMRS_C"))
    randomize_days_ago(participant, 30)
    html = browser(assessor).get(f"/assessments/participants/{participant.pk}/").content.decode()
    assert "not shown to blinded staff" in html
    assert page_url(participant, "baseline", "IMRS_C") not in html
    assert html.count('class="blinding-guess-slot"') == 2
    assert browser(assessor).get(page_url(participant, "baseline", "IMRS_C")).status_code == 403
    assert browser(clinician).get(page_url(participant, "baseline", "IMRS_C")).status_code == 200


def test_the_state_of_a_visit_says_when_it_is_only_that_of_the_users_own_forms(
    assessor: Any, participant: Any
) -> None:
    """A coordinator enters only the demographics: with those done and the interview not, the
    baseline is not "completed" without saying whose forms are."""
    put_form(assessor, participant, "baseline", "DEMOG", typical_items("DEMOG"))
    coordinator = browser(coordinator_for("BAL"))
    html = coordinator.get(f"/assessments/participants/{participant.pk}/").content.decode()
    baseline = html[html.index('id="tp-baseline"') :]
    badge = re.search(r'<span class="badge state-\w+">([^<]+)</span>', baseline)
    assert badge and badge.group(1) == "completed (your forms)"
    html = browser(assessor).get(f"/assessments/participants/{participant.pk}/").content.decode()
    baseline = html[html.index('id="tp-baseline"') :]
    assert re.search(r'<span class="badge state-open">open \(your forms\)</span>', baseline)


def test_a_monitor_verifies_a_form_on_its_page(
    assessor: Any, monitor: Any, participant: Any
) -> None:
    put_form(assessor, participant, "baseline", "SHS", typical_items("SHS"))
    client = browser(monitor)
    page = client.get(page_url(participant, "baseline", "SHS")).content.decode()
    assert "Mark version 1 as source-verified" in page
    assert 'name="item-SHS_1"' in page and "disabled" in page
    client.post(page_url(participant, "baseline", "SHS") + "verify/", {"version": "1"})
    assert InstrumentResponse.objects.get().status == "verified"


def test_the_data_manager_raises_and_closes_a_query_and_site_staff_answer_on_the_pages(
    assessor: Any, data_manager: Any, participant: Any
) -> None:
    put_form(assessor, participant, "baseline", "SHS", typical_items("SHS"))
    manager = browser(data_manager)
    raised = manager.post(
        page_url(participant, "baseline", "SHS") + "query/",
        {"item": "SHS_2", "message": "Source says 5"},
    )
    query = Query.objects.get()
    assert raised["Location"] == f"/assessments/queries/{query.pk}/"
    overview = manager.get("/assessments/queries/").content.decode()
    assert "Ballerup" in overview and participant.study_id in overview
    answer = browser(assessor).post(
        f"/assessments/queries/{query.pk}/", {"action": "answer", "text": "Corrected"}
    )
    assert answer.status_code == 302
    manager.post(f"/assessments/queries/{query.pk}/", {"action": "close", "text": ""})
    query.refresh_from_db()
    assert query.status == "closed"
    empty = browser(assessor).post(
        f"/assessments/queries/{query.pk}/", {"action": "answer", "text": ""}
    )
    assert empty.status_code in (400, 409)


def test_the_query_pages_name_the_form_the_field_the_kind_and_the_roles_in_words(
    assessor: Any, data_manager: Any, participant: Any
) -> None:
    """Not the stored codes ("HAMD6 · baseline", "interview_date", "manual", "data_manager")."""
    put_form(assessor, participant, "baseline", "SHS", typical_items("SHS"))
    manager = browser(data_manager)
    manager.post(
        page_url(participant, "baseline", "SHS") + "query/",
        {"item": "interview_date", "message": "Please check the date"},
    )
    query = Query.objects.get()
    browser(assessor).post(f"/assessments/queries/{query.pk}/", {"action": "answer", "text": "OK"})
    pages = {
        "list": manager.get("/assessments/queries/"),
        "query": manager.get(f"/assessments/queries/{query.pk}/"),
        "participant": manager.get(f"/assessments/participants/{participant.pk}/"),
        "form": manager.get(page_url(participant, "baseline", "SHS")),
        "audit": manager.get(f"/participants/{participant.pk}/audit/"),
    }
    text = {name: re.sub(r"<[^>]+>", " ", page.content.decode()) for name, page in pages.items()}
    for name in ("list", "participant"):
        assert "State Hope · Baseline (before randomisation)" in text[name], name
    for name in ("list", "query", "participant", "form"):
        assert "interview date" in text[name] and "interview_date" not in text[name], name
    assert "Raised by a data manager" in text["list"] and "manual" not in text["list"]
    assert "(Data manager)" in text["query"] and "(Assessor)" in text["query"]
    assert "data_manager" not in text["query"] and "Data manager" in text["audit"]
    assert "data_manager" not in text["audit"]


def test_a_refused_query_keeps_what_the_data_manager_typed(
    assessor: Any, data_manager: Any, participant: Any
) -> None:
    put_form(assessor, participant, "baseline", "SHS", typical_items("SHS"))
    manager = browser(data_manager)
    url = page_url(participant, "baseline", "SHS")
    long_question = "Please compare SHS_2 with the paper form. " * 100  # over 4000 characters
    refused = manager.post(url + "query/", {"item": "SHS_2", "message": long_question})
    assert refused["Location"] == url
    html = manager.get(url).content.decode()
    assert "at most 4000 characters" in html
    assert long_question[:200] in html
    assert '<option value="SHS_2" selected>' in html
    assert 'maxlength="4000"' in html and "required" in html
    assert long_question[:200] not in manager.get(url).content.decode()  # shown once
    assert not Query.objects.exists()


def test_a_refused_note_on_a_query_stays_in_the_data_managers_form(
    assessor: Any, data_manager: Any, participant: Any
) -> None:
    put_form(assessor, participant, "baseline", "GAF", typical_items("GAF"))
    manager = browser(data_manager)
    manager.post(page_url(participant, "baseline", "GAF") + "query/", {"message": "Check"})
    query = Query.objects.get()
    manager.post(f"/assessments/queries/{query.pk}/", {"action": "close", "text": ""})
    note = "Still not matching the source. " * 200
    refused = manager.post(f"/assessments/queries/{query.pk}/", {"action": "reopen", "text": note})
    assert refused.status_code == 400
    html = refused.content.decode()
    manage_form = html[html.index('id="id-manage"') :]
    assert note[:200] in manage_form[: manage_form.index("</textarea>")]


def test_an_empty_query_list_says_where_the_closed_queries_are(
    assessor: Any, data_manager: Any, participant: Any
) -> None:
    put_form(assessor, participant, "baseline", "SHS", typical_items("SHS"))
    manager = browser(data_manager)
    manager.post(page_url(participant, "baseline", "SHS") + "query/", {"message": "Check SHS_2"})
    query = Query.objects.get()
    manager.post(f"/assessments/queries/{query.pk}/", {"action": "close", "text": ""})
    unresolved = manager.get("/assessments/queries/").content.decode()
    assert 'Closed ones are under the status "All" or "Closed"' in unresolved
    assert "Check SHS_2" in manager.get("/assessments/queries/?status=all").content.decode()
    filtered = manager.get("/assessments/queries/?status=open").content.decode()
    assert "No queries match the filter." in filtered


def test_the_register_file_is_uploaded_on_the_page(data_manager: Any, sites: dict) -> None:
    participant_services.participant_register(
        user=coordinator_for("BAL"), site_code="BAL", cpr="010170-1231", sex="male"
    )
    from assessments.register import COLUMNS

    text = ";".join(COLUMNS) + "\n"
    client = browser(data_manager)
    bad = client.post(
        "/assessments/register/",
        {
            "file": SimpleUploadedFile(
                "r.csv", (text + "010170-1231;2024-01-01;2024-02-01;x;0;0;0\n").encode()
            ),
            "note": "n",
        },
    )
    assert bad.status_code == 400 and "Line 2" in bad.content.decode()
    good = client.post(
        "/assessments/register/",
        {
            "file": SimpleUploadedFile(
                "r.csv", (text + "010170-1231;2024-01-01;2024-02-01;0;0;1;2\n").encode()
            )
        },
    )
    assert good.status_code == 302
    assert RegisterImport.objects.get().lines == 1


def test_the_register_page_enforces_csrf(data_manager: Any) -> None:
    client = page_client(data_manager, enforce_csrf_checks=True)
    response = client.post("/assessments/register/", {"file": SimpleUploadedFile("r.csv", b"x")})
    assert response.status_code == 403
