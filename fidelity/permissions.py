"""Who may do what with IMR groups, attendance and fidelity ratings.

The whole app reveals the IMR arm, so the first question on every page, endpoint and selector
is trial.access.may_see_allocation: a blinded user (assessor, data manager, monitor, or
anyone who also holds one of those roles) and an admin get 404, exactly as for something that
does not exist. Only then does the role decide (403), and the site (404 outside the user's
sites).

| what                                   | roles (site: own sites unless "all")            |
|----------------------------------------|-------------------------------------------------|
| see groups and their schedule          | coordinator, instructor; fidelity rater (all),  |
|                                        | statistician (all)                              |
| see members, attendance and exposure   | coordinator, instructor; statistician (all)     |
| create/edit groups, add/remove members | coordinator, instructor                         |
| plan and edit sessions                 | coordinator, instructor                         |
| record and correct attendance          | instructor                                      |
| enter fidelity ratings and consensus   | fidelity rater (all)                            |
| read fidelity ratings and scores       | fidelity rater (all; independence rule),        |
|                                        | statistician (all)                              |

Fidelity raters rate groups, not people: they see a group's schedule and head counts but not
who its members are (participants.selectors.PARTICIPANT_READERS leaves them out too).
Clinicians (case managers) have no part in running groups and are refused (403)."""

from __future__ import annotations

from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from trial import access
from trial.access import Viewer
from trial.errors import Forbidden, NotFound
from trial.roles import Role

GROUP_READERS = (Role.COORDINATOR, Role.INSTRUCTOR, Role.FIDELITY_RATER, Role.STATISTICIAN)
MEMBER_READERS = (Role.COORDINATOR, Role.INSTRUCTOR, Role.STATISTICIAN)
GROUP_MANAGERS = (Role.COORDINATOR, Role.INSTRUCTOR)
SESSION_PLANNERS = (Role.COORDINATOR, Role.INSTRUCTOR)
ATTENDANCE_RECORDERS = (Role.INSTRUCTOR,)
RATERS = (Role.FIDELITY_RATER,)
FIDELITY_READERS = (Role.FIDELITY_RATER, Role.STATISTICIAN)

# The message of every blinded refusal: the same words as any other "not found".
NOT_FOUND = _("Not found.")


def require_unblinded(user: Viewer) -> None:
    """404 for anyone who may not see allocation: the app does not exist for them."""
    if not access.may_see_allocation(user):
        raise NotFound(NOT_FOUND)


def require_role(user: Viewer, roles: tuple[str, ...], doing: str | Promise) -> None:
    require_unblinded(user)
    if not access.has_role(user, *roles):
        raise Forbidden(_("Your role does not allow you to {doing}.").format(doing=doing))


def require_role_at(user: Viewer, site: Any, roles: tuple[str, ...], doing: str | Promise) -> None:
    """The role at this site: 403 for a role that never may, 404 for a site outside the user's
    reach (they must not learn the object exists)."""
    require_role(user, roles, doing)
    if not access.has_role_at(user, site, *roles):
        if access.has_role_at(user, site, *GROUP_READERS):
            raise Forbidden(
                _("Your role at this site does not allow you to {doing}.").format(
                    doing=doing,
                )
            )
        raise NotFound(NOT_FOUND)


def may_read_members(user: Viewer, site: Any) -> bool:
    return access.may_see_allocation(user) and access.has_role_at(user, site, *MEMBER_READERS)


def may_manage_groups(user: Viewer, site: Any) -> bool:
    return access.may_see_allocation(user) and access.has_role_at(user, site, *GROUP_MANAGERS)


def may_plan_sessions(user: Viewer, site: Any) -> bool:
    return access.may_see_allocation(user) and access.has_role_at(user, site, *SESSION_PLANNERS)


def may_record_attendance(user: Viewer, site: Any) -> bool:
    return access.may_see_allocation(user) and access.has_role_at(user, site, *ATTENDANCE_RECORDERS)


def may_rate(user: Viewer) -> bool:
    return access.may_see_allocation(user) and access.has_role(user, *RATERS)


def may_read_fidelity(user: Viewer) -> bool:
    return access.may_see_allocation(user) and access.has_role(user, *FIDELITY_READERS)
