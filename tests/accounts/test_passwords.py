from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from trial.models import RoleAssignment


def test_passwords_are_stored_with_argon2(sites: Any, settings: Any) -> None:
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]
    call_command(
        "create_staff",
        "karen",
        "--role",
        "coordinator",
        "--site",
        "BAL",
        "--password",
        "Lighthouse-Kettle-42",
        stdout=open("/dev/null", "w"),  # noqa: SIM115
    )
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(username="karen")
    assert user.password.startswith("argon2$")
    assert user.check_password("Lighthouse-Kettle-42")


def test_create_staff_refuses_a_password_the_validators_refuse(sites: Any) -> None:
    with pytest.raises(CommandError, match="Password refused"):
        call_command("create_staff", "karen", "--role", "coordinator", "--password", "12345678")
    assert not RoleAssignment.objects.exists()
