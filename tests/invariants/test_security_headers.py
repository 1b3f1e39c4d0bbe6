"""Every page and API answer carries the security headers (a Content-Security-Policy that allows
no inline script, frame denial, nosniff), and nothing the pages are made of needs what that
policy forbids: no inline <script> body, no style attribute or <style> element, no inline event
handler, no javascript: URL, no htmx attribute that evaluates code."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from tests.factories import api_client
from tests.invariants.test_bad_input_pages import PAGES, client_for
from tests.invariants.world import Trial

ROOT = Path(settings.BASE_DIR)

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=[\"']application/json)[^>]*>", re.I)
INLINE_STYLE = re.compile(r"<style[\s>]|\sstyle\s*=", re.I)
EVENT_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.I)
SCRIPT_URL = re.compile(r"""(href|src|action)\s*=\s*["']?\s*javascript:""", re.I)
HTMX_EVAL = re.compile(r"\shx-on[:\-]|\shx-vars\s*=|\bjs:", re.I)
CHECKS = {
    "an inline <script>": INLINE_SCRIPT,
    "a style attribute or <style>": INLINE_STYLE,
    "an inline event handler": EVENT_HANDLER,
    "a javascript: URL": SCRIPT_URL,
    "an htmx attribute that evaluates code": HTMX_EVAL,
}


def policy(answer: Any) -> dict[str, list[str]]:
    directives: dict[str, list[str]] = {}
    for part in answer["Content-Security-Policy"].split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    return directives


def header_problems(answer: Any) -> list[str]:
    problems = []
    if answer.get("X-Frame-Options") != "DENY":
        problems.append(f"X-Frame-Options {answer.get('X-Frame-Options')!r}")
    if answer.get("X-Content-Type-Options") != "nosniff":
        problems.append(f"X-Content-Type-Options {answer.get('X-Content-Type-Options')!r}")
    if "Content-Security-Policy" not in answer:
        return [*problems, "no Content-Security-Policy"]
    csp = policy(answer)
    scripts = csp.get("script-src", csp.get("default-src", []))
    if not scripts or any(s in ("'unsafe-inline'", "'unsafe-eval'", "*") for s in scripts):
        problems.append(f"script-src {scripts}")
    styles = csp.get("style-src", csp.get("default-src", []))
    if "'unsafe-inline'" in styles:
        problems.append(f"style-src {styles}")
    if csp.get("frame-ancestors") != ["'none'"]:
        problems.append(f"frame-ancestors {csp.get('frame-ancestors')}")
    if csp.get("object-src") != ["'none'"]:
        problems.append(f"object-src {csp.get('object-src')}")
    return problems


def html_problems(html: str) -> list[str]:
    return [
        f"{what}: {found.group(0)[:80]!r}"
        for what, pattern in CHECKS.items()
        if (found := pattern.search(html))
    ]


def template_files() -> list[Path]:
    folders = [ROOT / "templates", *ROOT.glob("*/templates")]
    return sorted(p for folder in folders for p in folder.rglob("*.html"))


def test_no_template_needs_inline_script_style_or_handlers() -> None:
    files = template_files()
    assert len(files) > 30
    found = {
        str(path.relative_to(ROOT)): problems
        for path in files
        if (problems := html_problems(path.read_text()))
    }
    assert found == {}


@pytest.mark.parametrize("name", sorted(PAGES))
def test_every_page_carries_the_headers_and_no_inline_script_or_style(
    name: str, trial: Trial, db: None
) -> None:
    who, args = PAGES[name][0]
    client = client_for(trial, who)
    url = reverse(name, kwargs=args(trial))
    answer = client.get(url)
    assert answer.status_code < 500, url
    problems = [f"{url}: {p}" for p in header_problems(answer)]
    if answer.status_code == 200 and "html" in answer.get("Content-Type", ""):
        problems += [f"{url}: {p}" for p in html_problems(answer.content.decode())]
    assert problems == []


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/", "/api/v1/docs/", "/no-page/"])
def test_public_answers_carry_the_headers_too(path: str, db: None) -> None:
    answer = Client().get(path)
    assert header_problems(answer) == []


@pytest.mark.parametrize("path", ["/static/css/app.css", "/static/js/htmx.min.js"])
def test_static_files_are_never_sniffed_as_another_type(path: str, db: None) -> None:
    # WhiteNoise answers before the CSP and frame middleware (a stylesheet or a script is not
    # a document); the content type must hold all the same.
    answer = Client().get(path)
    assert answer.status_code == 200
    assert answer.get("X-Content-Type-Options") == "nosniff"


def test_api_answers_carry_the_headers(trial: Trial, db: None) -> None:
    from trial.roles import Role

    for answer in (
        api_client(trial.user(Role.COORDINATOR)).get("/api/v1/participants/"),
        api_client().get("/api/v1/participants/"),
        api_client(trial.user(Role.COORDINATOR)).post("/api/v1/participants/", {}, format="json"),
    ):
        assert answer.get("X-Content-Type-Options") == "nosniff"
        assert answer.get("X-Frame-Options") == "DENY"
