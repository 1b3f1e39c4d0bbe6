"""Session login at /accounts/login/, the second step for the two-factor roles, enrolment of
an authenticator, logout, password change and the idle timeout."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.test import Client
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import ApiToken, AuthEvent
from tests.accounts.conftest import ask_for_token
from tests.factories import PASSWORD, give_password, make_staff, totp_code, wrong_code
from trial.roles import Role


def login(
    client: Client, username: str, password: str = PASSWORD, next_url: str = "", otp: str = ""
) -> Any:
    data = {"username": username, "password": password}
    if next_url:
        data["next"] = next_url
    if otp:
        data["otp"] = otp
    return client.post("/accounts/login/", data)


def without_csrf(response: Any) -> str:
    """The page as the user sees it, less the per-request CSRF tokens."""
    html = response.content.decode()
    return re.sub(r"\b[A-Za-z0-9]{64}\b", "<csrf>", html)


def test_a_coordinator_logs_in_with_the_password_and_reaches_the_participants(
    coordinator: Any,
) -> None:
    client = Client()
    response = login(client, "anna")
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.get("/participants/").status_code == 200
    event = AuthEvent.objects.get(kind="login", username="anna")
    assert event.channel == "web" and event.detail == ""


def test_a_wrong_password_keeps_the_username_and_says_so(coordinator: Any) -> None:
    response = login(Client(), "anna", "wrong")
    assert response.status_code == 200
    assert b"correct username and password" in response.content
    assert b'value="anna"' in response.content
    assert AuthEvent.objects.filter(kind="login_failed", username="anna", channel="web").exists()


@pytest.mark.parametrize("path", ["/", "/participants/", "/accounts/", "/admin/"])
def test_a_two_factor_role_sees_no_page_without_the_code(statistician: Any, path: str) -> None:
    client = Client()
    assert login(client, "stig").status_code == 200  # the password alone is not a login
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].split("?")[0] in ("/accounts/login/", "/admin/login/")


def test_a_half_logged_in_session_gets_no_api_access(statistician: Any) -> None:
    client = Client()
    client.force_login(statistician)  # logged in, second factor not verified
    assert client.get("/api/v1/participants/").status_code == 401
    assert client.get("/api/v1/auth/me/").status_code == 401


def test_the_code_with_the_password_completes_the_login(statistician: Any) -> None:
    device = statistician.totpdevice_set.get()
    client = Client()
    response = login(client, "stig", next_url="/participants/", otp=totp_code(device))
    assert response.status_code == 302
    assert response["Location"] == "/participants/"
    assert client.get("/participants/").status_code == 200
    assert client.get("/api/v1/auth/me/").json()["username"] == "stig"
    assert AuthEvent.objects.filter(kind="otp_verified", username="stig").exists()
    login_event = AuthEvent.objects.get(kind="login", username="stig")
    assert login_event.detail == "password and second factor accepted"


def test_the_code_may_be_typed_with_a_space(statistician: Any) -> None:
    device = statistician.totpdevice_set.get()
    client = Client()
    code = totp_code(device)
    assert login(client, "stig", otp=f"{code[:3]} {code[3:]}").status_code == 302
    assert client.get("/").status_code == 200


@pytest.mark.parametrize("code", ["wrong", "missing"])
def test_the_right_password_with_a_wrong_code_answers_exactly_like_a_wrong_password(
    statistician: Any, code: str
) -> None:
    device = statistician.totpdevice_set.get()
    otp = wrong_code(device) if code == "wrong" else ""
    wrong_password = login(Client(), "stig", "not-the-password", otp=totp_code(device))
    right_password = login(Client(), "stig", PASSWORD, otp=otp)
    assert wrong_password.status_code == right_password.status_code == 200
    assert without_csrf(right_password) == without_csrf(wrong_password)
    assert "correct username and password" in without_csrf(right_password)
    kinds = AuthEvent.objects.filter(username="stig").values_list("kind", flat=True)
    assert sorted(kinds) == ["login_failed", "otp_failed"]  # both count towards the lockout


def test_a_code_that_was_used_once_does_not_log_in_again(statistician: Any) -> None:
    device = statistician.totpdevice_set.get()
    code = totp_code(device)
    assert login(Client(), "stig", otp=code).status_code == 302
    assert login(Client(), "stig", otp=code).status_code == 200


def test_a_coordinator_needs_no_code_and_a_typed_one_is_ignored(coordinator: Any) -> None:
    assert login(Client(), "anna", otp="123456").status_code == 302


def test_the_next_page_cannot_be_on_another_site(statistician: Any) -> None:
    device = statistician.totpdevice_set.get()
    response = login(Client(), "stig", next_url="https://evil.example/", otp=totp_code(device))
    assert response["Location"] == "/"


def test_a_session_without_the_code_can_still_confirm_it_on_the_code_page(
    statistician: Any,
) -> None:
    device = statistician.totpdevice_set.get()
    client = Client()
    client.force_login(statistician)
    assert client.get("/participants/")["Location"].startswith("/accounts/verify/")
    assert client.post("/accounts/verify/", {"otp": wrong_code(device)}).status_code == 200
    assert client.post("/accounts/verify/", {"otp": totp_code(device)}).status_code == 302
    assert client.get("/participants/").status_code == 200


def test_a_new_data_manager_enrols_an_authenticator_at_the_first_login(sites: Any) -> None:
    give_password(make_staff("dora", Role.DATA_MANAGER))
    client = Client()
    response = login(client, "dora")
    assert response["Location"] == "/accounts/enrol/?next=%2F"
    page = client.get("/accounts/enrol/")
    html = page.content.decode()
    assert page.status_code == 200
    # The QR code is drawn on the server as inline SVG; the key is shown for typing by hand.
    assert "<svg" in html and "<img" not in html
    device = TOTPDevice.objects.get(user__username="dora")
    assert not device.confirmed
    found = re.search(r'aria-label="Secret key">([A-Z2-7 ]+)<', html)
    assert found is not None
    secret = found.group(1)
    import base64

    assert base64.b32decode(
        secret.replace(" ", "") + "=" * (-len(secret.replace(" ", "")) % 8)
    ) == (device.bin_key)
    # Before confirming, nothing else opens.
    assert client.get("/participants/")["Location"].startswith("/accounts/enrol/")
    assert client.post("/accounts/enrol/", {"otp": wrong_code(device)}).status_code == 200
    response = client.post("/accounts/enrol/", {"otp": totp_code(device)})
    assert response.status_code == 302
    device.refresh_from_db()
    assert device.confirmed
    assert client.get("/participants/").status_code == 200
    assert AuthEvent.objects.filter(kind="otp_device_added", username="dora").exists()


def test_someone_with_an_authenticator_cannot_enrol_another(statistician: Any) -> None:
    client = Client()
    client.force_login(statistician)
    response = client.get("/accounts/enrol/")
    assert response["Location"].startswith("/accounts/verify/")
    assert TOTPDevice.objects.filter(user=statistician).count() == 1


def test_logout_ends_the_session(coordinator: Any) -> None:
    client = Client()
    login(client, "anna")
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/participants/").status_code == 302
    assert AuthEvent.objects.filter(kind="logout", username="anna").exists()


def test_a_session_ends_after_thirty_minutes_without_activity(coordinator: Any) -> None:
    client = Client()
    login(client, "anna")
    start = timezone.now()
    with mock.patch("django.utils.timezone.now", return_value=start + timedelta(minutes=29)):
        assert client.get("/participants/").status_code == 200
    # That request renewed the session: 29 minutes later it is still alive...
    with mock.patch("django.utils.timezone.now", return_value=start + timedelta(minutes=58)):
        assert client.get("/participants/").status_code == 200
    # ...but 31 idle minutes end it.
    with mock.patch("django.utils.timezone.now", return_value=start + timedelta(minutes=89)):
        response = client.get("/participants/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_password_change_page_applies_the_password_rules(coordinator: Any) -> None:
    client = Client()
    login(client, "anna")
    weak = client.post(
        "/accounts/password/",
        {"old_password": PASSWORD, "new_password1": "password", "new_password2": "password"},
    )
    assert weak.status_code == 200
    assert b"too common" in weak.content or b"too short" in weak.content
    wrong_old = client.post(
        "/accounts/password/",
        {
            "old_password": "nope",
            "new_password1": "Lighthouse-Kettle-42",
            "new_password2": "Lighthouse-Kettle-42",
        },
    )
    assert wrong_old.status_code == 200
    coordinator.refresh_from_db()
    assert coordinator.check_password(PASSWORD)


def test_a_new_password_ends_every_api_token_but_not_this_session(coordinator: Any) -> None:
    assert ask_for_token("anna", PASSWORD).status_code == 200
    client = Client()
    login(client, "anna")
    response = client.post(
        "/accounts/password/",
        {
            "old_password": PASSWORD,
            "new_password1": "Lighthouse-Kettle-42",
            "new_password2": "Lighthouse-Kettle-42",
        },
    )
    assert response.status_code == 302
    coordinator.refresh_from_db()
    assert coordinator.check_password("Lighthouse-Kettle-42")
    assert not ApiToken.objects.filter(revoked_at__isnull=True).exists()
    assert client.get("/participants/").status_code == 200
    event = AuthEvent.objects.get(kind="password_changed", username="anna")
    assert event.detail == "1 API token(s) revoked"


def test_the_account_page_lists_roles_tokens_and_revokes_a_token(coordinator: Any) -> None:
    ask_for_token("anna", PASSWORD)
    token = ApiToken.objects.get()
    client = Client()
    login(client, "anna")
    page = client.get("/accounts/").content.decode()
    assert "Coordinator (BAL)" in page
    assert f"{token.prefix}…" in page
    assert client.post("/accounts/", {"revoke": token.pk}).status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_the_code_page_shows_no_menu_before_the_code(statistician: Any) -> None:
    client = Client()
    client.force_login(statistician)
    html = client.get("/accounts/verify/").content.decode()
    assert 'aria-label="Main"' in html  # the header is there...
    assert "/participants/" not in html and "Allocation lists" not in html  # ...its menu is not
