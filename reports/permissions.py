"""Who may read which report. Every report is scoped to the caller's sites; per-arm figures
need both the one blinding predicate (`trial.access.may_see_allocation`) and a locked
database, because before lock per-site counts by arm would help guess the next allocation
(DESIGN.md, invariant 1)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from trial import access
from trial.errors import Forbidden
from trial.models import DatasetLock
from trial.roles import TRIAL_ROLES, Role
from trial.selectors import lock_level

# Everyone who works with trial data reads the overview reports (administrators manage
# accounts only and read no trial data).
READERS = tuple(sorted(TRIAL_ROLES))
# The record status matrix: the roles that read assessment data.
MATRIX_READERS = (
    Role.COORDINATOR,
    Role.ASSESSOR,
    Role.CLINICIAN,
    Role.DATA_MANAGER,
    Role.MONITOR,
    Role.STATISTICIAN,
)
# The paper's tables and the data manager's overview are trial-wide documents.
TABLE_READERS = (Role.STATISTICIAN, Role.DATA_MANAGER, Role.MONITOR, Role.COORDINATOR)


def require_reader(user: Any, roles: tuple[str, ...] = READERS) -> None:
    if not access.has_role(user, *roles):
        raise Forbidden(_("Your role does not include the trial reports."))


def site_ids(user: Any, roles: tuple[str, ...] = READERS) -> frozenset[int]:
    """The sites whose data the user's reports cover."""
    return access.site_ids(user, *roles)


def arms_visible(user: Any) -> bool:
    """Per-arm figures: only for users who may see allocation, and only after lock."""
    return access.may_see_allocation(user) and lock_level() == DatasetLock.Level.LOCK
