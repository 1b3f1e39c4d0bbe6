"""The CPR number: validated, stored encrypted with a keyed hash for duplicates, and never
written in plain text to a table, a log or a response after registration."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from participants.cpr import InvalidCpr, decrypt, parse_cpr
from participants.models import Participant
from tests.factories import api_client, make_staff, page_client
from trial.audit import event_model
from trial.models import Site
from trial.roles import Role

CPR = "010190-1235"  # fails the modulus-11 check, which CPR numbers issued since 2007 may
DIGITS = CPR.replace("-", "")


@pytest.fixture
def coordinator(sites: Any) -> Any:
    return make_staff("carla", Role.COORDINATOR, sites=["BAL", "GLA"])


def register_api(user: Any, cpr: str = CPR, site: str = "BAL") -> Any:
    return api_client(user).post(
        "/api/v1/participants/", {"site": site, "cpr": cpr, "sex": "female"}, format="json"
    )


def written() -> tuple[int, int, list[int]]:
    """How much registration has written: participants, their audit events, site counters."""
    return (
        Participant.objects.count(),
        event_model(Participant).objects.count(),
        list(Site.objects.order_by("id").values_list("next_participant_number", flat=True)),
    )


def assert_no_cpr(text: str) -> None:
    assert DIGITS not in text and CPR not in text and DIGITS[6:] not in text.replace(DIGITS[:6], "")


def test_registration_logs_nothing_of_the_cpr_number(
    coordinator: Any, caplog: Any, settings: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="django.db.backends")
    caplog.set_level(logging.DEBUG, logger="django.request")
    connection.force_debug_cursor = True  # log every SQL statement with its parameters
    try:
        assert register_api(coordinator).status_code == 201
        assert register_api(coordinator, site="GLA").status_code == 409
        assert register_api(coordinator, cpr="310290-1234").status_code == 400
        client = page_client(coordinator)
        client.post("/participants/new/", {"site": "BAL", "cpr": CPR, "sex": "male"})
    finally:
        connection.force_debug_cursor = False
    sql = [r for r in caplog.records if r.name == "django.db.backends"]
    assert any('INSERT INTO "participants_participant"' in r.getMessage() for r in sql)
    for record in caplog.records:
        message = record.getMessage() + repr(getattr(record, "params", ""))
        assert DIGITS not in message, record.name
        assert CPR not in message, record.name


def test_no_response_after_registration_shows_the_cpr_number(coordinator: Any) -> None:
    created = register_api(coordinator)
    assert created.status_code == 201
    body = created.json()
    assert body["cpr_masked"] == "010190-XXXX"
    assert "cpr" not in body
    pk = body["id"]
    dm = make_staff("dm", Role.DATA_MANAGER)
    responses = [
        created,
        api_client(coordinator).get(f"/api/v1/participants/{pk}/"),
        api_client(coordinator).get("/api/v1/participants/"),
        page_client(coordinator).get("/participants/"),
        page_client(coordinator).get(f"/participants/{pk}/"),
        page_client(dm).get(f"/participants/{pk}/audit/"),
        api_client(dm).get(f"/api/v1/participants/{pk}/audit/"),
    ]
    for response in responses:
        assert response.status_code in (200, 201)
        text = response.content.decode()
        assert DIGITS not in text and CPR not in text
    # ...yet the number is there, encrypted, for whoever holds the key.
    assert decrypt(Participant.objects.get(pk=pk).cpr_ciphertext) == DIGITS


@pytest.mark.parametrize(
    "cpr",
    [
        "310290-1234",  # 31 February
        "011390-1234",  # month 13
        "010190-123",  # too short
        "010190-12345",  # too long
        "01019O-1234",  # a letter O
        "010190 1234",  # a space instead of the hyphen
        "",
        "010130-4000",  # century digit 4 with year 30: born 2030, in the future
    ],
)
def test_an_invalid_cpr_number_gives_400_and_writes_nothing(coordinator: Any, cpr: str) -> None:
    before = written()
    response = register_api(coordinator, cpr=cpr)
    assert response.status_code == 400
    assert list(response.json()) == ["cpr"]
    assert written() == before


def test_an_invalid_cpr_number_on_the_page_keeps_the_form_and_writes_nothing(
    coordinator: Any,
) -> None:
    before = written()
    response = page_client(coordinator).post(
        "/participants/new/", {"site": "GLA", "cpr": "310290-1234", "sex": "male"}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "not a real date" in html
    assert 'value="310290-1234"' in html  # kept, to correct the typo
    assert written() == before


def test_the_same_number_twice_is_409_whatever_the_site_or_format(coordinator: Any) -> None:
    assert register_api(coordinator, cpr=CPR).status_code == 201
    before = written()
    for cpr, site in ((CPR, "BAL"), (DIGITS, "GLA"), (f" {CPR} ", "BAL")):
        response = register_api(coordinator, cpr=cpr, site=site)
        assert response.status_code == 409, cpr
        assert "already registered" in response.json()["detail"]
    page = page_client(coordinator).post(
        "/participants/new/", {"site": "GLA", "cpr": DIGITS, "sex": "male"}
    )
    assert page.status_code == 409
    assert b"already registered" in page.content
    assert written() == before


def test_the_century_digit_gives_the_birth_date() -> None:
    today = date(2026, 6, 1)
    assert parse_cpr("010105-4123", today=today).birth_date == date(2005, 1, 1)
    assert parse_cpr("010155-4123", today=today).birth_date == date(1955, 1, 1)
    assert parse_cpr("010158-5123", today=today).birth_date == date(1858, 1, 1)
    assert parse_cpr("010120-8123", today=today).birth_date == date(2020, 1, 1)
    assert parse_cpr("290200-4123", today=today).birth_date == date(2000, 2, 29)
    with pytest.raises(InvalidCpr):
        parse_cpr("290200-0123", today=today)  # 1900 was not a leap year


def test_the_masked_number_never_contains_the_serial(coordinator: Any) -> None:
    participant = Participant.objects.get(pk=register_api(coordinator).json()["id"])
    assert participant.cpr_masked == "010190-XXXX"
    assert repr(parse_cpr(CPR)) == "Cpr(masked='010190-XXXX')"


def test_anonymous_callers_cannot_register(sites: Any) -> None:
    before = written()
    assert (
        Client().post("/participants/new/", {"site": "BAL", "cpr": CPR, "sex": "f"}).status_code
        == 302
    )
    assert written() == before
