"""The data dictionary outside an export (GET /api/v1/exports/data-dictionary/ and its page):
for the roles that make exports, in CSV or HTML, in English or Danish, without data, and blinded
for blinded users: no arm, nothing that reveals it, and no group variable before the lock."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from exports import services
from tests.factories import api_client, make_staff, page_client
from tests.walk.test_role_walk import REVEALING
from trial.roles import Role

pytestmark = pytest.mark.django_db

URL = "/api/v1/exports/data-dictionary/"


def dictionary_rows(user: Any, **query: str) -> list[dict[str, str]]:
    response = api_client(user).get(URL, {"as": "csv", **query})
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment;")
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8"))))


def test_a_data_manager_gets_the_blinded_dictionary_without_any_allocation_variable(
    dm: Any,
) -> None:
    rows = dictionary_rows(dm)
    variables = {(r["dataset"], r["variable"]) for r in rows}
    datasets = {r["dataset"] for r in rows}
    assert ("participants", "STUDY_ID") in variables
    assert {"responses_wide", "responses_long_panss"} <= datasets
    # Blinded, before the lock: no arm, no group, no dataset or form that reveals the arm.
    assert not {name for _, name in variables} & {"ARM", "GROUP"}
    assert not datasets & {"attendance", "exposure", "fidelity", "blinding"}
    assert "responses_long_imrs_c" not in datasets
    html = api_client(dm).get(URL).content.decode("utf-8")
    assert "Data dictionary" in html and "no allocation variable at all" in html
    # Nothing the role walk counts as revealing an allocation (tests/walk).
    for pattern, what in REVEALING:
        assert not pattern.search(html), what


def test_after_the_lock_the_blinded_dictionary_has_the_masked_group(dm: Any) -> None:
    services.dataset_lock(user=dm, reason="Analysis", override_open_queries=True)
    names = {r["variable"] for r in dictionary_rows(dm) if r["dataset"] == "participants"}
    assert "GROUP" in names and "ARM" not in names


def test_the_statistician_gets_the_unblinded_dictionary(statistician: Any) -> None:
    rows = dictionary_rows(statistician)
    arm = next(r for r in rows if r["dataset"] == "participants" and r["variable"] == "ARM")
    assert "IMR + treatment as usual" in arm["value_labels"]
    assert {"attendance", "fidelity", "blinding"} <= {r["dataset"] for r in rows}


@pytest.mark.parametrize(
    "role", [Role.ASSESSOR, Role.MONITOR, Role.COORDINATOR, Role.CLINICIAN, Role.INSTRUCTOR]
)
def test_roles_that_do_not_export_are_refused(sites: dict, role: str) -> None:
    user = make_staff(None, role)
    assert api_client(user).get(URL).status_code == 403
    assert page_client(user).get("/data/exports/data-dictionary/").status_code == 403


def test_an_unknown_format_or_language_is_a_400(dm: Any) -> None:
    assert api_client(dm).get(URL, {"as": "pdf"}).status_code == 400
    assert api_client(dm).get(URL, {"language": "fr"}).status_code == 400


def test_the_danish_dictionary_is_html_in_danish(dm: Any) -> None:
    response = api_client(dm).get(URL, {"language": "da"})
    assert response.status_code == 200
    assert '<html lang="da">' in response.content.decode("utf-8")


def test_the_exports_page_links_the_dictionary_and_shows_it(dm: Any) -> None:
    client = page_client(dm)
    page = client.get("/data/exports/").content.decode("utf-8")
    assert "/data/exports/data-dictionary/" in page
    shown = client.get("/data/exports/data-dictionary/")
    assert shown.status_code == 200
    assert shown["Content-Disposition"].startswith("inline;")
    assert "STUDY_ID" in shown.content.decode("utf-8")


def test_the_dictionary_reads_no_trial_data_so_its_cost_does_not_grow_with_the_trial(
    dm: Any,
) -> None:
    """It describes the datasets, not the data: no statement reads the forms, the
    participants or the queries (the stored-forms check of an export is skipped)."""
    api_client(dm).get(URL, {"as": "csv"})  # warm the per-process catalogue
    with CaptureQueriesContext(connection) as queries:
        response = api_client(dm).get(URL, {"as": "csv"})
    assert response.status_code == 200
    read = " ".join(q["sql"] for q in queries.captured_queries)
    for table in (
        "assessments_instrumentresponse",
        "participants_participant",
        "assessments_query",
    ):
        assert table not in read, table
