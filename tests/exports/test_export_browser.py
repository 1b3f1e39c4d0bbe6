"""In a real browser: a data manager starts a blinded export, watches the progress bar reach
100 and downloads the archive.

Data managers log in with a password and a TOTP code. The OTP login pages are built
elsewhere, so this test logs in by giving the browser the cookie of a session made on the
server the way a completed two-factor login makes it: django.contrib.auth.login followed by
django_otp.login with the user's confirmed TOTP device."""

from __future__ import annotations

import hashlib
import zipfile
from importlib import import_module
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.conf import settings as django_settings
from django.contrib.auth import login as auth_login
from django.db import connection
from django.test import RequestFactory
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from exports.models import ExportFormat, ExportJob
from tests.exports.trial import build_trial

pytestmark = [pytest.mark.browser, pytest.mark.worker]

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run",
]  # fmt: skip


def connection_params() -> dict[str, Any]:
    params = dict(connection.get_connection_params())
    params.pop("cursor_factory", None)
    params.pop("context", None)
    return params


def otp_verified_session(user: Any) -> str:
    """The session key of a completed password + TOTP login."""
    device = TOTPDevice.objects.create(user=user, name="Authenticator", confirmed=True)
    request = RequestFactory().get("/")
    request.session = import_module(django_settings.SESSION_ENGINE).SessionStore()
    request.user = user
    auth_login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    otp_login(request, device)
    request.session.save()
    assert request.session[DEVICE_ID_SESSION_KEY] == device.persistent_id
    key = request.session.session_key
    assert key is not None
    return key


def test_a_data_manager_starts_a_blinded_export_watches_it_finish_and_downloads_it(
    live_server: Any,
    settings: Any,
    dm: Any,
    export_root: Path,
    celery_worker: Any,
    outbox_relay: None,
    tmp_path: Path,
) -> None:
    from playwright.sync_api import sync_playwright

    settings.SESSION_COOKIE_SECURE = False  # the live server speaks plain HTTP
    settings.CSRF_COOKIE_SECURE = False
    build_trial()
    session_key = otp_verified_session(dm)

    seen: list[int] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
        )
        context = browser.new_context(accept_downloads=True)
        context.add_cookies(
            [
                {
                    "name": django_settings.SESSION_COOKIE_NAME,
                    "value": session_key,
                    "url": live_server.url,
                }
            ]
        )
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on(
            "console",
            lambda m: (
                errors.append(m.text)
                if m.type == "error" and "Content Security Policy" in m.text
                else None
            ),
        )
        page.goto(f"{live_server.url}/data/exports/")
        assert page.get_by_role("heading", name="Exports", exact=True).is_visible()
        assert page.locator("input[name=formats]").count() == len(ExportFormat.values)
        # Hold the build at its first read of the participants, so the page is seen with a
        # running job that only htmx polling can bring to 100.
        blocker = psycopg.connect(**connection_params())
        blocker.execute("LOCK TABLE participants_participant IN ACCESS EXCLUSIVE MODE")
        page.get_by_role("button", name="Start export").click()

        progress = page.locator("tr[id^='job-'] progress").first
        page.locator("tr[id^='job-'] [data-status='running']").wait_for(timeout=60_000)
        seen.append(int(progress.get_attribute("value") or "nothing"))
        blocker.rollback()
        blocker.close()
        page.wait_for_function(
            "() => document.querySelector(\"tr[id^='job-'] progress\").value === 100",
            timeout=90_000,
        )
        seen.append(int(progress.get_attribute("value") or "nothing"))
        assert page.locator("tr[id^='job-'] [data-status]").first.inner_text() == "Done"

        with page.expect_download() as downloading:
            page.get_by_role("link", name="Download archive").click()
        download = downloading.value
        saved = tmp_path / download.suggested_filename
        download.save_as(saved)
        assert not errors, errors  # no CSP violation, no script error
        browser.close()

    assert seen[0] < 100 and seen[-1] == 100
    job = ExportJob.objects.get()
    assert (job.requested_by, job.blinded, job.status) == (dm, True, "done")
    archive = next(f for f in job.files if f["kind"] == "archive")
    assert saved.name == archive["name"]
    assert hashlib.sha256(saved.read_bytes()).hexdigest() == archive["sha256"]
    with zipfile.ZipFile(saved) as packed:
        assert {"manifest.json", "participants.csv", "participants.sav", "odm.xml",
                "codebook.html"} <= set(packed.namelist())  # fmt: skip
    assert job.downloads.get().user == dm
