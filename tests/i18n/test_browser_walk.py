"""In a real browser, every role walks the pages of the demo trial in Danish and finds no
English interface text; the same walk in English finds no Danish.

The demo trial (`manage.py demo_data`) is built once per walk. Each demo user (one per role)
chooses the language (their account's preference, as on the account page) and follows, breadth
first, every same-origin link from the home page, a few of each route. The visible text of each
page (what chromium renders, not the markup) is split into words and compared with the
catalogue: a word that occurs in the English messages (msgid) but in no Danish translation is
English interface text on a Danish page, and the other way round. Acronyms and codes (PANSS,
BAL-007-K), numbers, and the words of the trial's own data (names, reasons, notes, usernames:
every text value in the database) are left out; so is the language switch's "English"."""

from __future__ import annotations

import html
import re
from collections import deque
from io import StringIO
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import django
import polib
import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import models
from django.test.utils import override_settings
from django.urls import Resolver404, resolve

from accounts.models import AccountPreference
from tests.conftest import TrialClient
from trial.roles import Role

# Every page of every role in a real browser, twice: minutes of work (make test-all).
pytestmark = [pytest.mark.browser, pytest.mark.slow]

PO = Path(settings.BASE_DIR) / "locale" / "da" / "LC_MESSAGES" / "django.po"
PER_ROUTE = 1
PER_USER = 25
# Not walked: logging out, static files and the API (its errors are tested by Accept-Language
# in tests/i18n/test_language.py). The admin is walked (Django's own Danish, the project's model
# and field names, django-axes' lists: tests/i18n/test_admin.py checks each of its lists).
# The data dictionary is a document in the language chosen for it (its own links), like the
# export files.
SKIPPED = (
    "/static/",
    "/accounts/logout/",
    "/admin/logout/",
    "/api/",
    "/i18n/",
    "/data/exports/data-dictionary/",
)
LINK = re.compile(r'\bhref="([^"]*)"')
WORD = re.compile(r"[A-Za-zÆØÅæøåÉé]+")
PLACEHOLDER = re.compile(r"%\([a-z_0-9]+\)[sdr]|%[sd]|\{[^}]*\}|<[^>]+>|&[a-z]+;")
# Names of the languages in the switch and on the account page, each in its own language.
LANGUAGE_NAMES = {"english", "dansk"}
PROJECT_APPS = {
    "axes",  # the login attempts' values (e.g. "<unknown>" for a missing user agent)
    "trial",
    "accounts",
    "participants",
    "assessments",
    "randomization",
    "fidelity",
    "exports",
    "auth",
}


def words(text: str) -> set[str]:
    """Lower-case words of three letters or more; acronyms and codes (all capitals) left out."""
    return {w.lower() for w in WORD.findall(text) if len(w) >= 3 and not w.isupper()}


# Django's own Danish catalogues (the admin's and the login's pages): their translations keep
# a few English terms in Danish sentences ("Single Sign-On"), which are Danish interface text.
DJANGO_DANISH = [
    Path(django.__file__).parent / part / "locale" / "da" / "LC_MESSAGES" / "django.po"
    for part in ("conf", "contrib/admin", "contrib/auth")
]


def catalogue_words() -> tuple[set[str], set[str]]:
    english: set[str] = set()
    danish: set[str] = set()
    for entry in polib.pofile(str(PO)):
        if entry.obsolete:
            continue
        english |= words(PLACEHOLDER.sub(" ", entry.msgid + " " + entry.msgid_plural))
        translations = [entry.msgstr, *entry.msgstr_plural.values()]
        danish |= words(PLACEHOLDER.sub(" ", " ".join(translations)))
    return english, danish


def django_danish_words() -> set[str]:
    found: set[str] = set()
    for po in DJANGO_DANISH:
        for entry in polib.pofile(str(po)):
            translations = [entry.msgstr, *entry.msgstr_plural.values()]
            found |= words(PLACEHOLDER.sub(" ", " ".join(translations)))
    return found


def data_words() -> set[str]:
    """Every word of every text value in the trial's tables (participant data, staff names,
    reasons and notes typed by people, the audit context)."""
    found: set[str] = set()
    for model in apps.get_models():
        if model._meta.app_label not in PROJECT_APPS:
            continue
        fields = [
            f.attname
            for f in model._meta.concrete_fields
            if isinstance(f, models.CharField | models.TextField | models.JSONField)
        ]
        if not fields:
            continue
        for row in model._default_manager.values_list(*fields):
            found |= words(" ".join(str(value) for value in row if value))
    return found


