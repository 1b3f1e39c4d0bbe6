from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from trial import access, navigation
from trial.access import Viewer
from trial.selectors import current_lock


def trial(request: HttpRequest) -> dict[str, Any]:
    """What every page shows: the menu, the user's roles and the database's lock state."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    if access.needs_two_factor(user) and not _verified(user):
        # Half logged in (password, no code yet): nothing but the way to finish or leave.
        return {"user_roles": [], "may_see_allocation": False}
    return {
        "menu": navigation.menu_for(user, request.path),
        "user_roles": access.role_labels(access.roles_of(user)),
        "may_see_allocation": access.may_see_allocation(user),
        "dataset_lock": current_lock(),
    }


def _verified(user: Viewer) -> bool:
    check = getattr(user, "is_verified", None)
    return bool(check and check())
