"""The paper's tables count the trial of tests/reports/trial.py; per-arm columns only for the
statistician after lock, never a per-arm number for anyone else."""

from __future__ import annotations

import csv
import io
import re
import statistics
from typing import Any

import pytest
from docx import Document

from assessments.models import InstrumentResponse, ResponseStatus
from exports.services import masking_key_get_or_create
from tests.factories import make_staff, page_client
from tests.reports import trial
from tests.reports.trial import ReportTrial
from trial.roles import Role

pytestmark = pytest.mark.django_db


def scores(participant: Any, code: str, values: dict, items: dict | None = None) -> None:
    InstrumentResponse.objects.update_or_create(
        participant=participant,
        timepoint="baseline",
        instrument=code,
        defaults={"status": ResponseStatus.COMPLETE, "scores": values, "items": items or {}},
    )


@pytest.fixture
def filled(report_trial: ReportTrial) -> ReportTrial:
    people = report_trial.people
    scores(people["r1"], "GAF", {"GAF_F": 40, "GAF_S": 45})
    scores(people["r4"], "GAF", {"GAF_F": 60, "GAF_S": 55})
    scores(people["r1"], "DEMOG", {}, {"DX_GROUP": 1, "EDUCATION": 2, "LIVING": 1})
    scores(people["r4"], "DEMOG", {}, {"DX_GROUP": 2, "EDUCATION": 2, "LIVING": 2})
    scores(people["r1"], "IMRS_C", {"IMRS_C_TOTAL": 44})
    return report_trial


def rows_of(body: str) -> dict[str, list[str]]:
    found = {}
    for row in re.findall(r"(?s)<tr><th scope=\"row\">(.*?)</th>(.*?)</tr>", body):
        found[row[0]] = re.findall(r"<td>(.*?)</td>", row[1])
    return found


def csv_rows(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def test_the_pooled_baseline_table_counts_everyone_randomised(filled: ReportTrial) -> None:
    client = page_client(make_staff(None, Role.DATA_MANAGER))
    body = client.get("/reports/tables/baseline/").content.decode()
    rows = rows_of(body)
    assert rows["Participants randomised"] == ["6"]
    assert rows["Sex: Female, n (%)"] == ["6 (100%)"]
    assert rows["GAF-F"] == ["50.0 (14.1), n = 2"]
    assert rows["Diagnosis group: schizophrenia (ICD-10 F20.x), n (%)"] == ["1 (50%)"]
    assert rows["Highest completed education: high school (upper secondary), n (%)"] == ["2 (100%)"]
    people = [filled.people[k] for k in ("r1", "r2", "r3", "r4", "r5", "g2")]
    ages = []
    for p in people:
        on, born = p.randomized_on, p.date_of_birth
        assert on is not None and born is not None
        ages.append(on.year - born.year - ((on.month, on.day) < (born.month, born.day)))
    expected = f"{statistics.fmean(ages):.1f} ({statistics.stdev(ages):.1f}), n = 6"
    assert rows["Age at randomisation, mean (SD)"] == [expected]
    assert "IMRS (clinician)" not in rows  # blinded users never read IMRS_C values
    header = csv_rows(client.get("/reports/tables/baseline.csv").content)[0]
    assert header == ["Characteristic", "All"]


def test_a_danish_reader_gets_the_table_with_decimal_commas(filled: ReportTrial) -> None:
    from accounts.models import AccountPreference

    reader = make_staff(None, Role.DATA_MANAGER)
    AccountPreference.objects.create(user=reader, language="da")
    rows = rows_of(page_client(reader).get("/reports/tables/baseline/").content.decode())
    assert rows["GAF-F"] == ["50,0 (14,1), n = 2"]


def test_the_statistician_gets_arms_only_after_lock(filled: ReportTrial) -> None:
    client = page_client(make_staff(None, Role.STATISTICIAN))
    before = rows_of(client.get("/reports/tables/baseline/").content.decode())
    assert before["Participants randomised"] == ["6"]
    assert before["IMRS (clinician)"] == ["44.0 (–), n = 1"]
    assert client.get("/reports/tables/outcomes/").status_code == 409
    assert client.get("/reports/tables/exposure/").status_code == 409
    trial.lock()
    after = rows_of(client.get("/reports/tables/baseline/").content.decode())
    assert after["Participants randomised"] == ["2", "4"]
    assert after["GAF-F"] == ["40.0 (–), n = 1", "60.0 (–), n = 1"]
    outcomes = rows_of(client.get("/reports/tables/outcomes/").content.decode())
    assert outcomes["GAF-F — Baseline (T0)"] == ["40.0 (–), n = 1", "60.0 (–), n = 1"]
    header = csv_rows(client.get("/reports/tables/outcomes.csv").content)[0]
    assert header == ["Characteristic", "IMR + TAU", "TAU"]
    assert client.get("/reports/tables/outcomes/?groups=masked").status_code == 404
    masking_key_get_or_create()
    masked = client.get("/reports/tables/outcomes/?groups=masked").content.decode()
    assert "Group A" in masked and "Group B" in masked and "IMR + TAU" not in masked
    exposure = rows_of(client.get("/reports/tables/exposure/").content.decode())
    assert exposure["BAL"][:2] == ["2", "0.5 (0.7)"]
    document = Document(io.BytesIO(client.get("/reports/tables/baseline.docx").content))
    assert document.tables[0].rows[0].cells[1].text == "IMR + TAU"


def test_blinded_users_get_pooled_tables_and_no_outcomes_even_after_lock(
    filled: ReportTrial,
) -> None:
    trial.lock()
    for roles in ((Role.DATA_MANAGER,), (Role.MONITOR,), (Role.STATISTICIAN, Role.MONITOR)):
        client = page_client(make_staff(None, *roles))
        body = client.get("/reports/tables/baseline/").content.decode()
        assert rows_of(body)["Participants randomised"] == ["6"]
        assert "IMR + TAU" not in body and "TAU" not in body
        assert csv_rows(client.get("/reports/tables/baseline.csv").content)[0][1:] == ["All"]
        assert client.get("/reports/tables/outcomes/").status_code in (403, 404)
        assert client.get("/reports/tables/exposure/").status_code == 404
        listing = client.get("/reports/tables/").content.decode()
        assert "/reports/tables/outcomes/" not in listing


def test_unknown_tables_and_formats_are_not_found(filled: ReportTrial) -> None:
    client = page_client(make_staff(None, Role.STATISTICIAN))
    assert client.get("/reports/tables/table9/").status_code == 404
    assert client.get("/reports/tables/baseline.xls").status_code == 404
    assert page_client(make_staff(None, Role.ASSESSOR)).get("/reports/tables/").status_code == 403
