from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.factories import enrol_totp, give_password, make_staff
from trial.roles import Role


@pytest.fixture
def coordinator(sites: Any) -> Any:
    return give_password(make_staff("anna", Role.COORDINATOR, sites=["BAL"]))


@pytest.fixture
def statistician(sites: Any) -> Any:
    user = give_password(make_staff("stig", Role.STATISTICIAN))
    enrol_totp(user)
    return user


def ask_for_token(
    username: str, password: str, otp: str | None = None, address: str = "127.0.0.1"
) -> Any:
    body = {"username": username, "password": password}
    if otp is not None:
        body["otp"] = otp
    return APIClient(REMOTE_ADDR=address).post("/api/v1/auth/token/", body, format="json")


def addresses(count: int) -> list[str]:
    """`count` different client addresses: the account-wide lockout needs failures from more
    than one (accounts.backoff holds back an address one failure before it)."""
    return [f"10.0.0.{n + 1}" for n in range(count)]


@pytest.fixture(autouse=True)
def _quick_password_hashing(settings: Any) -> None:
    # These tests check passwords hundreds of times; Argon2 (the production hasher, tuned to be
    # slow) would make them take minutes. test_passwords.py checks Argon2 itself.
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        *settings.PASSWORD_HASHERS,
    ]
