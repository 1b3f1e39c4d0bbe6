"""The record status matrix: every cell's state, links, filters, and a fixed number of queries
per page whatever the number of participants."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from assessments.models import InstrumentResponse, Query, QueryKind
from tests.factories import make_participant, make_staff, page_client
from tests.reports.trial import ReportTrial
from trial.roles import Role

pytestmark = pytest.mark.django_db


def cells(body: str, study_id: str) -> dict[str, str]:
    """'GAF, Post-intervention (T1)' -> state, for one participant's row."""
    row = re.search(rf'(?s)<tr><th scope="row"><a [^>]*>{study_id}</a></th>(.*?)</tr>', body)
    assert row, study_id
    return {
        text: state
        for state, text in re.findall(
            r'class="cell cell-(\w+)"[^>]*title="([^"]*?): [^"]*"', row.group(1)
        )
    }


def test_each_cell_shows_the_state_of_its_form(report_trial: ReportTrial) -> None:
    people = report_trial.people
    response = InstrumentResponse.objects.get(participant=people["r1"], timepoint="post")
    Query.objects.create(response=response, item="", kind=QueryKind.MANUAL, message="Check date")
    InstrumentResponse.objects.filter(participant=people["r1"], instrument="PSP").update(
        missing={"PSP_1": "refused"}
    )
    InstrumentResponse.objects.create(
        participant=people["r5"], timepoint="baseline", instrument="GAF"
    )
    client = page_client(make_staff(None, Role.MONITOR))
    body = client.get("/reports/matrix/?site=BAL").content.decode()
    r1 = cells(body, people["r1"].study_id)
    assert r1["GAF, Baseline (T0)"] == "complete"
    assert r1["PSP, Baseline (T0)"] == "missing"
    assert r1["MHRM, Baseline (T0)"] == "out_of_window"  # randomised without it
    assert r1["GAF, Post-intervention (T1)"] == "query"
    assert r1["PSP, Post-intervention (T1)"] == "out_of_window"  # window closed a month ago
    assert r1["GAF, One-year follow-up (T2)"] == "not_due"
    r4 = cells(body, people["r4"].study_id)
    assert r4["GAF, Post-intervention (T1)"] == "verified"
    assert r4["GAF, One-year follow-up (T2)"] == "due"  # window 19–24 months is open
    r5 = cells(body, people["r5"].study_id)
    assert r5["GAF, Baseline (T0)"] == "draft"
    c = cells(body, people["c"].study_id)
    assert c["GAF, Baseline (T0)"] == "due"
    assert c["GAF, Post-intervention (T1)"] == "not_due"
    # Only people with recorded consent are rows; the legend names every state.
    assert people["b"].study_id not in body and people["g2"].study_id not in body
    for label in ("Not due yet", "Open query", "Window closed, not entered", "Verified"):
        assert label in body


def test_cells_link_the_form_only_for_those_who_may_open_it(report_trial: ReportTrial) -> None:
    r1 = report_trial.people["r1"]
    monitor = page_client(make_staff(None, Role.MONITOR)).get("/reports/matrix/").content.decode()
    assert f'href="/assessments/participants/{r1.pk}/baseline/GAF/"' in monitor
    # IMRS_C: blinded users see its state, never a link to it.
    assert f"/assessments/participants/{r1.pk}/baseline/IMRS_C/" not in monitor
    coordinator = page_client(make_staff(None, Role.COORDINATOR, sites=["BAL"]))
    body = coordinator.get("/reports/matrix/").content.decode()
    assert f'href="/assessments/participants/{r1.pk}/baseline/IMRS_C/"' in body


def test_filters_by_site_status_and_timepoint(report_trial: ReportTrial) -> None:
    people = report_trial.people
    client = page_client(make_staff(None, Role.DATA_MANAGER))
    body = client.get("/reports/matrix/?status=withdrawn").content.decode()
    assert people["r2"].study_id in body and people["r1"].study_id not in body
    body = client.get("/reports/matrix/?site=GLA").content.decode()
    assert people["g2"].study_id in body and people["r1"].study_id not in body
    body = client.get("/reports/matrix/?timepoint=post").content.decode()
    assert "Baseline (T0)" not in re.sub(r"(?s)<form.*?</form>", "", body)
    for bad in ("?site=XX", "?status=nobody", "?timepoint=T7"):
        assert client.get("/reports/matrix/" + bad).status_code == 400
    scoped = page_client(make_staff(None, Role.ASSESSOR, sites=["GLA"]))
    assert scoped.get("/reports/matrix/?site=BAL").status_code == 404
    assert people["r1"].study_id not in scoped.get("/reports/matrix/").content.decode()
    assert page_client(make_staff(None, Role.INSTRUCTOR)).get("/reports/matrix/").status_code == 403


def count_queries(client: Any, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured.captured_queries)


def test_a_page_takes_the_same_queries_for_3_or_30_participants(sites: dict) -> None:
    client = page_client(make_staff(None, Role.DATA_MANAGER))
    for _n in range(3):
        make_participant("BAL")
    few = count_queries(client, "/reports/matrix/")
    for _n in range(27):
        make_participant("BAL")
    assert count_queries(client, "/reports/matrix/") == few


def test_the_matrix_is_paginated_by_50(sites: dict) -> None:
    for _n in range(52):
        make_participant("FRB")
    client = page_client(make_staff(None, Role.MONITOR))
    first = client.get("/reports/matrix/").content.decode()
    assert first.count('<th scope="row">') == 50 and "page 1 of 2" in first
    second = client.get("/reports/matrix/?page=2").content.decode()
    assert second.count('<th scope="row">') == 2


def test_pages_run_in_site_order_across_sites(sites: dict) -> None:
    """Pages are read site by site (BAL, GLA, FRB by site number), then by participant
    number: a page that spans two sites holds the end of one and the start of the next."""
    frb = [make_participant("FRB") for _n in range(30)]
    bal = [make_participant("BAL") for _n in range(30)]
    make_participant("GLA", stage="eligible")  # no consent: no row
    client = page_client(make_staff(None, Role.DATA_MANAGER))
    order = [p.study_id for p in bal + frb]
    first = client.get("/reports/matrix/").content.decode()
    second = client.get("/reports/matrix/?page=2").content.decode()
    rows = re.findall(r'<th scope="row"><a [^>]*>([^<]+)</a></th>', first + second)
    assert rows == order
    assert "60 participants" in first and "page 2 of 2" in second
    # Past the last page: the last page; not a number: the first.
    assert (
        re.findall(
            r'<th scope="row"><a [^>]*>([^<]+)</a>',
            client.get("/reports/matrix/?page=9").content.decode(),
        )
        == order[50:]
    )
    assert order[0] in client.get("/reports/matrix/?page=x").content.decode()


def test_the_forms_of_a_page_are_read_in_one_query(report_trial: ReportTrial) -> None:
    """The cells come from one query of the page's forms (each with whether it has an
    unresolved query), never one per participant or cell."""
    client = page_client(make_staff(None, Role.DATA_MANAGER))
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/reports/matrix/").status_code == 200
    forms = [
        q["sql"]
        for q in captured.captured_queries
        if "assessments_instrumentresponse" in q["sql"] or "assessments_query" in q["sql"]
    ]
    assert len(forms) == 1, forms
    people = [q["sql"] for q in captured.captured_queries if "participants_participant" in q["sql"]]
    # The count per site, then each site's part of the page (BAL and GLA hold rows here).
    assert len(people) == 3, people
