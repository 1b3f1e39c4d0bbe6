"""The per-address back-off before the per-username lockout (accounts.backoff): one address
that failed four times for an account waits before trying it again, so nobody can lock an
account (the only statistician's, say) from one computer; the owner elsewhere still logs in,
and failures from several addresses still lock the account."""

from __future__ import annotations

from contextlib import ExitStack, contextmanager
from datetime import timedelta
from typing import Any
from unittest import mock

from django.test import Client
from django.utils import timezone

from accounts import backoff
from accounts.models import AuthEvent
from tests.accounts.conftest import ask_for_token
from tests.accounts.test_lockout import logged_in, page_login
from tests.factories import PASSWORD, give_password, make_staff, totp_code, wrong_code
from trial.roles import Role

ATTACKER, OWNER = "192.0.2.66", "198.51.100.7"


@contextmanager
def minutes_later(minutes: int) -> Any:
    later = timezone.now() + timedelta(minutes=minutes)
    with ExitStack() as stack:
        for target in (
            "axes.attempts.now",
            "axes.handlers.proxy.now",
            "accounts.backoff.timezone.now",
        ):
            stack.enter_context(mock.patch(target, return_value=later))
        yield


def test_an_address_that_failed_four_times_waits_and_the_owner_elsewhere_still_logs_in(
    statistician: Any,
) -> None:
    device = statistician.totpdevice_set.get()
    for _ in range(4):
        assert ask_for_token("stig", "guess", address=ATTACKER).status_code == 400
    held = ask_for_token("stig", "guess", address=ATTACKER)
    assert held.status_code == 429
    assert "from this computer's network address" in held.json()["detail"]
    assert 30 * 60 < int(held["Retry-After"]) <= 31 * 60
    # Even the right password is not tried from there meanwhile (nor counted).
    page = page_login(Client(REMOTE_ADDR=ATTACKER), "stig", PASSWORD, totp_code(device))
    assert page.status_code == 429 and int(page["Retry-After"]) > 30 * 60
    # The account itself is not locked: its owner, at another address, logs in.
    client = Client(REMOTE_ADDR=OWNER)
    assert page_login(client, "stig", PASSWORD, otp=totp_code(device)).status_code == 302
    assert logged_in(client)
    refused = AuthEvent.objects.filter(username="stig", detail=backoff.REFUSED_DETAIL)
    assert refused.count() == 2
    assert not AuthEvent.objects.filter(username="stig", kind="locked_out").exists()


def test_one_address_can_never_make_the_failure_that_locks_the_account(
    statistician: Any,
) -> None:
    device = statistician.totpdevice_set.get()
    for _ in range(4):
        page_login(Client(REMOTE_ADDR=ATTACKER), "stig", PASSWORD, wrong_code(device))
    with minutes_later(32):  # the wait is over, and axes has forgotten those failures
        fifth = page_login(Client(REMOTE_ADDR=ATTACKER), "stig", "guess")
        assert fifth.status_code == 200  # a wrong password, not a lockout
        # The next wait is twice as long.
        again = ask_for_token("stig", "guess", address=ATTACKER)
        assert again.status_code == 429 and int(again["Retry-After"]) > 25 * 60
        assert ask_for_token("stig", PASSWORD, totp_code(device), address=OWNER).status_code == 200


def test_failures_from_several_addresses_still_lock_the_account(coordinator: Any) -> None:
    for _ in range(4):
        ask_for_token("anna", "wrong", address=ATTACKER)
    assert ask_for_token("anna", "wrong", address="203.0.113.9").status_code == 429
    locked = ask_for_token("anna", PASSWORD, address=OWNER)
    assert locked.status_code == 429 and "locked" in locked.json()["detail"]


def test_colleagues_behind_the_same_address_are_not_held_back(coordinator: Any) -> None:
    give_password(make_staff("bo", Role.COORDINATOR, sites=["BAL"]))
    for _ in range(4):
        page_login(Client(REMOTE_ADDR=ATTACKER), "anna", "wrong")
    assert page_login(Client(REMOTE_ADDR=ATTACKER), "anna", PASSWORD).status_code == 429
    assert page_login(Client(REMOTE_ADDR=ATTACKER), "bo", PASSWORD).status_code == 302


def test_a_complete_login_forgives_the_addresss_failures(coordinator: Any) -> None:
    for _ in range(3):
        ask_for_token("anna", "wrong", address=ATTACKER)
    assert ask_for_token("anna", PASSWORD, address=ATTACKER).status_code == 200
    for _ in range(3):
        assert ask_for_token("anna", "wrong", address=ATTACKER).status_code == 400
    assert ask_for_token("anna", PASSWORD, address=ATTACKER).status_code == 200
