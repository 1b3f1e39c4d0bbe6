"""Security settings as a deployment sees them (DEBUG off), headers, CSRF, and pages that
work under the Content-Security-Policy (no inline script or style)."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client

from tests.factories import make_participant, make_staff, page_client
from trial.roles import Role

ROOT = Path(__file__).resolve().parents[2]


def production_env() -> dict[str, str]:
    """The environment of a deployment: debugging off, a long random key, a real host name."""
    env = dict(os.environ)
    env.update(
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="edc.example.org",
        CPR_KEYS=",".join(django_settings.CPR_KEYS),
        DATABASE_URL=os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/imrtrial"),
    )
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set by browser tests for their own thread
    return env


def run_manage(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env or production_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_reports_nothing_with_debugging_off() -> None:
    result = run_manage("check", "--deploy", "--fail-level", "DEBUG")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
    assert "WARNING" not in result.stderr


PROBE = """
import json, django
django.setup()
from django.test import Client
plain = Client().get("/accounts/login/", HTTP_HOST="edc.example.org")
page = Client().get("/accounts/login/", secure=True, HTTP_HOST="edc.example.org")
print(json.dumps({
    "plain": [plain.status_code, plain.headers.get("Location", "")],
    "status": page.status_code,
    "headers": dict(page.headers),
    "csrf_cookie": {k: str(v) for k, v in page.cookies["csrftoken"].items()},
}))
"""


def test_a_deployment_sends_hsts_secure_cookies_and_redirects_to_https() -> None:
    env = production_env() | {"DJANGO_SETTINGS_MODULE": "imrtrial.settings"}
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["plain"] == [301, "https://edc.example.org/accounts/login/"]
    assert seen["status"] == 200
    headers = seen["headers"]
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert seen["csrf_cookie"]["secure"] is True or seen["csrf_cookie"]["secure"] == "True"
    assert seen["csrf_cookie"]["samesite"] == "Lax"


def test_every_response_carries_csp_and_frame_denial(sites: Any) -> None:
    response = Client().get("/accounts/login/")
    csp = response["Content-Security-Policy"]
    for directive in (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "object-src 'none'",
    ):
        assert directive in csp
    assert "unsafe-inline" not in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)
INLINE_STYLE = re.compile(r"<style[\s>]|\sstyle=\"", re.I)


@pytest.fixture
def pages_as_users(sites: Any) -> list[tuple[str, Any]]:
    coordinator = make_staff("c", Role.COORDINATOR, sites=["BAL"])
    participant = make_participant("BAL", stage="eligible", user=coordinator)
    data_manager = make_staff("dm", Role.DATA_MANAGER)
    admin = make_staff("adm", Role.ADMIN)
    new_dm = make_staff("newdm", Role.DATA_MANAGER)
    c, dm, ad = page_client(coordinator), page_client(data_manager), page_client(admin)
    unverified = Client()
    unverified.force_login(new_dm)
    pk = participant.pk
    return [
        ("/accounts/login/", Client()),
        ("/accounts/enrol/", unverified),
        ("/accounts/", c),
        ("/accounts/password/", c),
        ("/", c),
        ("/participants/", c),
        ("/participants/?q=BAL-001-X", c),
        ("/participants/new/", c),
        (f"/participants/{pk}/", c),
        (f"/participants/{pk}/screening/", c),
        (f"/participants/{pk}/consent/", c),
        (f"/participants/{pk}/status/", c),
        (f"/participants/{pk}/audit/", dm),
        ("/api/v1/docs/", Client()),
        ("/admin/", ad),
        ("/admin/auth/user/", ad),
        (f"/admin/auth/user/{coordinator.pk}/change/", ad),
        (f"/admin/auth/user/{coordinator.pk}/history/", ad),
        ("/admin/auth/user/add/", ad),
        ("/admin/trial/site/", ad),
        ("/admin/accounts/authevent/", ad),
    ]


def test_no_page_needs_inline_script_or_style(pages_as_users: list[tuple[str, Any]]) -> None:
    """The CSP forbids inline script and style; a page that used them would break silently
    in the browser. (The browser test checks the console for violations as well.)"""
    for path, client in pages_as_users:
        response = client.get(path)
        assert response.status_code == 200, path
        html = response.content.decode()
        for pattern in (INLINE_SCRIPT, INLINE_STYLE):
            found = pattern.search(html)
            assert found is None, (path, found.group(0) if found else "")


def test_forms_refuse_a_post_without_the_csrf_token(sites: Any) -> None:
    coordinator = make_staff("c", Role.COORDINATOR, sites=["BAL"])
    participant = make_participant("BAL", stage="registered", user=coordinator)
    anonymous = Client(enforce_csrf_checks=True)
    assert anonymous.post("/accounts/login/", {"username": "c", "password": "x"}).status_code == 403
    client = Client(enforce_csrf_checks=True)
    client.force_login(coordinator)
    for path in (
        "/participants/new/",
        f"/participants/{participant.pk}/screening/",
        f"/participants/{participant.pk}/consent/",
        f"/participants/{participant.pk}/status/",
        "/accounts/password/",
        "/accounts/",
        "/accounts/logout/",
    ):
        assert client.post(path, {}).status_code == 403, path
    # The session API needs the token too (DRF's SessionAuthentication enforces CSRF).
    api = client.post("/api/v1/participants/", {"site": "BAL"}, content_type="application/json")
    assert api.status_code == 403


def test_the_openapi_schema_validates_without_warnings() -> None:
    env = dict(os.environ)
    result = run_manage(
        "spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null", env=env
    )
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr and "Error" not in result.stderr


def test_the_api_docs_are_served_from_this_app(sites: Any) -> None:
    html = Client().get("/api/v1/docs/").content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower()
    script = Client().get("/api/v1/docs/?script=")
    assert script.status_code == 200
    assert "/api/v1/schema/" in script.content.decode()
    schema = Client().get("/api/v1/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    paths = json.loads(schema.content)["paths"]
    for path in (
        "/api/v1/auth/token/",
        "/api/v1/participants/",
        "/api/v1/participants/{id}/eligibility/",
        "/api/v1/participants/{id}/audit/",
    ):
        assert path in paths
