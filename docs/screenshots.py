"""Take the user guide's screenshots (docs/user-guide.md) from a running demo system.

    make run                              # in one terminal: the demo trial on :8000
    .venv/bin/python docs/screenshots.py  # in another (BASE_URL=http://127.0.0.1:8001 for :8001)
    .venv/bin/python docs/screenshots.py 24 28  # only the pictures whose names start so

It logs in as the demo users through the real login page (with the demo TOTP secret for the
two-factor roles), opens the main pages and writes PNGs to docs/screenshots/. It only reads:
no form is submitted except the login, so the demo trial is unchanged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import struct
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import BrowserContext, Page, ViewportSize, sync_playwright

BASE_URL = os.environ.get("BASE_URL", "http://127.0.0.1:8000").rstrip("/")
# The demo accounts' published credentials (demo_data, DEBUG machines only).
PASSWORD = "Recovery-2026!"  # noqa: S105
DEMO_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # noqa: S105
OUT = Path(__file__).resolve().parent / "screenshots"
DESKTOP: ViewportSize = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}
# Names (or their starts, e.g. "24") given on the command line retake only those pictures,
# so adding one does not rewrite the others' bytes.
ONLY = tuple(sys.argv[1:])


def totp(secret: str, step: int) -> str:
    key = base64.b32decode(secret)
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 15
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


def api(path: str, username: str) -> Any:
    """A read over the API as a demo user without a second factor (to find the ids to open)."""
    with httpx.Client(base_url=BASE_URL) as http:
        login = http.post("/api/v1/auth/token/", json={"username": username, "password": PASSWORD})
        login.raise_for_status()
        response = http.get(path, headers={"Authorization": f"Token {login.json()['token']}"})
        response.raise_for_status()
        return response.json()


def log_in(page: Page, username: str, *, two_factor: bool = False) -> None:
    page.goto(f"{BASE_URL}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    if two_factor:
        # The code goes with the password. Each demo account has its own device, and a device
        # accepts a code once: a fresh account per login keeps this simple.
        page.get_by_label("Code from your authenticator app").fill(
            totp(DEMO_TOTP_SECRET, int(time.time()) // 30)
        )
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state("networkidle")


def shoot(page: Page, path: str, name: str) -> None:
    if ONLY and not name.startswith(ONLY):
        return
    page.goto(f"{BASE_URL}{path}")
    page.wait_for_load_state("networkidle")
    page.screenshot(path=OUT / f"{name}.png", full_page=False)
    print(f"  {name}.png  {path}")


def main() -> None:
    OUT.mkdir(exist_ok=True)
    participants = api("/api/v1/participants/", "demo-coordinator")
    rows = participants["results"] if isinstance(participants, dict) else participants
    # The demo has one consented person at BAL whose baseline is complete (ready to randomise).
    consented = next(p for p in rows if p["status"] == "consented" and p["site"] == "BAL")
    randomized = next(p for p in rows if p["status"] == "randomized")
    groups = api("/api/v1/groups/", "demo-instructor")
    group_rows = groups["results"] if isinstance(groups, dict) else groups

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=["--no-sandbox"]
        )

        def english(viewport: Any) -> BrowserContext:
            # The guide is in English; the demo speaks the deployment's DEFAULT_LANGUAGE (da)
            # unless the language cookie says otherwise, as a chosen language does.
            context = browser.new_context(viewport=viewport)
            context.add_cookies([{"name": "django_language", "value": "en", "url": BASE_URL}])
            return context

        def as_user(username: str, *, two_factor: bool = False, viewport: Any = DESKTOP) -> Page:
            page = english(viewport).new_page()
            log_in(page, username, two_factor=two_factor)
            return page

        anonymous = english(DESKTOP).new_page()
        shoot(anonymous, "/accounts/login/", "01-login")

        page = as_user("demo-coordinator")
        shoot(page, "/", "02-coordinator-home")
        shoot(page, "/participants/", "03-participants")
        shoot(page, "/participants/new/", "04-register")
        shoot(page, f"/participants/{consented['id']}/screening/", "05-screening")
        shoot(page, f"/randomisation/participants/{consented['id']}/", "06-randomise")
        shoot(page, f"/participants/{randomized['id']}/", "07-overview-unblinded")
        page.context.close()

        page = as_user("demo-assessor")
        shoot(page, "/assessments/worklist/", "08-assessor-worklist")
        shoot(page, f"/participants/{randomized['id']}/", "09-overview-blinded")
        shoot(
            page,
            f"/assessments/participants/{randomized['id']}/baseline/PANSS/",
            "10-panss-form",
        )
        page.context.close()

        page = as_user("demo-instructor", viewport=PHONE)
        shoot(page, "/imr/", "11-imr-groups-phone")
        if group_rows:
            shoot(page, f"/imr/groups/{group_rows[0]['id']}/", "12-imr-group-phone")
        page.context.close()

        page = as_user("demo-fidelity-rater")
        shoot(page, "/imr/fidelity/", "13-fidelity")
        page.context.close()

        page = as_user("demo-data-manager", two_factor=True)
        shoot(page, "/assessments/queries/", "14-queries")
        shoot(page, f"/participants/{randomized['id']}/audit/", "15-audit-history")
        shoot(page, "/data/lock/", "16-freeze-lock")
        shoot(page, "/data/exports/", "17-exports")
        shoot(page, "/", "20-data-manager-home")
        shoot(page, "/reports/consort/", "22-consort")
        shoot(page, "/reports/matrix/", "23-matrix")
        page.context.close()

        page = as_user("demo-statistician", two_factor=True)
        shoot(page, "/randomisation/lists/", "18-allocation-lists")
        shoot(page, "/", "21-statistician-home")
        page.context.close()

        page = as_user("demo-assessor")
        shoot(page, "/", "19-assessor-home")
        page.context.close()

        # The other roles' home pages (the monitor is blinded; the rest may see allocation).
        for number, role in enumerate(
            ["monitor", "clinician", "instructor", "fidelity-rater", "investigator"], start=24
        ):
            page = as_user(f"demo-{role}")
            shoot(page, "/", f"{number}-{role}-home")
            page.context.close()
        browser.close()


if __name__ == "__main__":
    main()
