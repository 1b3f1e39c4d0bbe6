"""Accounts need an e-mail address, and the admin asks for it on its first page; a password
typed by an administrator must be changed at the first login (no page and no API token until
then); `create_staff` keeps the password its operator gives."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from accounts.models import PasswordChangeDemand
from tests.factories import PASSWORD, make_staff, page_client
from trial.roles import Role

NEW_PASSWORD = "Lighthouse-Kettle-42"


@pytest.fixture
def admin_client(sites: Any) -> Client:
    return page_client(make_staff("root-admin", Role.ADMIN))


def add(admin_client: Client, **changes: str) -> Any:
    data = {
        "username": "nina",
        "email": "nina@example.org",
        "password1": PASSWORD,
        "password2": PASSWORD,
        "change_reason": "New assessor at Ballerup",
        "role_assignments-TOTAL_FORMS": "0",
        "role_assignments-INITIAL_FORMS": "0",
        "role_assignments-MIN_NUM_FORMS": "0",
        "role_assignments-MAX_NUM_FORMS": "1000",
    } | changes
    return admin_client.post("/admin/auth/user/add/", data)


def test_the_first_admin_page_asks_for_the_e_mail_address_and_needs_it(
    admin_client: Client,
) -> None:
    page = admin_client.get("/admin/auth/user/add/").content.decode()
    assert 'name="email"' in page
    refused = add(admin_client, email="")
    assert refused.status_code == 200 and not get_user_model().objects.filter(username="nina")
    assert add(admin_client).status_code == 302
    assert get_user_model().objects.get(username="nina").email == "nina@example.org"


def test_a_password_typed_by_the_administrator_is_changed_at_first_login(
    admin_client: Client,
) -> None:
    add(admin_client)
    nina = get_user_model().objects.get(username="nina")
    assert PasswordChangeDemand.objects.filter(user=nina).exists()
    client = Client()
    client.force_login(nina)
    answer = client.get("/participants/")
    assert answer.status_code == 302 and answer["Location"] == "/accounts/password/"
    assert "choose your own" in client.get("/accounts/password/").content.decode()
    token = Client().post(
        "/api/v1/auth/token/", {"username": "nina", "password": PASSWORD}, "application/json"
    )
    assert token.status_code == 403

    changed = client.post(
        "/accounts/password/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert changed.status_code == 302
    assert not PasswordChangeDemand.objects.filter(user=nina).exists()
    assert client.get("/").status_code == 200


def test_create_staff_keeps_the_password_its_operator_gives(sites: Any) -> None:
    call_command(
        "create_staff", "olga", "--role", Role.MONITOR, "--password", PASSWORD, verbosity=0
    )
    olga = get_user_model().objects.get(username="olga")
    assert not PasswordChangeDemand.objects.filter(user=olga).exists()
    client = Client()
    client.force_login(olga)
    assert client.get("/").status_code == 200
