"""Who may call which endpoint and open which page, role by role (DESIGN.md roles; 401 without
credentials, 403 for a role that may not act, 404 outside the user's sites)."""

from __future__ import annotations

from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from rest_framework.test import APIClient

from tests.assessments.helpers import form_url, put_form, typical_items
from tests.factories import api_client, make_participant, make_staff, page_client
from trial.roles import Role

pytestmark = pytest.mark.django_db

ROLES = {
    "coordinator": (Role.COORDINATOR, ["BAL"]),
    "assessor": (Role.ASSESSOR, ["BAL"]),
    "clinician": (Role.CLINICIAN, ["BAL"]),
    "instructor": (Role.INSTRUCTOR, ["BAL"]),
    "fidelity_rater": (Role.FIDELITY_RATER, None),
    "data_manager": (Role.DATA_MANAGER, None),
    "statistician": (Role.STATISTICIAN, None),
    "monitor": (Role.MONITOR, None),
    "admin": (Role.ADMIN, None),
    "assessor_elsewhere": (Role.ASSESSOR, ["GLA"]),
}


@pytest.fixture(scope="module")
def world(django_db_setup: Any, django_db_blocker: Any) -> Iterator[dict[str, Any]]:
    """Built once for the module's ~180 cases (each runs in a savepoint of this transaction,
    rolled back after it); the transaction is rolled back at the end of the module."""
    with django_db_blocker.unblock(), transaction.atomic():
        call_command("setup_trial", stdout=StringIO())
        yield _build_world()
        transaction.set_rollback(True)


def _build_world() -> dict[str, Any]:
    participant = make_participant("BAL")
    users = {
        name: make_staff(f"u-{name}", role, sites=where) for name, (role, where) in ROLES.items()
    }
    assert (
        put_form(
            users["assessor"], participant, "baseline", "PANSS", typical_items("PANSS")
        ).status_code
        == 201
    )
    assert (
        put_form(
            users["clinician"], participant, "baseline", "IMRS_C", typical_items("IMRS_C")
        ).status_code
        == 201
    )
    return {"participant": participant, "users": users}


def call(world: dict, who: str, method: str, path: str, body: Any = None, **kwargs: Any) -> int:
    client = APIClient() if who == "anonymous" else api_client(world["users"][who])
    return getattr(client, method)(path, body, format="json", **kwargs).status_code


def expected_for(table: dict[str, int], who: str) -> int:
    return table.get(who, table["*"])


ALL = [*ROLES, "anonymous"]

API_CASES = {
    "list instruments": (
        "get",
        lambda p: "/api/v1/instruments/",
        None,
        {"anonymous": 401, "*": 200},
    ),
    "read the PANSS": (
        "get",
        lambda p: form_url(p, "baseline", "PANSS"),
        None,
        {
            "coordinator": 200,
            "assessor": 200,
            "clinician": 200,
            "data_manager": 200,
            "statistician": 200,
            "monitor": 200,
            "assessor_elsewhere": 404,
            "anonymous": 401,
            "*": 403,
        },
    ),
    "read the clinician's IMRS": (
        "get",
        lambda p: form_url(p, "baseline", "IMRS_C"),
        None,
        {
            "coordinator": 200,
            "clinician": 200,
            "statistician": 200,
            "assessor_elsewhere": 404,
            "anonymous": 401,
            "*": 403,
        },
    ),
    "change the PANSS": (
        "put",
        lambda p: form_url(p, "baseline", "PANSS"),
        {
            "items": typical_items("PANSS") | {"P1": 7},
            "status": "complete",
            "version": 1,
            "reason": "r",
        },
        {"assessor": 200, "assessor_elsewhere": 404, "anonymous": 401, "*": 403},
    ),
    "change the clinician's IMRS": (
        "put",
        lambda p: form_url(p, "baseline", "IMRS_C"),
        {
            "items": typical_items("IMRS_C") | {"IMRS_C_1": 1},
            "status": "complete",
            "version": 1,
            "reason": "r",
        },
        {"clinician": 200, "assessor_elsewhere": 404, "anonymous": 401, "*": 403},
    ),
    "verify the PANSS": (
        "post",
        lambda p: form_url(p, "baseline", "PANSS") + "verify/",
        {"version": 1},
        {"data_manager": 200, "monitor": 200, "anonymous": 401, "*": 403},
    ),
    "verify the clinician's IMRS": (
        "post",
        lambda p: form_url(p, "baseline", "IMRS_C") + "verify/",
        {"version": 1},
        {"anonymous": 401, "*": 403},
    ),
    "raise a query": (
        "post",
        lambda p: form_url(p, "baseline", "PANSS") + "queries/",
        {"item": "P1", "message": "Check"},
        {"data_manager": 201, "anonymous": 401, "*": 403},
    ),
    "list queries": (
        "get",
        lambda p: "/api/v1/queries/",
        None,
        {
            "coordinator": 200,
            "assessor": 200,
            "clinician": 200,
            "data_manager": 200,
            "monitor": 200,
            "assessor_elsewhere": 200,
            "anonymous": 401,
            "*": 403,
        },
    ),
    "the worklist": (
        "get",
        lambda p: "/api/v1/worklist/",
        None,
        {
            "coordinator": 200,
            "assessor": 200,
            "clinician": 200,
            "assessor_elsewhere": 200,
            "anonymous": 401,
            "*": 403,
        },
    ),
    "the participant's forms": (
        "get",
        lambda p: f"/api/v1/participants/{p.pk}/assessments/",
        None,
        {
            "coordinator": 200,
            "assessor": 200,
            "clinician": 200,
            "data_manager": 200,
            "statistician": 200,
            "monitor": 200,
            "assessor_elsewhere": 404,
            "anonymous": 401,
            "*": 403,
        },
    ),
    "list register imports": (
        "get",
        lambda p: "/api/v1/register-imports/",
        None,
        {"data_manager": 200, "anonymous": 401, "*": 403},
    ),
}


