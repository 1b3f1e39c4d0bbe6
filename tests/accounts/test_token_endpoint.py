"""POST /api/v1/auth/token/ (API.md, "Authentication") and the life of a token."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiToken, AuthEvent
from tests.accounts.conftest import ask_for_token
from tests.factories import (
    PASSWORD,
    TEST_TOTP_SECRET,
    give_password,
    make_staff,
    totp_code,
    wrong_code,
)
from trial.roles import Role


def with_token(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def test_a_coordinator_gets_a_token_and_the_api_accepts_it(coordinator: Any) -> None:
    response = ask_for_token("anna", PASSWORD)
    assert response.status_code == 200, response.content
    token = response.json()["token"]
    me = with_token(token).get("/api/v1/auth/me/")
    assert me.status_code == 200
    assert me.json()["username"] == "anna"
    assert me.json()["roles"] == [{"role": "coordinator", "label": "Coordinator", "sites": ["BAL"]}]
    assert with_token(token).get("/api/v1/participants/").status_code == 200
    assert AuthEvent.objects.filter(kind="token_issued", username="anna", channel="api").exists()


def test_a_wrong_password_gives_400_and_no_token(coordinator: Any) -> None:
    response = ask_for_token("anna", "not-the-password")
    assert response.status_code == 400
    assert "token" not in response.json()
    assert response.json()["detail"]
    assert not ApiToken.objects.exists()
    assert AuthEvent.objects.filter(kind="login_failed", username="anna", channel="api").exists()


def test_an_unknown_user_gives_400(sites: Any) -> None:
    assert ask_for_token("nobody", PASSWORD).status_code == 400


def test_missing_fields_are_named(sites: Any) -> None:
    response = APIClient().post("/api/v1/auth/token/", {"username": "anna"}, format="json")
    assert response.status_code == 400
    assert "password" in response.json()


@pytest.mark.parametrize("role", [Role.STATISTICIAN, Role.DATA_MANAGER, Role.ADMIN])
def test_a_two_factor_role_gets_no_token_without_a_code(sites: Any, role: str) -> None:
    call_command(
        "create_staff",
        "twofa",
        "--role",
        role,
        "--password",
        PASSWORD,
        "--totp-secret",
        TEST_TOTP_SECRET,
        stdout=open("/dev/null", "w"),  # noqa: SIM115
    )
    response = ask_for_token("twofa", PASSWORD)
    assert response.status_code == 400
    assert response.json() == ask_for_token("twofa", "not-the-password").json()
    assert not ApiToken.objects.exists()
    assert AuthEvent.objects.filter(kind="otp_failed", username="twofa").exists()


def test_a_wrong_code_is_refused_and_recorded(statistician: Any) -> None:
    device = statistician.totpdevice_set.get()
    response = ask_for_token("stig", PASSWORD, otp=wrong_code(device))
    assert response.status_code == 400
    assert not ApiToken.objects.exists()
    assert AuthEvent.objects.filter(kind="otp_failed", username="stig").count() == 1


def test_the_right_password_with_a_wrong_code_answers_exactly_like_a_wrong_password(
    statistician: Any,
) -> None:
    device = statistician.totpdevice_set.get()
    right_password = ask_for_token("stig", PASSWORD, otp=wrong_code(device))
    wrong_password = ask_for_token("stig", "not-the-password", otp=wrong_code(device))
    unknown_user = ask_for_token("nobody", PASSWORD, otp=wrong_code(device))
    assert right_password.status_code == wrong_password.status_code == unknown_user.status_code
    assert right_password.content == wrong_password.content == unknown_user.content
    assert sorted(right_password.headers) == sorted(wrong_password.headers)


def test_a_current_code_gives_a_token_and_a_typo_just_before_does_not_delay_it(
    statistician: Any,
) -> None:
    device = statistician.totpdevice_set.get()
    assert ask_for_token("stig", PASSWORD, otp=wrong_code(device)).status_code == 400
    response = ask_for_token("stig", PASSWORD, otp=totp_code(device))
    assert response.status_code == 200, response.content
    assert with_token(response.json()["token"]).get("/api/v1/auth/me/").status_code == 200


def test_a_code_cannot_be_used_twice(statistician: Any) -> None:
    code = totp_code(statistician.totpdevice_set.get())
    assert ask_for_token("stig", PASSWORD, otp=code).status_code == 200
    again = ask_for_token("stig", PASSWORD, otp=code)
    assert again.status_code == 400
    assert "token" not in again.json()


def test_a_two_factor_role_without_an_enrolled_authenticator_gets_the_one_answer(
    sites: Any,
) -> None:
    give_password(make_staff("dora", Role.DATA_MANAGER))
    response = ask_for_token("dora", PASSWORD, otp="123456")
    assert response.status_code == 400
    assert "enrol" in response.json()["detail"]
    assert response.json() == ask_for_token("dora", "not-the-password").json()


def test_a_coordinator_needs_no_code(coordinator: Any) -> None:
    assert ask_for_token("anna", PASSWORD, otp="").status_code == 200


def test_only_a_digest_of_the_token_is_stored(coordinator: Any) -> None:
    token = ask_for_token("anna", PASSWORD).json()["token"]
    stored = ApiToken.objects.get()
    assert stored.digest != token
    assert token not in stored.digest
    with connection.cursor() as cursor:
        cursor.execute("SELECT t::text FROM accounts_apitoken t")
        assert token not in cursor.fetchone()[0]


def test_a_token_ends_after_half_an_hour_without_use(coordinator: Any) -> None:
    token = ask_for_token("anna", PASSWORD).json()["token"]
    start = timezone.now()
    with mock.patch("django.utils.timezone.now", return_value=start + timedelta(minutes=29)):
        assert with_token(token).get("/api/v1/auth/me/").status_code == 200
    # Use restarted the idle clock: 29 minutes after that use it still works.
    with mock.patch("django.utils.timezone.now", return_value=start + timedelta(minutes=58)):
        assert with_token(token).get("/api/v1/auth/me/").status_code == 200
    with mock.patch("django.utils.timezone.now", return_value=start + timedelta(minutes=89)):
        response = with_token(token).get("/api/v1/auth/me/")
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_a_token_ends_at_its_expiry_even_when_used(coordinator: Any, settings: Any) -> None:
    token = ask_for_token("anna", PASSWORD).json()["token"]
    expires = ApiToken.objects.get().expires_at
    now = timezone.now()
    while now + timedelta(minutes=20) < expires:
        now += timedelta(minutes=20)
        with mock.patch("django.utils.timezone.now", return_value=now):
            assert with_token(token).get("/api/v1/auth/me/").status_code == 200
    with mock.patch("django.utils.timezone.now", return_value=expires + timedelta(seconds=1)):
        assert with_token(token).get("/api/v1/auth/me/").status_code == 401


def test_a_revoked_token_no_longer_works(coordinator: Any) -> None:
    token = ask_for_token("anna", PASSWORD).json()["token"]
    assert with_token(token).delete("/api/v1/auth/token/").status_code == 204
    assert with_token(token).get("/api/v1/auth/me/").status_code == 401
    assert AuthEvent.objects.filter(kind="token_revoked", username="anna").exists()


def test_a_deactivated_users_token_is_refused(coordinator: Any) -> None:
    token = ask_for_token("anna", PASSWORD).json()["token"]
    coordinator.is_active = False
    coordinator.save()
    assert with_token(token).get("/api/v1/auth/me/").status_code == 401


def test_a_client_with_an_expired_token_can_still_ask_for_a_new_one(coordinator: Any) -> None:
    client = with_token("expired-or-made-up")
    response = client.post(
        "/api/v1/auth/token/", {"username": "anna", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200


def test_no_credentials_give_401(sites: Any) -> None:
    assert APIClient().get("/api/v1/participants/").status_code == 401
    assert with_token("made-up").get("/api/v1/participants/").status_code == 401
