"""API.md, "Authentication", and what holds for every endpoint: 401 without credentials, the
error shapes, the OpenAPI schema and the browsable docs."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pyotp
import pytest
from django.test import Client

from tests.contract.client import (
    PASSWORD,
    Api,
    ask_token,
    assert_error_shape,
    create_staff,
)

# Every endpoint API.md names, as (method, path) with its placeholders.
API_MD_ENDPOINTS = [
    ("post", "/api/v1/auth/token/"),
    ("get", "/api/v1/sites/"),
    ("post", "/api/v1/participants/"),
    ("get", "/api/v1/participants/"),
    ("get", "/api/v1/participants/{id}/"),
    ("post", "/api/v1/participants/{id}/eligibility/"),
    ("post", "/api/v1/participants/{id}/consent/"),
    ("post", "/api/v1/participants/{id}/randomize/"),
    ("post", "/api/v1/participants/{id}/withdraw/"),
    ("get", "/api/v1/instruments/"),
    ("put", "/api/v1/participants/{id}/assessments/{timepoint}/{instrument}/"),
    ("get", "/api/v1/participants/{id}/assessments/{timepoint}/{instrument}/"),
    ("post", "/api/v1/groups/"),
    ("post", "/api/v1/groups/{id}/members/"),
    ("post", "/api/v1/groups/{id}/sessions/"),
    ("put", "/api/v1/sessions/{id}/attendance/"),
    ("post", "/api/v1/fidelity-ratings/"),
    ("post", "/api/v1/locks/"),
    ("post", "/api/v1/locks/unlock/"),
    ("post", "/api/v1/exports/"),
    ("get", "/api/v1/exports/{id}/"),
]
METHODS = ("get", "post", "put", "patch", "delete")
SAMPLE_VALUES = {
    "timepoint": "baseline",
    "instrument": "GAF",
    "code": "GAF",
    "name": "participants.csv",
}


@pytest.fixture
def schema(trial: None) -> dict[str, Any]:
    response = Client().get("/api/v1/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def concrete(path: str) -> str:
    """A requestable address for a schema path (ids that need not exist: 401 comes first)."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "id" and path.startswith("/api/v1/exports/"):
            return str(uuid.uuid4())
        return SAMPLE_VALUES.get(name, "1")

    return re.sub(r"\{(\w+)\}", value, path)


def operations(schema: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (method, path)
        for path, item in schema["paths"].items()
        for method in METHODS
        if method in item
    ]


# --- the token -----------------------------------------------------------------------------


def test_a_token_is_given_for_the_right_password_and_opens_the_api(trial: None) -> None:
    create_staff("coord", "coordinator", sites=("BAL",))
    response = ask_token("coord")
    assert response.status_code == 200
    token = response.json()["token"]
    assert isinstance(token, str) and len(token) >= 20
    api = Api(token)
    assert api.get("sites/").json() == [{"code": "BAL", "name": "Ballerup"}]


@pytest.mark.parametrize(
    "body",
    [
        {"username": "coord", "password": "wrong-password"},
        {"username": "nobody", "password": PASSWORD},
    ],
    ids=["wrong password", "unknown user"],
)
def test_wrong_credentials_give_400_and_no_token(trial: None, body: dict) -> None:
    create_staff("coord", "coordinator")
    response = Api().post("auth/token/", body)
    body = assert_error_shape(response, 400)
    assert "token" not in body


def test_missing_fields_are_named(trial: None) -> None:
    body = assert_error_shape(Api().post("auth/token/", {}), 400)
    assert {"username", "password"} <= set(body)


@pytest.mark.parametrize("role", ["statistician", "data_manager", "admin"])
def test_two_factor_roles_need_a_current_totp_code(trial: None, role: str) -> None:
    secret = pyotp.random_base32()
    create_staff("twofactor", role, secret=secret)
    # A missing or wrong code is answered exactly like a wrong password (400 wrong credentials,
    # API.md; issue #11): the answer never confirms that the password was right.
    wrong_password = assert_error_shape(ask_token("twofactor", password="wrong-password"), 400)
    assert "token" not in wrong_password
    assert assert_error_shape(ask_token("twofactor"), 400) == wrong_password
    totp = pyotp.TOTP(secret)
    wrong = next(f"{n:06d}" for n in range(10**6) if not totp.verify(f"{n:06d}", valid_window=2))
    assert assert_error_shape(ask_token("twofactor", otp=wrong), 400) == wrong_password
    response = ask_token("twofactor", otp=totp.now())
    assert response.status_code == 200, response.content
    assert response.json()["token"]


