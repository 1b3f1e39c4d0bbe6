from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from imrtrial import access, navigation


def trial(request: HttpRequest) -> dict[str, Any]:
    """What every page shows: the menu, the user's roles and the database's lock state."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    from exports.selectors import current_lock

    return {
        "menu": navigation.menu_for(user),
        "user_roles": access.role_labels(access.roles_of(user)),
        "may_see_allocation": access.may_see_allocation(user),
        "dataset_lock": current_lock(),
    }