@pytest.mark.parametrize("who", ALL)
@pytest.mark.parametrize("case", list(API_CASES))
def test_the_api_answers_each_role_as_the_matrix_says(world: dict, case: str, who: str) -> None:
    method, path, body, table = API_CASES[case]
    assert call(world, who, method, path(world["participant"]), body) == expected_for(table, who)


PAGE_CASES = {
    "worklist": (
        lambda p: "/assessments/worklist/",
        {
            "coordinator": 200,
            "assessor": 200,
            "clinician": 200,
            "assessor_elsewhere": 200,
            "*": 403,
        },
    ),
    "queries": (
        lambda p: "/assessments/queries/",
        {
            "coordinator": 200,
            "assessor": 200,
            "clinician": 200,
            "data_manager": 200,
            "monitor": 200,
            "assessor_elsewhere": 200,
            "*": 403,
        },
    ),
    "register import": (lambda p: "/assessments/register/", {"data_manager": 200, "*": 403}),
    "PANSS form": (
        lambda p: f"/assessments/participants/{p.pk}/baseline/PANSS/",
        {
            "coordinator": 200,
            "assessor": 200,
            "clinician": 200,
            "data_manager": 200,
            "statistician": 200,
            "monitor": 200,
            "assessor_elsewhere": 404,
            "*": 403,
        },
    ),
    "clinician's IMRS form": (
        lambda p: f"/assessments/participants/{p.pk}/baseline/IMRS_C/",
        {
            "coordinator": 200,
            "clinician": 200,
            "statistician": 200,
            "assessor_elsewhere": 404,
            "*": 403,
        },
    ),
    "participant's forms": (
        lambda p: f"/assessments/participants/{p.pk}/",
        {
            "coordinator": 200,
            "assessor": 200,
            "clinician": 200,
            "data_manager": 200,
            "statistician": 200,
            "monitor": 200,
            "assessor_elsewhere": 404,
            "*": 403,
        },
    ),
}


@pytest.mark.parametrize("who", list(ROLES))
@pytest.mark.parametrize("case", list(PAGE_CASES))
def test_the_pages_answer_each_role_as_the_matrix_says(world: dict, case: str, who: str) -> None:
    path, table = PAGE_CASES[case]
    client = page_client(world["users"][who])
    assert client.get(path(world["participant"])).status_code == expected_for(table, who)


@pytest.mark.parametrize("case", list(PAGE_CASES))
def test_the_pages_send_anonymous_visitors_to_the_login(world: dict, case: str) -> None:
    path, _ = PAGE_CASES[case]
    response = Client().get(path(world["participant"]))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