@pytest.fixture
def demo_trial(live_server: Any) -> dict[str, Any]:
    fast = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    with override_settings(DEBUG=True, PASSWORD_HASHERS=fast):
        call_command("setup_trial", stdout=StringIO())
        out = StringIO()
        call_command("demo_data", stdout=out)
    assert "Demo trial created" in out.getvalue(), out.getvalue()
    users = get_user_model().objects.filter(username__in=demo_usernames())
    return {user.get_username(): user for user in users}


def demo_usernames() -> list[str]:
    return [f"demo-{role.value.replace('_', '-')}" for role in Role]


def page_links(body: str, base: str) -> list[str]:
    links = []
    for raw in LINK.findall(body):
        url = urljoin("http://testserver" + base, html.unescape(raw).strip())
        if url.startswith("http://testserver/"):
            links.append(url.removeprefix("http://testserver").split("#", 1)[0])
    return links


def route_of(url: str) -> str | None:
    try:
        return str(resolve(urlsplit(url).path).route)
    except Resolver404:
        return None


# The visible text of the page without code and identifiers shown as code (file headers,
# field codes): those are the same in every language.
VISIBLE_TEXT = """() => {
  const body = document.body.cloneNode(true);
  body.querySelectorAll("code, kbd, samp, [lang]").forEach((node) => node.remove());
  document.documentElement.appendChild(body);
  const text = body.innerText;
  body.remove();
  return text;
}"""


def walk_as(
    user: Any, language: str, browser: Any, live_server: Any, foreign: set[str]
) -> list[tuple[str, str]]:
    """The user's walk in `language`: every foreign interface word found, as (url, word)."""
    AccountPreference.objects.update_or_create(user=user, defaults={"language": language})
    client = TrialClient()
    client.force_login(user)
    context = browser.new_context(base_url=live_server.url)
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    problems: list[tuple[str, str]] = []
    per_route: dict[str, int] = {}
    queue: deque[str] = deque(["/"])
    seen = {"/"}
    visited = 0
    try:
        while queue and visited < PER_USER:
            url = queue.popleft()
            response = client.get(url)
            if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
                continue
            visited += 1
            page.goto(url)
            assert page.locator("html").get_attribute("lang") == language, url
            text = page.evaluate(VISIBLE_TEXT)
            problems += [(url, word) for word in sorted(words(text) & foreign)]
            body = response.content.decode(errors="replace")
            for link in page_links(body, url):
                if link in seen or "?" in link or link.startswith(SKIPPED):
                    continue
                route = route_of(link)
                if route is None or per_route.get(route, 0) >= PER_ROUTE:
                    continue
                per_route[route] = per_route.get(route, 0) + 1
                seen.add(link)
                queue.append(link)
    finally:
        context.close()
    assert visited >= 2, f"{user} saw almost nothing"
    return problems


def walk_everyone(
    language: str, demo_trial: dict[str, Any], browser: Any, live_server: Any
) -> list[str]:
    english, danish = catalogue_words()
    foreign = (english - danish - django_danish_words()) if language == "da" else (danish - english)
    found: list[tuple[str, str]] = []
    for username in sorted(demo_trial):
        found += walk_as(demo_trial[username], language, browser, live_server, foreign)
    # The data's own words, read after the walk: logging in writes security events too.
    data = data_words() | LANGUAGE_NAMES | words(" ".join(demo_trial))
    return [f"{url}: {word!r}" for url, word in found if word not in data]


def test_every_page_of_every_role_speaks_danish(
    demo_trial: dict[str, Any], browser: Any, live_server: Any, settings: Any
) -> None:
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    problems = walk_everyone("da", demo_trial, browser, live_server)
    assert problems == [], f"{len(problems)} English words on Danish pages:\n" + "\n".join(
        problems[:80]
    )


def test_every_page_of_every_role_speaks_english(
    demo_trial: dict[str, Any], browser: Any, live_server: Any, settings: Any
) -> None:
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    problems = walk_everyone("en", demo_trial, browser, live_server)
    assert problems == [], f"{len(problems)} Danish words on English pages:\n" + "\n".join(
        problems[:80]
    )