@pytest.mark.parametrize(
    "role", ["coordinator", "assessor", "clinician", "instructor", "fidelity_rater", "monitor"]
)
def test_other_roles_need_no_code(trial: None, role: str) -> None:
    create_staff("onefactor", role)
    assert ask_token("onefactor").status_code == 200


def test_repeated_failures_lock_the_account_on_the_api_exactly_as_on_the_login_page(
    trial: None,
) -> None:
    create_staff("api-guesser", "coordinator")
    create_staff("page-guesser", "coordinator")
    for _ in range(4):
        assert ask_token("api-guesser", password="wrong-password").status_code == 400
        page = Client().post("/accounts/login/", {"username": "page-guesser", "password": "x"})
        assert page.status_code == 200  # the form again, with its error
    locking_api = ask_token("api-guesser", password="wrong-password").status_code
    locking_page = (
        Client().post("/accounts/login/", {"username": "page-guesser", "password": "x"}).status_code
    )
    assert locking_api in (403, 429)
    assert locking_page == locking_api

    for username in ("api-guesser", "page-guesser"):
        # Locked on both doors, whichever door was knocked on; the right password no longer
        # helps.
        page = Client().post("/accounts/login/", {"username": username, "password": PASSWORD})
        assert page.status_code == locking_api, username
        assert_error_shape(ask_token(username), locking_api)


def test_a_revoked_token_no_longer_works(trial: None) -> None:
    create_staff("coord", "coordinator")
    api = Api(ask_token("coord").json()["token"])
    assert api.delete("auth/token/").status_code == 204
    assert_error_shape(api.get("sites/"), 401)


# --- every endpoint ------------------------------------------------------------------------


def test_every_endpoint_answers_401_without_credentials_or_with_a_wrong_token(
    schema: dict[str, Any],
) -> None:
    anonymous, forged = Api(), Api("not-a-real-token")
    checked = 0
    for method, path in operations(schema):
        if (method, path) == ("post", "/api/v1/auth/token/"):
            continue
        for caller in (anonymous, forged):
            response = getattr(caller, method)(concrete(path))
            assert response.status_code == 401, (method, path, response.status_code)
            assert_error_shape(response, 401)
        checked += 1
    assert checked > 50


def test_every_endpoint_of_api_md_is_in_the_schema(schema: dict[str, Any]) -> None:
    listed = set(operations(schema))
    missing = [endpoint for endpoint in API_MD_ENDPOINTS if endpoint not in listed]
    assert not missing


@pytest.mark.parametrize(
    "path",
    ["/api/v1/no-such-thing/", "/api/v1/participants/abc/", "/api/v1/exports/123/"],
)
def test_an_address_no_endpoint_answers_is_404_in_the_error_shape(trial: None, path: str) -> None:
    create_staff("coord", "coordinator")
    api = Api(ask_token("coord").json()["token"])
    response = api.get(path)
    assert response["Content-Type"].startswith("application/json")
    assert_error_shape(response, 404)


def test_the_schema_and_the_browsable_docs_are_served(trial: None) -> None:
    create_staff("coord", "coordinator")
    api = Api(ask_token("coord").json()["token"])
    assert api.get("/api/v1/schema/").status_code == 200
    docs = Client().get("/api/v1/docs/")
    assert docs.status_code == 200
    assert "text/html" in docs["Content-Type"]


@pytest.mark.parametrize("role", ["statistician", "data_manager"])
def test_every_read_endpoint_of_the_schema_serves_a_logged_in_user(
    schema: dict[str, Any], staff: Any, role: str
) -> None:
    """Each GET of the schema is routed and answers without a server error (ids that do not
    exist give 404 with the error shape; file downloads are left to the export tests)."""
    api = staff(role)
    for method, path in operations(schema):
        if method != "get" or path.endswith("/files/{name}"):
            continue
        response = api.get(concrete(path))
        assert response.status_code < 500, (path, response.status_code)
        if response.status_code >= 400:
            assert_error_shape(response, response.status_code)
