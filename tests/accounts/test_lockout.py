"""Five failures per username lock the account, on the login page and the token endpoint
alike (django-axes), and wrong second-factor codes count as failures too. One address is held
back one failure before (accounts.backoff, tests/accounts/test_address_backoff.py), so these
tests fail from several addresses."""

from __future__ import annotations

from contextlib import ExitStack
from datetime import timedelta
from typing import Any
from unittest import mock

from django.test import Client
from django.utils import timezone

from accounts.models import AuthEvent
from tests.accounts.conftest import addresses, ask_for_token
from tests.factories import PASSWORD, give_password, make_staff, totp_code, wrong_code
from trial.roles import Role


def page_login(client: Client, username: str, password: str, otp: str = "") -> Any:
    data = {"username": username, "password": password}
    if otp:
        data["otp"] = otp
    return client.post("/accounts/login/", data)


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_five_wrong_passwords_on_the_login_page_lock_the_account(coordinator: Any) -> None:
    for address in addresses(4):
        assert page_login(Client(REMOTE_ADDR=address), "anna", "wrong").status_code == 200
    client = Client()
    fifth = page_login(client, "anna", "wrong")
    assert fifth.status_code == 429
    assert b"locked" in fifth.content
    right = page_login(client, "anna", PASSWORD)
    assert right.status_code == 429
    assert not logged_in(client)
    # The API refuses the same account.
    assert ask_for_token("anna", PASSWORD).status_code == 429


def test_five_wrong_passwords_on_the_token_endpoint_lock_the_account(coordinator: Any) -> None:
    for address in addresses(4):
        assert ask_for_token("anna", "wrong", address=address).status_code == 400
    fifth = ask_for_token("anna", "wrong")
    assert fifth.status_code == 429
    assert "locked" in fifth.json()["detail"]
    assert int(fifth["Retry-After"]) == 30 * 60
    assert ask_for_token("anna", PASSWORD).status_code == 429
    # ...and the login page too.
    client = Client()
    assert page_login(client, "anna", PASSWORD).status_code == 429
    assert not logged_in(client)


def test_failures_on_the_page_and_the_api_count_together(coordinator: Any) -> None:
    client = Client()
    for _ in range(3):
        page_login(client, "anna", "wrong")
    assert ask_for_token("anna", "wrong", address="10.0.0.1").status_code == 400
    fifth = ask_for_token("anna", "wrong", address="10.0.0.2")
    assert fifth.status_code == 429 and "locked" in fifth.json()["detail"]
    assert page_login(client, "anna", PASSWORD).status_code == 429


def test_a_locked_account_does_not_lock_colleagues_behind_the_same_address(
    coordinator: Any,
) -> None:
    give_password(make_staff("bo", Role.COORDINATOR, sites=["BAL"]))
    for address in ["127.0.0.1", *addresses(4)]:
        ask_for_token("anna", "wrong", address=address)
    assert ask_for_token("anna", PASSWORD, address="10.9.9.9").status_code == 429
    assert ask_for_token("bo", PASSWORD).status_code == 200
    client = Client()
    assert page_login(client, "bo", PASSWORD).status_code == 302
    assert logged_in(client)


def test_a_complete_login_forgives_earlier_failures(coordinator: Any) -> None:
    for _ in range(3):
        ask_for_token("anna", "wrong")
    assert page_login(Client(), "anna", PASSWORD).status_code == 302
    for _ in range(3):
        assert ask_for_token("anna", "wrong").status_code == 400
    assert ask_for_token("anna", PASSWORD).status_code == 200


def test_the_lockout_ends_after_thirty_minutes(coordinator: Any) -> None:
    for address in addresses(5):
        ask_for_token("anna", "wrong", address=address)
    later = timezone.now() + timedelta(minutes=31)
    with ExitStack() as stack:
        for target in ("axes.attempts.now", "axes.handlers.proxy.now"):
            stack.enter_context(mock.patch(target, return_value=later))
        assert ask_for_token("anna", PASSWORD).status_code == 200


def test_wrong_codes_on_the_login_page_lock_a_two_factor_account(statistician: Any) -> None:
    device = statistician.totpdevice_set.get()
    for address in addresses(4):
        response = page_login(Client(REMOTE_ADDR=address), "stig", PASSWORD, wrong_code(device))
        assert response.status_code == 200
        assert b"correct username and password" in response.content
    client = Client()
    fifth = page_login(client, "stig", PASSWORD, otp=wrong_code(device))
    assert fifth.status_code == 429
    assert not logged_in(client)
    assert page_login(Client(), "stig", PASSWORD, otp=totp_code(device)).status_code == 429
    assert ask_for_token("stig", PASSWORD, otp=totp_code(device)).status_code == 429
    assert AuthEvent.objects.filter(kind="otp_failed", username="stig").count() == 5


def test_a_session_on_the_code_page_is_locked_by_wrong_codes_too(statistician: Any) -> None:
    device = statistician.totpdevice_set.get()
    client = Client()
    client.force_login(statistician)  # logged in, second factor not verified
    for address in addresses(4):
        ask_for_token("stig", PASSWORD, otp=wrong_code(device), address=address)
    assert client.post("/accounts/verify/", {"otp": wrong_code(device)}).status_code == 429
    assert not logged_in(client)


def test_wrong_codes_on_the_token_endpoint_count_too(statistician: Any) -> None:
    device = statistician.totpdevice_set.get()
    for address in addresses(4):
        code = wrong_code(device)
        assert ask_for_token("stig", PASSWORD, otp=code, address=address).status_code == 400
    fifth = ask_for_token("stig", PASSWORD, otp=wrong_code(device))
    assert fifth.status_code == 429 and "locked" in fifth.json()["detail"]


def test_lockouts_and_refused_attempts_are_recorded(coordinator: Any) -> None:
    for address in addresses(5):
        ask_for_token("anna", "wrong", address=address)
    page_login(Client(), "anna", PASSWORD)
    events = AuthEvent.objects.filter(username="anna", kind="locked_out").order_by("id")
    assert [e.detail for e in events] == ["Too many failed logins", "Attempt while locked out"]
    assert [e.channel for e in events] == ["api", "web"]
    refused = AuthEvent.objects.filter(username="anna", kind="login_failed").order_by("id").last()
    assert refused is not None and refused.detail == "refused: the account is locked out"
    assert AuthEvent.objects.filter(username="anna", kind="login_failed").count() == 6


def test_the_test_clients_login_works_and_a_locked_account_still_cannot_use_the_pages(
    coordinator: Any,
) -> None:
    client = Client()
    assert client.login(username="anna", password=PASSWORD)
    assert client.get("/participants/").status_code == 200
    for address in addresses(5):
        page_login(Client(REMOTE_ADDR=address), "anna", "wrong")
    assert page_login(Client(), "anna", PASSWORD).status_code == 429


def test_the_owner_gets_one_e_mail_when_the_account_is_locked(
    coordinator: Any, mailoutbox: list[Any]
) -> None:
    coordinator.email = "anna@example.org"
    coordinator.save()
    for address in addresses(5):
        ask_for_token("anna", "wrong", address=address)
    assert ask_for_token("anna", PASSWORD).status_code == 429
    assert [message.to for message in mailoutbox] == [["anna@example.org"]]
    body = mailoutbox[0].body
    assert "anna" in body and "locked" in body
    assert "wrong" not in body and PASSWORD not in body
