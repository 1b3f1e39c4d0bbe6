"""The Django admin: accounts, roles and sites for administrators only, every change with a
reason and the acting administrator in the audit trail; no trial data."""

from __future__ import annotations

from datetime import UTC
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import Client

from accounts.models import AccountPreference, AuthEvent, StaffAccount
from tests.accounts.test_lockout import page_login
from tests.factories import (
    PASSWORD,
    enrol_totp,
    give_password,
    make_staff,
    page_client,
    totp_code,
)
from trial.audit import event_model, events_of
from trial.models import RoleAssignment, Site
from trial.roles import Role

# Everything the admin site may show. Adding trial data here (participants, forms,
# allocations, groups, exports, audit events) would make it readable by a non-trial role.
ALLOWED_IN_ADMIN = {
    "auth.User",
    "trial.Site",
    "accounts.AuthEvent",
    "accounts.ApiToken",
    "axes.AccessAttempt",
    "axes.AccessFailureLog",
    "axes.AccessLog",
}


def test_the_admin_shows_accounts_and_configuration_only() -> None:
    registered = {model._meta.label for model in admin.site._registry}
    assert registered <= ALLOWED_IN_ADMIN, registered - ALLOWED_IN_ADMIN


@pytest.fixture
def administrator(sites: Any) -> Any:
    return make_staff("root-admin", Role.ADMIN)


@pytest.fixture
def admin_client(administrator: Any) -> Client:
    return page_client(administrator)


def change_form(user: Any, roles: list[tuple[str, Site | None]], reason: str) -> dict[str, Any]:
    """The POST of the user change page with its role inline."""
    existing = list(user.role_assignments.order_by("id"))
    data: dict[str, Any] = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        # Accounts need an address; the factories make users without one.
        "email": user.email or f"{user.username}@example.org",
        "is_active": "on" if user.is_active else "",
        "change_reason": reason,
        "role_assignments-TOTAL_FORMS": str(len(roles) + len(existing)),
        "role_assignments-INITIAL_FORMS": str(len(existing)),
        "role_assignments-MIN_NUM_FORMS": "0",
        "role_assignments-MAX_NUM_FORMS": "1000",
    }
    for i, assignment in enumerate(existing):
        data.update(
            {
                f"role_assignments-{i}-id": str(assignment.pk),
                f"role_assignments-{i}-user": str(user.pk),
                f"role_assignments-{i}-role": assignment.role,
                f"role_assignments-{i}-site": str(assignment.site_id or ""),
            }
        )
    for j, (role, site) in enumerate(roles, start=len(existing)):
        data.update(
            {
                f"role_assignments-{j}-id": "",
                f"role_assignments-{j}-user": str(user.pk),
                f"role_assignments-{j}-role": role,
                f"role_assignments-{j}-site": str(site.pk) if site else "",
            }
        )
    return data


