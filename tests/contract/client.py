"""The contract suite: API.md exercised as an outside client would use it.

Staff are made with `manage.py create_staff` exactly as API.md writes it, and every call goes
over HTTP with `Authorization: Token <token>` from `POST /api/v1/auth/token/` (with a real TOTP
code from pyotp, an authenticator independent of the server's own, for the two-factor roles).
Nothing here reaches into models or services: what a client cannot see, these tests do not
check (the app test directories do that)."""

from __future__ import annotations

import itertools
import re
from datetime import date
from io import StringIO
from typing import Any

from django.core.management import call_command
from rest_framework.test import APIClient

PASSWORD = "Contract-Recovery-2026!"
TWO_FACTOR_ROLES = {"statistician", "data_manager", "admin"}
SITES = ("BAL", "GLA", "FRB")

ELIGIBLE = {
    "diagnosis": "F20",
    "pse_confirmed": True,
    "age_18_or_over": True,
    "danish_fluent": True,
    "guardian_or_forensic": False,
    "dementia_or_intellectual_disability": False,
    "active_substance_use_disorder": False,
    "community_residential_home": False,
    "in_psychoeducation_course": False,
}

# The baseline forms randomisation needs (API.md, "Settings"): the demographics and the
# clinician-rated interview.
BASELINE_FOR_RANDOMIZATION = ("DEMOG", "GAF", "PSP", "PANSS", "HAMD6", "YMRS")

_serial = itertools.count(1)


def unique_cpr(born: date = date(1971, 3, 14)) -> str:
    """A valid CPR number nobody has used in this test run (born in the 1900s: the seventh
    digit is 0-3)."""
    n = next(_serial)
    return f"{born:%d%m%y}-{n // 1000 % 4}{n % 1000:03d}"


class Api:
    """A JSON client of /api/v1/; `token` None is an anonymous caller."""

    def __init__(self, token: str | None = None, username: str = "") -> None:
        self.username = username
        self.http = APIClient()
        if token is not None:
            self.http.credentials(HTTP_AUTHORIZATION=f"Token {token}")

    @staticmethod
    def _url(path: str) -> str:
        return path if path.startswith(("/", "http")) else f"/api/v1/{path}"

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.http.get(self._url(path), params or {})

    def post(self, path: str, body: Any = None) -> Any:
        return self.http.post(self._url(path), {} if body is None else body, format="json")

    def put(self, path: str, body: Any = None) -> Any:
        return self.http.put(self._url(path), {} if body is None else body, format="json")

    def patch(self, path: str, body: Any = None) -> Any:
        return self.http.patch(self._url(path), {} if body is None else body, format="json")

    def delete(self, path: str, body: Any = None) -> Any:
        return self.http.delete(self._url(path), body, format="json")


def assert_error_shape(response: Any, status: int) -> dict[str, Any]:
    """API.md: errors are {"detail": "..."} or field errors {"field": ["message", ...]}."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    body = response.json()
    assert isinstance(body, dict) and body, body
    if "detail" in body:
        assert isinstance(body["detail"], str) and body["detail"], body
    else:
        for field, messages in body.items():
            assert isinstance(field, str), body
            assert isinstance(messages, list) and messages, body
            assert all(isinstance(m, str) and m for m in messages), body
    return body


def create_staff(username: str, *roles: str, sites: tuple[str, ...] = (), secret: str = "") -> str:
    """`manage.py create_staff USERNAME --role ROLE [--role ROLE] [--site CODE ...]
    --password PW [--totp-secret BASE32]`; returns what it printed."""
    args = [username]
    for role in roles:
        args += ["--role", role]
    if sites:
        args += ["--site", *sites]
    args += ["--password", PASSWORD]
    if secret:
        args += ["--totp-secret", secret]
    out = StringIO()
    call_command("create_staff", *args, stdout=out)
    return out.getvalue()


def ask_token(username: str, password: str = PASSWORD, otp: str | None = None) -> Any:
    body = {"username": username, "password": password}
    if otp is not None:
        body["otp"] = otp
    return Api().post("auth/token/", body)


# --- the way a participant goes, through the API --------------------------------------------


def register(coordinator: Api, site: str = "BAL", sex: str = "female") -> dict[str, Any]:
    response = coordinator.post("participants/", {"site": site, "cpr": unique_cpr(), "sex": sex})
    assert response.status_code == 201, response.content
    return response.json()


def screen(coordinator: Api, pid: int, **answers: Any) -> Any:
    return coordinator.post(f"participants/{pid}/eligibility/", {**ELIGIBLE, **answers})


def consent(coordinator: Api, pid: int, when: date | None = None) -> Any:
    return coordinator.post(
        f"participants/{pid}/consent/", {"consent_date": (when or date.today()).isoformat()}
    )


def consented(coordinator: Api, site: str = "BAL") -> dict[str, Any]:
    participant = register(coordinator, site)
    assert screen(coordinator, participant["id"]).status_code == 200
    response = consent(coordinator, participant["id"])
    assert response.status_code == 200, response.content
    return response.json()


def form_items(code: str, instruments: list[dict[str, Any]]) -> dict[str, Any]:
    """A complete form built from GET /api/v1/instruments/ as a client would: the first allowed
    value of every entered item (no "other (specify)" values, no conditional follow-ups)."""
    if code == "PSP":  # the total must lie in the interval the domains give
        return {"PSP_A": 1, "PSP_B": 1, "PSP_C": 1, "PSP_D": 1, "PSP_TOTAL": 95}
    instrument = next(i for i in instruments if i["code"] == code)
    items: dict[str, Any] = {}
    for item in instrument["items"]:
        if item["derived"] or item["conditional"]:
            continue
        if item["pattern"]:
            items[item["code"]] = "F20.0"
            continue
        allowed = [v for v in item["allowed_values"] or [] if v not in item["comment_required_for"]]
        items[item["code"]] = int(allowed[0]) if float(allowed[0]).is_integer() else allowed[0]
    return items


def complete_baseline(assessor: Api, pid: int) -> None:
    instruments = assessor.get("instruments/").json()
    for code in BASELINE_FOR_RANDOMIZATION:
        response = assessor.put(
            f"participants/{pid}/assessments/baseline/{code}/",
            {"items": form_items(code, instruments), "status": "complete"},
        )
        assert response.status_code == 201, (code, response.content)


def randomize(coordinator: Api, pid: int) -> Any:
    return coordinator.post(f"participants/{pid}/randomize/", {})


def randomized_pair(coordinator: Api, site: str = "BAL") -> dict[str, dict[str, Any]]:
    """One participant of each arm at `site` (RANDOMIZATION_REQUIRES_BASELINE off): randomise
    consented people until both arms have come up (blocks of at most 10 are balanced)."""
    found: dict[str, dict[str, Any]] = {}
    for _ in range(12):
        participant = consented(coordinator, site)
        response = randomize(coordinator, participant["id"])
        assert response.status_code == 201, response.content
        found.setdefault(response.json()["arm"], participant)
        if len(found) == 2:
            return found
    raise AssertionError("twelve randomisations gave one arm only")


ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")
