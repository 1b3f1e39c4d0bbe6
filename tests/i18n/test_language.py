"""The interface language: the deployment's default, the account's choice (audited, applied
at login and on every page), the login page's switch, the API by Accept-Language, and the
Danish formats (dd-mm-åååå, decimal comma)."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django import forms
from django.template import Context, Template
from django.test import Client
from django.utils import translation

from accounts.models import AccountPreference
from tests.factories import PASSWORD, give_password, make_staff
from trial.audit import event_model
from trial.roles import Role


def test_the_login_page_speaks_the_deployments_default_language(db: None, settings: Any) -> None:
    settings.LANGUAGE_CODE = "da"
    page = Client().get("/accounts/login/")
    assert page["Content-Language"] == "da"
    assert '<html lang="da">' in page.content.decode()
    assert "Brugernavn" in page.content.decode()


def test_the_switch_on_the_login_page_changes_its_language(db: None, settings: Any) -> None:
    settings.LANGUAGE_CODE = "da"
    client = Client()
    answer = client.post("/accounts/language/", {"language": "en", "next": "/accounts/login/"})
    assert answer.status_code == 302
    page = client.get("/accounts/login/")
    assert "Username" in page.content.decode()
    assert "Brugernavn" not in page.content.decode()


def test_an_account_chooses_its_language_and_keeps_it_at_the_next_login(
    sites: Any, settings: Any
) -> None:
    settings.LANGUAGE_CODE = "en"
    coordinator = give_password(make_staff("lang-coordinator", Role.COORDINATOR, sites=["BAL"]))
    client = Client()
    client.post("/accounts/login/", {"username": "lang-coordinator", "password": PASSWORD})
    assert "Your account" in client.get("/accounts/").content.decode()

    client.post("/accounts/", {"language": "da"})
    preference = AccountPreference.objects.get(user=coordinator)
    assert preference.language == "da"
    assert "Din konto" in client.get("/accounts/").content.decode()
    event = event_model(AccountPreference).objects.filter(pgh_obj_id=preference.pk).last()
    assert event is not None and event.language == "da"  # audited

    client.post("/accounts/logout/")
    fresh = Client()
    fresh.post("/accounts/login/", {"username": "lang-coordinator", "password": PASSWORD})
    home = fresh.get("/").content.decode()
    assert "Velkommen" in home
    assert fresh.cookies["django_language"].value == "da"


def test_an_unknown_language_is_refused_and_nothing_changes(sites: Any, client: Any) -> None:
    coordinator = make_staff("lang-bad", Role.COORDINATOR, sites=["BAL"])
    client.force_login(coordinator)
    answer = client.post("/accounts/", {"language": "xx"})
    assert answer.status_code == 400
    assert not AccountPreference.objects.filter(user=coordinator).exists()


@pytest.mark.parametrize(
    ("accept", "expected"),
    [("da", "Ikke fundet."), ("da-DK,da;q=0.9,en;q=0.5", "Ikke fundet."), ("en-GB", "Not found.")],
)
def test_api_errors_follow_accept_language(
    sites: Any, client: Any, accept: str, expected: str
) -> None:
    client.force_login(make_staff("lang-api", Role.COORDINATOR, sites=["BAL"]))
    answer = client.get("/api/v1/no-such-endpoint/", HTTP_ACCEPT_LANGUAGE=accept)
    assert answer.status_code == 404
    assert answer.json() == {"detail": expected}
    assert answer["Content-Language"] == accept[:2]


def test_api_error_details_with_fields_are_translated(sites: Any, client: Any) -> None:
    client.force_login(make_staff("lang-api-2", Role.COORDINATOR, sites=["BAL"]))
    answer = client.post(
        "/api/v1/participants/",
        {"site": "BAL", "cpr": "nonsense", "sex": "female"},
        content_type="application/json",
        HTTP_ACCEPT_LANGUAGE="da",
    )
    assert answer.status_code == 400
    assert answer.json()["cpr"] == [
        "Skriv CPR-nummeret som DDMMÅÅ-SSSS (ti cifre, bindestreg valgfri)."
    ]


def test_danish_pages_write_dates_as_dd_mm_yyyy_and_decimals_with_a_comma() -> None:
    template = Template('{{ day|date:"SHORT_DATE_FORMAT" }} {{ number }}')
    context = Context({"day": datetime.date(2026, 3, 4), "number": Decimal("3.25")})
    with translation.override("da"):
        assert template.render(context) == "04-03-2026 3,25"
    with translation.override("en"):
        assert template.render(context) == "2026-03-04 3.25"


def test_a_danish_date_field_accepts_dd_mm_yyyy_typed_by_hand() -> None:
    class DayForm(forms.Form):
        day = forms.DateField()

    with translation.override("da"):
        form = DayForm({"day": "04-03-2026"})
        assert form.is_valid(), form.errors
        assert form.cleaned_data["day"] == datetime.date(2026, 3, 4)
        assert DayForm({"day": "2026-03-04"}).is_valid()