def test_an_administrator_grants_a_role_and_the_change_carries_their_name_and_reason(
    admin_client: Client, sites: dict[str, Site]
) -> None:
    user = make_staff("karen", Role.ASSESSOR, sites=["BAL"])
    response = admin_client.post(
        f"/admin/auth/user/{user.pk}/change/",
        change_form(user, [(Role.COORDINATOR, sites["GLA"])], "Covers Gladsaxe from March"),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    granted = RoleAssignment.objects.get(user=user, role=Role.COORDINATOR)
    event = events_of(granted).get(pgh_label="insert")
    assert event.pgh_context["username"] == "root-admin"
    assert event.pgh_context["reason"] == "Covers Gladsaxe from March"
    assert event.pgh_context["url"] == f"/admin/auth/user/{user.pk}/change/"


def test_a_change_without_a_reason_is_refused_and_nothing_changes(
    admin_client: Client, sites: dict[str, Site]
) -> None:
    user = make_staff("karen", Role.ASSESSOR, sites=["BAL"])
    response = admin_client.post(
        f"/admin/auth/user/{user.pk}/change/", change_form(user, [(Role.MONITOR, None)], "")
    )
    assert response.status_code == 200
    assert b"This field is required" in response.content
    assert not RoleAssignment.objects.filter(user=user, role=Role.MONITOR).exists()


def test_an_all_sites_role_cannot_be_tied_to_one_site(
    admin_client: Client, sites: dict[str, Site]
) -> None:
    user = make_staff("karen", Role.ASSESSOR, sites=["BAL"])
    response = admin_client.post(
        f"/admin/auth/user/{user.pk}/change/",
        change_form(user, [(Role.MONITOR, sites["BAL"])], "New monitor"),
    )
    assert response.status_code == 200
    assert b"works at every site" in response.content
    assert not RoleAssignment.objects.filter(user=user, role=Role.MONITOR).exists()


def test_the_admin_role_alone_opens_the_admin_site(admin_client: Client) -> None:
    user = make_staff("karen", Role.COORDINATOR, sites=["BAL"])
    admin_client.post(
        f"/admin/auth/user/{user.pk}/change/",
        change_form(user, [(Role.ADMIN, None)], "Second administrator"),
    )
    user.refresh_from_db()
    assert user.is_staff and user.is_superuser
    RoleAssignment.objects.filter(user=user, role=Role.ADMIN).delete()
    admin_client.post(f"/admin/auth/user/{user.pk}/change/", change_form(user, [], "Left the job"))
    user.refresh_from_db()
    assert not user.is_staff and not user.is_superuser


def test_deactivating_an_account_is_audited(admin_client: Client) -> None:
    user = make_staff("karen", Role.COORDINATOR, sites=["BAL"])
    data = change_form(user, [], "Left the trial team")
    data["is_active"] = ""
    assert admin_client.post(f"/admin/auth/user/{user.pk}/change/", data).status_code == 302
    event = event_model(StaffAccount).objects.filter(pgh_obj_id=user.pk).latest("pgh_id")
    assert event.is_active is False
    assert event.pgh_context["reason"] == "Left the trial team"
    assert event.pgh_context["username"] == "root-admin"


def test_accounts_are_never_deleted(admin_client: Client) -> None:
    user = make_staff("karen", Role.COORDINATOR, sites=["BAL"])
    assert admin_client.get(f"/admin/auth/user/{user.pk}/delete/").status_code == 403
    assert get_user_model().objects.filter(pk=user.pk).exists()


def test_the_account_history_shows_who_changed_what_and_why(
    admin_client: Client, sites: dict[str, Site]
) -> None:
    user = make_staff("karen", Role.ASSESSOR, sites=["BAL"])
    admin_client.post(
        f"/admin/auth/user/{user.pk}/change/",
        change_form(user, [(Role.COORDINATOR, sites["GLA"])], "Covers Gladsaxe"),
    )
    html = admin_client.get(f"/admin/auth/user/{user.pk}/history/").content.decode()
    assert "Role Coordinator" in html
    assert "root-admin" in html
    assert "Covers Gladsaxe" in html
    assert "GLA Gladsaxe" in html


def test_the_account_history_reads_in_the_administrators_date_format(
    administrator: Any, sites: dict[str, Site]
) -> None:
    user = make_staff("karen", Role.ASSESSOR, sites=["BAL"])
    created = event_model(StaffAccount).objects.filter(pgh_obj_id=user.pk).earliest("pgh_id")
    utc = created.pgh_created_at.astimezone(UTC)
    local = utc.astimezone(ZoneInfo("Europe/Copenhagen"))
    joined = user.date_joined.astimezone(ZoneInfo("Europe/Copenhagen"))
    # (the account's language applies from its next login)
    AccountPreference.objects.create(user=administrator, language="da")
    html = page_client(administrator).get(f"/admin/auth/user/{user.pk}/history/").content.decode()
    # dd-mm-åååå HH:MM, UTC and Copenhagen time; the account's date joined (a time among the
    # changes) in Copenhagen time too; no ISO date.
    assert f"{utc:%d-%m-%Y %H:%M} UTC" in html
    assert f"{local:%d-%m-%Y %H:%M %Z}" in html
    assert f"{joined:%d-%m-%Y %H:%M %Z}" in html
    assert f"{utc:%Y-%m-%d}" not in html
    AccountPreference.objects.filter(user=administrator).update(language="en")
    html = page_client(administrator).get(f"/admin/auth/user/{user.pk}/history/").content.decode()
    assert f"{utc:%Y-%m-%d %H:%M} UTC" in html and f"{utc:%d-%m-%Y}" not in html


def test_site_names_change_with_a_reason_but_codes_never(
    admin_client: Client, sites: dict[str, Site]
) -> None:
    site = sites["FRB"]
    response = admin_client.post(
        f"/admin/trial/site/{site.pk}/change/",
        {"name": "Frederiksberg Centre", "code": "XXX", "number": "9", "change_reason": "Renamed"},
    )
    assert response.status_code == 302
    site.refresh_from_db()
    assert (site.code, site.number, site.name) == ("FRB", 3, "Frederiksberg Centre")
    event = events_of(site).latest("pgh_id")
    assert event.pgh_context["reason"] == "Renamed"
    assert event.pgh_context["username"] == "root-admin"
    assert admin_client.get("/admin/trial/site/add/").status_code == 403


def test_trial_data_is_not_reachable_through_the_admin(admin_client: Client) -> None:
    for path in (
        "/admin/participants/participant/",
        "/admin/participants/eligibilityscreening/",
        "/admin/randomization/allocation/",
        "/admin/randomization/allocationslot/",
        "/admin/django_otp/totpdevice/",
        "/admin/otp_totp/totpdevice/",
    ):
        assert admin_client.get(path).status_code == 404, path


def test_administrators_log_in_through_the_trial_login_with_their_code(sites: Any) -> None:
    user = give_password(make_staff("root-admin", Role.ADMIN))
    enrol_totp(user)
    client = Client()
    response = client.get("/admin/", follow=True)
    assert response.redirect_chain[-1][0] == "/accounts/login/?next=/admin/"
    assert page_login(client, "root-admin", PASSWORD).status_code == 200  # no code: no login
    assert client.get("/admin/")["Location"].startswith("/admin/login/")
    device = user.totpdevice_set.get()
    assert page_login(client, "root-admin", PASSWORD, otp=totp_code(device)).status_code == 302
    assert client.get("/admin/").status_code == 200


def test_an_administrator_removes_a_lost_authenticator_and_lifts_a_lockout(
    admin_client: Client,
) -> None:
    user = give_password(make_staff("dora", Role.DATA_MANAGER))
    enrol_totp(user)
    for _ in range(5):
        page_login(Client(), "dora", "wrong")
    assert page_login(Client(), "dora", PASSWORD).status_code == 429
    for action in ("reset_two_factor", "unlock"):
        response = admin_client.post(
            "/admin/auth/user/", {"action": action, "_selected_action": [str(user.pk)]}
        )
        assert response.status_code == 302
    assert not user.totpdevice_set.exists()
    client = Client()
    assert page_login(client, "dora", PASSWORD)["Location"].startswith("/accounts/enrol/")
    kinds = set(AuthEvent.objects.filter(username="dora").values_list("kind", flat=True))
    assert {"otp_device_reset", "unlocked"} <= kinds
