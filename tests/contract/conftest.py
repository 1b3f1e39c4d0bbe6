"""Fixtures of the contract suite (tests/contract/client.py says how it works)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from io import StringIO
from typing import Any

import pyotp
import pytest
from django.core.management import call_command

from tests.contract.client import TWO_FACTOR_ROLES, Api, ask_token, create_staff


@pytest.fixture
def trial(db: None) -> None:
    """`manage.py setup_trial`: the three sites."""
    call_command("setup_trial", stdout=StringIO())


@pytest.fixture
def staff(trial: None) -> Callable[..., Api]:
    """`staff("coordinator", sites=("BAL",))` or `staff("clinician", "assessor")`: a new account
    made by create_staff, logged in through the token endpoint (second factor included)."""
    counter = itertools.count(1)

    def make(*roles: str, sites: tuple[str, ...] = ()) -> Api:
        username = f"{'-'.join(roles)}-{next(counter)}".replace("_", "")
        secret = pyotp.random_base32() if TWO_FACTOR_ROLES & set(roles) else ""
        create_staff(username, *roles, sites=sites, secret=secret)
        response = ask_token(username, otp=pyotp.TOTP(secret).now() if secret else None)
        assert response.status_code == 200, response.content
        token = response.json()["token"]
        assert isinstance(token, str) and token
        return Api(token, username)

    return make


@pytest.fixture
def lists(trial: None) -> str:
    """`manage.py generate_allocation_lists --per-site 40`; returns its output."""
    out = StringIO()
    call_command("generate_allocation_lists", "--per-site", "40", stdout=out)
    return out.getvalue()


@pytest.fixture(autouse=True)
def _quick_password_hashing(settings: Any) -> None:
    # Argon2 (production's hasher, slow on purpose) is no part of the interface; the suite
    # checks passwords often enough for it to cost most of its time.
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        *settings.PASSWORD_HASHERS,
    ]
