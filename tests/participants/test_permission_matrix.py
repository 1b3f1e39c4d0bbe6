"""Issue 2's permission matrix: every endpoint and page of accounts and participants × every
role × own site / other site (tests/matrix.py)."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from tests.factories import ELIGIBLE_ANSWERS
from tests.matrix import Case, Expected, World, assert_matrix, expect

TODAY = timezone.localdate

# Who reads participants: the site-scoped roles at their own site, the all-site roles at any.
READERS: dict[str, Expected] = {
    "coordinator": (200, 404),
    "assessor": (200, 404),
    "clinician": (200, 404),
    "instructor": (200, 404),
    "data_manager": 200,
    "statistician": 200,
    "monitor": 200,
    "investigator": (200, 404),
}
# The list itself is open to every reader; filtering on a site one does not work at gives an
# empty list (what it contains is tested in test_pages / test_registration).
LIST_READERS: dict[str, Expected] = {role: 200 for role in READERS}


def participant_url(suffix: str = "", stage: str = "registered", api: bool = True) -> Any:
    prefix = "/api/v1/participants" if api else "/participants"
    return lambda w, where: f"{prefix}/{w.participant(where, stage).pk}/{suffix}"


def registration(w: World, where: str) -> dict[str, Any]:
    from tests.factories import unique_cpr

    cpr = unique_cpr()
    # The sex the CPR number gives: a different one is warned about before anything is saved.
    return {"site": w.site(where), "cpr": cpr, "sex": "male" if int(cpr[-1]) % 2 else "female"}


def screening_form(w: World, where: str) -> dict[str, Any]:
    return {
        k: (v if isinstance(v, str) else ("yes" if v else "no"))
        for k, v in ELIGIBLE_ANSWERS.items()
    }


API_CASES = [
    Case("sites", "GET", lambda w, where: "/api/v1/sites/", expect(200)),
    Case(
        "eligibility criteria", "GET", lambda w, where: "/api/v1/eligibility-criteria/", expect(200)
    ),
    Case("who am I", "GET", lambda w, where: "/api/v1/auth/me/", expect(200)),
    Case(
        "participant list",
        "GET",
        lambda w, where: f"/api/v1/participants/?site={w.site(where)}",
        expect(403, **LIST_READERS),
    ),
    Case(
        "registration",
        "POST",
        lambda w, where: "/api/v1/participants/",
        expect(403, coordinator=(201, 403)),
        body=registration,
    ),
    Case("participant detail", "GET", participant_url(), expect(403, **READERS)),
    Case(
        "eligibility screening",
        "POST",
        participant_url("eligibility/"),
        expect(403, coordinator=(200, 404)),
        body=lambda w, where: dict(ELIGIBLE_ANSWERS),
    ),
    Case(
        "consent",
        "POST",
        participant_url("consent/", stage="eligible"),
        expect(403, coordinator=(200, 404)),
        body=lambda w, where: {"consent_date": TODAY().isoformat()},
    ),
    Case(
        "withdrawal",
        "POST",
        participant_url("withdraw/", stage="consented"),
        expect(403, coordinator=(200, 404)),
        body=lambda w, where: {"reason": "Does not wish to continue", "date": TODAY().isoformat()},
    ),
    Case(
        "status change (death)",
        "POST",
        participant_url("status/", stage="consented"),
        expect(403, coordinator=(200, 404), data_manager=200),
        body=lambda w, where: {
            "status": "deceased",
            "reason": "Death register",
            "date": TODAY().isoformat(),
        },
    ),
    Case(
        "audit history",
        "GET",
        participant_url("audit/"),
        expect(403, data_manager=200, monitor=200),
    ),
]

PAGE_CASES = [
    Case("home page", "GET", lambda w, where: "/", expect(200), page=True),
    Case("account page", "GET", lambda w, where: "/accounts/", expect(200), page=True),
    Case(
        "password change page",
        "GET",
        lambda w, where: "/accounts/password/",
        expect(200),
        page=True,
    ),
    Case(
        "participant list page",
        "GET",
        lambda w, where: f"/participants/?site={w.site(where)}",
        expect(403, **LIST_READERS),
        page=True,
    ),
    Case(
        "registration page",
        "GET",
        lambda w, where: "/participants/new/",
        expect(403, coordinator=200),
        page=True,
    ),
    Case(
        "registration form",
        "POST",
        lambda w, where: "/participants/new/",
        # A site the coordinator does not work at is not among the choices: the form refuses it.
        expect(403, coordinator=(302, 400)),
        body=registration,
        page=True,
    ),
    Case("overview page", "GET", participant_url(api=False), expect(403, **READERS), page=True),
    Case(
        "screening page",
        "GET",
        participant_url("screening/", api=False),
        expect(403, coordinator=(200, 404)),
        page=True,
    ),
    Case(
        "screening form",
        "POST",
        participant_url("screening/", api=False),
        expect(403, coordinator=(302, 404)),
        body=screening_form,
        page=True,
    ),
    Case(
        "consent page",
        "GET",
        participant_url("consent/", stage="eligible", api=False),
        expect(403, coordinator=(200, 404)),
        page=True,
    ),
    Case(
        "consent form",
        "POST",
        participant_url("consent/", stage="eligible", api=False),
        expect(403, coordinator=(302, 404)),
        body=lambda w, where: {"consent_date": TODAY().isoformat(), "reason": ""},
        page=True,
    ),
    Case(
        "status page",
        "GET",
        participant_url("status/", stage="consented", api=False),
        expect(403, coordinator=(200, 404), data_manager=200),
        page=True,
    ),
    Case(
        "status form",
        "POST",
        participant_url("status/", stage="consented", api=False),
        expect(403, coordinator=(302, 404), data_manager=302),
        body=lambda w, where: {
            "status": "deceased",
            "date": TODAY().isoformat(),
            "reason": "Register",
        },
        page=True,
    ),
    Case(
        "audit history page",
        "GET",
        participant_url("audit/", api=False),
        expect(403, data_manager=200, monitor=200),
        page=True,
    ),
    Case("admin index", "GET", lambda w, where: "/admin/", expect(403, admin=200), page=True),
    Case(
        "admin accounts list",
        "GET",
        lambda w, where: "/admin/auth/user/",
        expect(403, admin=200),
        page=True,
    ),
]


@pytest.mark.parametrize("case", API_CASES, ids=lambda c: c.label)
def test_every_endpoint_answers_every_role_as_the_table_says(case: Case, world: World) -> None:
    assert_matrix(case, world)


@pytest.mark.parametrize("case", PAGE_CASES, ids=lambda c: c.label)
def test_every_page_answers_every_role_as_the_table_says(case: Case, world: World) -> None:
    assert_matrix(case, world)
