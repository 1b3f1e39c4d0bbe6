"""No report takes more queries for 30 participants than for 3: every page and endpoint reads
with a fixed number of queries (the cache is emptied before each count)."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import api_client, make_participant, make_staff, page_client
from tests.reports.trial import randomized
from trial.roles import Role

pytestmark = pytest.mark.django_db

PAGES: dict[str, Any] = {
    Role.COORDINATOR: ["/", "/reports/", "/reports/consort/", "/reports/matrix/"],
    Role.ASSESSOR: ["/"],
    Role.CLINICIAN: ["/"],
    Role.DATA_MANAGER: ["/", "/reports/tables/baseline/"],
    Role.MONITOR: ["/", "/reports/matrix/?timepoint=post"],
    Role.STATISTICIAN: ["/", "/reports/pictures/consort.svg", "/reports/tables/baseline.csv"],
    Role.INSTRUCTOR: ["/"],
    Role.INVESTIGATOR: ["/"],
}
ENDPOINTS = [
    "/api/v1/reports/consort/",
    "/api/v1/reports/recruitment/",
    "/api/v1/reports/completeness/",
]


def queries(client: Any, url: str) -> int:
    cache.clear()
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return len(captured.captured_queries)


def add_people(n: int) -> None:
    today = make_participant("BAL").registered_on
    for i in range(n):
        make_participant("BAL", stage=("registered", "eligible", "ineligible", "consented")[i % 4])
        randomized("BAL", ("IMR", "TAU")[i % 2], i % 24, today)


def test_every_report_takes_the_same_queries_for_3_or_30_participants(sites: dict) -> None:
    users = {role: make_staff(None, role, sites=["BAL"]) for role in PAGES}
    clients = {role: page_client(user) for role, user in users.items()}
    api = api_client(users[Role.DATA_MANAGER])
    add_people(3)
    few = {(role, url): queries(clients[role], url) for role, urls in PAGES.items() for url in urls}
    few |= {("api", url): queries(api, url) for url in ENDPOINTS}
    add_people(27)
    many = {
        (role, url): queries(clients[role], url) for role, urls in PAGES.items() for url in urls
    }
    many |= {("api", url): queries(api, url) for url in ENDPOINTS}
    grown = {key: (few[key], many[key]) for key in few if many[key] != few[key]}
    assert not grown, grown
