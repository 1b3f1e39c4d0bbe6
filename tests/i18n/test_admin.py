"""The admin pages in Danish: the project's model and field names and django-axes' lists (the
package has no Danish catalogue of its own) speak Danish, with no English interface word of
the catalogue left (the same rule as tests/i18n/test_browser_walk.py, on the server's HTML)."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.utils import timezone

from accounts.models import AccountPreference, ApiToken, AuthEvent
from accounts.third_party_labels import AXES_STRINGS
from tests.factories import make_staff, page_client
from tests.i18n.test_browser_walk import catalogue_words, data_words, django_danish_words, words
from trial.models import Site
from trial.roles import Role

pytestmark = pytest.mark.django_db

HIDDEN = re.compile(r"(?s)<(script|style|code|kbd|samp)\b.*?</\1>|<!--.*?-->")
TAG = re.compile(r"(?s)<[^>]+>")


def visible_text(body: str) -> str:
    return html.unescape(TAG.sub(" ", HIDDEN.sub(" ", body)))


@pytest.fixture
def danish_admin(sites: Any) -> Any:
    admin = make_staff(None, Role.ADMIN)
    AccountPreference.objects.update_or_create(user=admin, defaults={"language": "da"})
    now = timezone.now()
    AuthEvent.objects.create(kind=AuthEvent.Kind.LOGIN, username="someone", ip_address="10.0.0.1")
    ApiToken.objects.create(
        user=admin, digest="0" * 64, prefix="abcd1234", expires_at=now, last_used_at=now
    )
    AccessAttempt.objects.create(
        username="someone", ip_address="10.0.0.2", user_agent="agent", http_accept="*/*",
        path_info="/accounts/login/", get_data="", post_data="", failures_since_start=2,
    )  # fmt: skip
    AccessLog.objects.create(username="someone", ip_address="10.0.0.2", user_agent="agent")
    AccessFailureLog.objects.create(username="someone", ip_address="10.0.0.2", user_agent="agent")
    return admin


def test_the_admin_speaks_danish(danish_admin: Any) -> None:
    client = page_client(danish_admin)
    site = Site.objects.get(code="BAL")
    pages = {
        "/admin/": ["Centre", "Sikkerhedshændelser", "API-nøgler", "Adgangsforsøg"],
        "/admin/trial/site/": ["Kode", "Navn", "Nummer"],
        f"/admin/trial/site/{site.pk}/change/": ["Ret center", "SITE-kode i datasæt"],
        "/admin/accounts/authevent/": ["Tidspunkt", "Type", "Brugernavn", "Kanal", "IP-adresse"],
        "/admin/accounts/apitoken/": ["Præfiks", "Oprettet", "Sidst brugt", "Tilbagekaldt"],
        "/admin/axes/accessattempt/": ["Tidspunkt for forsøg", "Browser", "forsøg tilbage"],
        "/admin/axes/accesslog/": ["Tidspunkt for log ud", "Sti"],
        "/admin/axes/accessfailurelog/": ["Adgang spærret"],
        "/admin/auth/user/": ["Roller"],
        f"/admin/auth/user/{danish_admin.pk}/change/": ["Rolle", "Tildelt", "Datoer"],
        "/admin/auth/user/add/": ["arbejdsadresse"],
        f"/admin/auth/user/{danish_admin.pk}/password/": ["Adgangskode"],
    }
    english, danish = catalogue_words()
    foreign = english - danish - django_danish_words()
    found: list[str] = []
    bodies = {}
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        assert response["Content-Language"] == "da", url
        bodies[url] = visible_text(response.content.decode())
    # The login attempts' own values (axes writes "<unknown>" for a missing user agent).
    logged = " ".join(" ".join(map(str, row)) for row in AccessLog.objects.values_list())
    data = data_words() | words(danish_admin.get_username()) | words(logged)
    for url, text in bodies.items():
        for expected in pages[url]:
            assert expected.lower() in text.lower(), (url, expected)
        found += [f"{url}: {word!r}" for word in sorted(words(text) & foreign - data)]
    assert found == [], "\n".join(found)


def test_every_axes_string_is_named_for_the_catalogue() -> None:
    """The list of django-axes' strings follows the installed package: a new string there
    would show in English until it is named in accounts/third_party_labels.py."""
    from pathlib import Path

    import axes

    root = Path(axes.__file__).parent
    used = set()
    for module in ("models.py", "admin.py"):
        used |= set(re.findall(r'\b_\("([^"]+)"\)', (root / module).read_text()))
    # "Yes" and "No" are Django's own words, translated by Django.
    assert used - {"Yes", "No"} <= set(AXES_STRINGS)


def test_the_password_page_follows_the_language_not_the_default(danish_admin: Any) -> None:
    """Django fixes one help text of the admin's password form at import, in the default
    language (Danish here): an English reader must get it in English."""
    danish_admin.set_password("a long enough password 1")
    danish_admin.save()
    for language, expected, absent in (
        ("en", "authenticate using a password", "logge ind med adgangskode"),
        ("da", "logge ind med adgangskode", "authenticate using a password"),
    ):
        AccountPreference.objects.filter(user=danish_admin).update(language=language)
        client = page_client(danish_admin)
        body = client.get(f"/admin/auth/user/{danish_admin.pk}/password/").content.decode()
        assert expected in body and absent not in body, language
