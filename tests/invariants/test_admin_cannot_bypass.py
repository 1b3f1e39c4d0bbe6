"""The Django admin is no way around the audit, the lock or the blinding (DESIGN.md invariants 3,
4 and 7). What it registers is accounts and configuration only; whatever an administrator may
add, change or delete there is tracked by pghistory and asks for a reason; everything else is
read-only; and trial data is not there at all."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import admin
from django.test import RequestFactory

from tests.factories import make_staff
from tests.invariants.world import PROJECT_APPS
from trial.roles import Role

# What may be edited in the admin, and which audited model records the change.
EDITABLE = {
    "auth.User": "accounts.StaffAccount",  # the proxy that carries the account's triggers
    "trial.Site": "trial.Site",
    "trial.RoleAssignment": "trial.RoleAssignment",  # inline of the account
}
# Registered and read-only: logs and credentials.
READ_ONLY = {
    "accounts.AuthEvent",
    "accounts.ApiToken",
    "axes.AccessAttempt",
    "axes.AccessLog",
    "axes.AccessFailureLog",
}
# The apps whose every model is trial data (the trial core and accounts hold configuration:
# sites and roles, see above).
TRIAL_APPS = tuple(a for a in PROJECT_APPS if a not in ("trial", "accounts"))


@pytest.fixture
def request_as_admin(sites: Any) -> Any:
    request = RequestFactory().get("/admin/")
    request.user = make_staff("inv-root", Role.ADMIN)
    return request


def admins() -> list[tuple[Any, Any]]:
    """(model, admin) for every registration, inlines included."""
    found: list[tuple[Any, Any]] = []
    for model, model_admin in admin.site._registry.items():
        found.append((model, model_admin))
        for inline in model_admin.inlines:
            found.append((inline.model, inline(model, admin.site)))
    return found


def test_no_trial_data_is_registered_in_the_admin() -> None:
    trial = [
        model._meta.label
        for model, _ in admins()
        if model._meta.app_label in TRIAL_APPS and model._meta.label != "trial.Site"
    ]
    assert trial == []
    registered = {model._meta.label for model, _ in admins()}
    assert registered == set(EDITABLE) | READ_ONLY


def test_what_the_admin_may_change_is_audited(request_as_admin: Any) -> None:
    from django.apps import apps

    for model, model_admin in admins():
        label = model._meta.label
        inline = hasattr(model_admin, "fk_name")  # an inline's add permission takes the parent
        may_write = (
            model_admin.has_add_permission(request_as_admin, *((None,) if inline else ()))
            or model_admin.has_change_permission(request_as_admin, None)
            or model_admin.has_delete_permission(request_as_admin, None)
        )
        if label in READ_ONLY:
            assert not may_write, f"{label} must be read-only in the admin"
            assert not model_admin.get_actions(request_as_admin).get("delete_selected"), label
            continue
        assert label in EDITABLE, label
        assert hasattr(apps.get_model(EDITABLE[label]), "pgh_event_model"), label


@pytest.mark.parametrize("label", ["auth.User", "trial.Site"])
def test_every_admin_change_asks_for_a_reason_and_nothing_is_deleted(
    label: str, request_as_admin: Any
) -> None:
    model_admin = next(a for m, a in admins() if m._meta.label == label)
    form = model_admin.get_form(request_as_admin, obj=model_admin.model.objects.first())
    assert form.base_fields["change_reason"].required
    assert not model_admin.has_delete_permission(request_as_admin, None)
    assert "delete_selected" not in model_admin.get_actions(request_as_admin)


def test_a_site_in_the_admin_changes_only_its_display_name(request_as_admin: Any) -> None:
    """Its code and number are in every study ID and dataset (and the lock exempts only the
    name: tests/invariants/test_audit_and_lock_coverage.py)."""
    from trial.models import Site

    model_admin = admin.site._registry[Site]
    site = Site.objects.first()
    form = model_admin.get_form(request_as_admin, obj=site)
    editable = set(form.base_fields) - set(model_admin.get_readonly_fields(request_as_admin, site))
    assert editable == {"name", "change_reason"}
    assert not model_admin.has_add_permission(request_as_admin)


def test_the_admin_role_is_blinded_and_nothing_registered_points_at_an_allocation(
    sites: Any,
) -> None:
    """Administrators are blinded (DESIGN.md: "admin — not a trial-data role"), so nothing the
    admin shows may lead to an arm: no registered model has a relation to randomisation or IMR
    delivery."""
    from trial import access

    assert not access.may_see_allocation(make_staff("inv-root2", Role.ADMIN))
    for model, _ in admins():
        for model_field in model._meta.get_fields():
            related = getattr(model_field, "related_model", None)
            # Its own relations: the reverse ones (everything points at a user) show nothing.
            if related is not None and not model_field.auto_created:
                assert related._meta.app_label not in ("randomization", "fidelity"), (
                    model._meta.label,
                    model_field.name,
                )
