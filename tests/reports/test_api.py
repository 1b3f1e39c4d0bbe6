"""The report endpoints of API.md count exactly the trial built in tests/reports/trial.py."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.factories import api_client, make_staff
from tests.reports import trial
from tests.reports.trial import DANISH, UNDER_18, ReportTrial, make_participant
from trial.roles import Role

pytestmark = pytest.mark.django_db

POOLED_FOLLOWUP = {
    "post": {
        "assessed": 3,
        "lost": 0,
        "withdrawn": 1,
        "deceased": 0,
        "missing": 1,
        "not_yet_due": 1,
    },
    "followup": {
        "assessed": 0,
        "lost": 1,
        "withdrawn": 1,
        "deceased": 1,
        "missing": 0,
        "not_yet_due": 3,
    },
}


def get(user: Any, url: str) -> Any:
    response = api_client(user).get(url)
    assert response.status_code == 200, response.content
    return response.json()


def test_the_pooled_flow_counts_every_box(report_trial: ReportTrial) -> None:
    data = get(make_staff(None, Role.DATA_MANAGER), "/api/v1/reports/consort/")
    assert data["assessed"] == 11
    assert data["excluded"] == {
        "total": 4,
        "not_eligible": 2,
        "declined": 1,
        "other": 1,
        "reasons": {DANISH: 2, UNDER_18: 1},
    }
    assert data["pending"] == 1
    assert data["randomised"] == 6
    assert data["followup"] == POOLED_FOLLOWUP
    assert data["analysed"] == 6
    assert "arms" not in data


def test_a_site_scoped_user_counts_only_their_sites(report_trial: ReportTrial) -> None:
    coordinator = make_staff(None, Role.COORDINATOR, sites=["GLA"])
    data = get(coordinator, "/api/v1/reports/consort/")
    assert data["assessed"] == 2
    assert data["excluded"]["reasons"] == {DANISH: 1, UNDER_18: 1}
    assert data["randomised"] == 1
    assert data["sites"] == ["GLA"]
    response = api_client(coordinator).get("/api/v1/reports/consort/?site=BAL")
    assert response.status_code == 404
    response = api_client(coordinator).get("/api/v1/reports/consort/?site=XYZ")
    assert response.status_code == 400
    assert "site" in response.json()


def test_arms_only_after_lock_and_only_for_users_who_may_see_allocation(
    report_trial: ReportTrial,
) -> None:
    statistician = make_staff(None, Role.STATISTICIAN)
    blinded = make_staff(None, Role.DATA_MANAGER)
    assert "arms" not in get(statistician, "/api/v1/reports/consort/")
    trial.lock()
    data = get(statistician, "/api/v1/reports/consort/")
    assert data["arms"]["IMR"] == {
        "allocated": 2,
        "received": 1,
        "not_received": 1,
        "followup": {
            "post": {
                "assessed": 1,
                "lost": 0,
                "withdrawn": 1,
                "deceased": 0,
                "missing": 0,
                "not_yet_due": 0,
            },
            "followup": {
                "assessed": 0,
                "lost": 0,
                "withdrawn": 1,
                "deceased": 0,
                "missing": 0,
                "not_yet_due": 1,
            },
        },
        "analysed": 2,
    }
    assert data["arms"]["TAU"]["allocated"] == 4
    assert data["arms"]["TAU"]["received"] == 4
    assert data["arms"]["TAU"]["followup"]["post"]["assessed"] == 2
    assert data["arms"]["TAU"]["followup"]["followup"]["lost"] == 1
    assert data["followup"] == POOLED_FOLLOWUP
    for user in (blinded, make_staff(None, Role.STATISTICIAN, Role.MONITOR)):
        body = api_client(user).get("/api/v1/reports/consort/").content.decode()
        assert "arms" not in body and "IMR" not in body and "TAU" not in body


def test_recruitment_counts_every_month_and_site(report_trial: ReportTrial) -> None:
    data = get(make_staff(None, Role.STATISTICIAN), "/api/v1/reports/recruitment/?page_size=100")
    rows = {(row["month"], row["site"]): row for row in data["results"]}
    t = report_trial
    months = sorted({month for month, _site in rows})
    assert months[0] == t.month(20) and months[-1] == t.month(0)
    assert len(months) == 21 and data["count"] == 21 * 3
    assert rows[(t.month(12), "BAL")]["randomised"] == 2
    assert rows[(t.month(12), "BAL")]["cumulative_randomised"] == 3
    assert rows[(t.month(0), "BAL")] == {
        "month": t.month(0),
        "site": "BAL",
        "screened": 9,
        "consented": 7,
        "randomised": 1,
        "cumulative_randomised": 5,
    }
    assert rows[(t.month(0), "GLA")] == {
        "month": t.month(0),
        "site": "GLA",
        "screened": 2,
        "consented": 1,
        "randomised": 0,
        "cumulative_randomised": 1,
    }
    assert rows[(t.month(10), "GLA")]["randomised"] == 1
    assert all(row["screened"] == 0 for row in data["results"] if row["site"] == "FRB")


def test_recruitment_is_paginated_as_api_md_says(report_trial: ReportTrial) -> None:
    user = make_staff(None, Role.STATISTICIAN)
    first = get(user, "/api/v1/reports/recruitment/")
    assert first["count"] == 63 and len(first["results"]) == 50 and first["previous"] is None
    second = get(user, first["next"].removeprefix("http://testserver"))
    assert len(second["results"]) == 13 and second["next"] is None
    assert len(get(user, "/api/v1/reports/recruitment/?page_size=500")["results"]) == 63
    only = get(user, "/api/v1/reports/recruitment/?site=gla&page_size=100")
    assert {row["site"] for row in only["results"]} == {"GLA"}


def test_completeness_counts_forms_per_site_timepoint_and_instrument(
    report_trial: ReportTrial,
) -> None:
    data = get(make_staff(None, Role.MONITOR), "/api/v1/reports/completeness/?page_size=100")
    rows = {(r["site"], r["timepoint"], r["instrument"]): r for r in data["results"]}
    assert rows[("BAL", "post", "GAF")] == {
        "site": "BAL",
        "timepoint": "post",
        "instrument": "GAF",
        "expected": 3,
        "entered": 2,
        "complete": 2,
        "verified": 1,
        "missing": 1,
        "with_missing_items": 0,
    }
    assert rows[("BAL", "post", "PSP")]["missing"] == 3
    assert rows[("BAL", "baseline", "PANSS")]["expected"] == 7
    assert rows[("BAL", "baseline", "PANSS")]["complete"] == 1
    assert rows[("BAL", "followup", "GAF")]["expected"] == 1
    assert rows[("GLA", "post", "HAMD6")]["complete"] == 1
    assert rows[("GLA", "post", "HAMD6")]["missing"] == 0
    assert ("BAL", "baseline", "CSQ8") not in rows  # CSQ-8 is not asked at baseline
    post = get(
        make_staff(None, Role.MONITOR), "/api/v1/reports/completeness/?timepoint=post&site=GLA"
    )
    assert {(r["site"], r["timepoint"]) for r in post["results"]} == {("GLA", "post")}
    bad = api_client(make_staff(None, Role.MONITOR)).get(
        "/api/v1/reports/completeness/?timepoint=T9"
    )
    assert bad.status_code == 400 and "timepoint" in bad.json()


def test_administrators_and_anonymous_callers_get_no_report(sites: dict) -> None:
    admin = make_staff(None, Role.ADMIN)
    for url in (
        "/api/v1/reports/consort/",
        "/api/v1/reports/recruitment/",
        "/api/v1/reports/completeness/",
    ):
        assert api_client(admin).get(url).status_code == 403
        assert api_client().get(url).status_code == 401


def test_site_scoped_callers_get_rows_of_their_sites_only(report_trial: ReportTrial) -> None:
    """API.md: site-scoped callers see their sites only; another site is 404, an unknown
    one 400, for the row endpoints as for the flow."""
    coordinator = make_staff(None, Role.COORDINATOR, sites=["GLA"])
    for url in ("/api/v1/reports/recruitment/", "/api/v1/reports/completeness/"):
        rows = get(coordinator, url + "?page_size=100")["results"]
        assert rows and {row["site"] for row in rows} == {"GLA"}, url
        assert api_client(coordinator).get(url + "?site=BAL").status_code == 404
        assert api_client(coordinator).get(url + "?site=XYZ").status_code == 400
    recruitment = get(coordinator, "/api/v1/reports/recruitment/?page_size=100")["results"]
    assert sum(row["randomised"] for row in recruitment) == 1
    assert recruitment[-1]["cumulative_randomised"] == 1


def test_report_rows_keep_the_collection_rules(report_trial: ReportTrial) -> None:
    """At most 100 rows a page whatever is asked; a page past the last is 404."""
    person = make_participant("FRB", stage="ineligible")
    screening = person.screenings.get()
    screening.screened_at -= timedelta(days=4 * 365)  # four years before the others
    screening.save()
    user = make_staff(None, Role.STATISTICIAN)
    data = get(user, "/api/v1/reports/recruitment/?page_size=500")
    assert data["count"] > 100 and len(data["results"]) == 100
    assert data["results"][0]["site"] == "BAL" and data["results"][2]["screened"] == 1
    assert api_client(user).get("/api/v1/reports/recruitment/?page=99").status_code == 404
    assert api_client(user).get("/api/v1/reports/completeness/?page=99").status_code == 404


def test_a_cached_report_follows_the_data(report_trial: ReportTrial) -> None:
    user = make_staff(None, Role.DATA_MANAGER)
    assert get(user, "/api/v1/reports/consort/")["assessed"] == 11
    make_participant("FRB", stage="ineligible")
    assert get(user, "/api/v1/reports/consort/")["assessed"] == 12


def test_the_schema_says_arms_are_optional() -> None:
    """`arms` is left out for everyone who may not see it: the schema must not promise it."""
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    consort = schema["components"]["schemas"]["Consort"]
    assert "arms" in consort["properties"]
    assert "arms" not in consort["required"]
    assert {"assessed", "excluded", "randomised", "followup"} <= set(consort["required"])
    row = schema["components"]["schemas"]["RecruitmentRow"]
    assert set(row["required"]) >= {
        "month",
        "site",
        "screened",
        "consented",
        "randomised",
        "cumulative_randomised",
    }
