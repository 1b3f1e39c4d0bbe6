"""Who may do what with assessments. Pages, endpoints, selectors and services ask these
functions; blinding is decided by trial.access.may_see_allocation as everywhere.

IMRS_C (the clinician's IMR Scale) is readable only by users who may see allocation
(coordinators, clinicians, statisticians at its site): the treating clinician knows the arm,
and the items IMR targets (relapse-prevention planning, knowledge, self-help involvement) can
reveal it. Blinded users see that the form exists and its status, never its values."""

from __future__ import annotations

from typing import Any

from instruments.base import Instrument
from trial import access
from trial.access import Viewer
from trial.roles import Role

# Roles that read assessment data at their sites (instructors run groups; they need none).
READERS = (
    Role.COORDINATOR,
    Role.ASSESSOR,
    Role.CLINICIAN,
    Role.DATA_MANAGER,
    Role.MONITOR,
    Role.STATISTICIAN,
    # The site's principal investigator reviews the visits they sign (casebooks).
    Role.INVESTIGATOR,
)
# Source-data verification.
VERIFIERS = (Role.MONITOR, Role.DATA_MANAGER)
# Raise, close and re-open queries.
QUERY_MANAGERS = (Role.DATA_MANAGER,)
# Site staff who answer queries at their sites.
QUERY_ANSWERERS = (Role.COORDINATOR, Role.ASSESSOR, Role.CLINICIAN)
# Everyone who sees queries.
QUERY_READERS = (*QUERY_MANAGERS, Role.MONITOR, *QUERY_ANSWERERS)
# Register data.
REGISTER_IMPORTERS = (Role.DATA_MANAGER,)
# Roles with a worklist of forms to enter.
ENTERING_ROLES = (Role.ASSESSOR, Role.CLINICIAN, Role.COORDINATOR)
# Who sees that a form was rated by someone who had reported being unblinded (randomisation's
# unblinding reports): the trial managers, who read every report (the same roles as
# randomization.services.blinding.TRIAL_MANAGERS). Monitors see only their own reports, and
# the flag would tell them that a colleague reported one; assessors and clinicians have no
# use for it. The flag holds no arm.
UNBLINDING_FLAG_READERS = (Role.DATA_MANAGER, Role.STATISTICIAN)


def _site_id(site: Any) -> int:
    return site if isinstance(site, int) else site.pk


def may_read_values(user: Viewer, site: Any, instrument: Instrument) -> bool:
    """May the user see the items and scores of this instrument at this site?"""
    if not access.has_role_at(user, _site_id(site), *READERS):
        return False
    return instrument.blinded_readable or access.may_see_allocation(user)


def may_enter(user: Viewer, site: Any, instrument: Instrument) -> bool:
    """May the user enter or change this instrument at this site? Blinded wins: an assessor
    who is also a clinician may not enter IMRS_C."""
    if not instrument.form_entry:
        return False
    if not access.has_role_at(user, _site_id(site), *instrument.entered_by):
        return False
    return instrument.blinded_readable or access.may_see_allocation(user)


def entering_role(user: Viewer, site: Any, instrument: Instrument) -> str:
    """The role under which the user enters the form (recorded as rater_role)."""
    for role in instrument.entered_by:
        if access.has_role_at(user, _site_id(site), role):
            return str(role)
    return ""


def may_verify(user: Viewer, instrument: Instrument) -> bool:
    return access.has_role(user, *VERIFIERS) and (
        instrument.blinded_readable or access.may_see_allocation(user)
    )


def may_answer_query(user: Viewer, site: Any, instrument: Instrument) -> bool:
    if not access.has_role_at(user, _site_id(site), *QUERY_ANSWERERS):
        return False
    return instrument.blinded_readable or access.may_see_allocation(user)


def may_see_unblinding_flag(user: Viewer) -> bool:
    return access.has_role(user, *UNBLINDING_FLAG_READERS)


def may_manage_queries(user: Viewer) -> bool:
    return access.has_role(user, *QUERY_MANAGERS)
