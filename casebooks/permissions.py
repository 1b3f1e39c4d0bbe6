"""Who may print and sign what. Values of a form are readable by the rules of
assessments.permissions (blinded users never read IMRS_C); blinding itself is decided by
trial.access.may_see_allocation, as everywhere."""

from __future__ import annotations

from typing import Any

from assessments import permissions as assessment_permissions
from instruments.base import Instrument
from trial import access
from trial.roles import Role

# Who prints a participant's forms: whoever reads them at the participant's site.
PRINTERS = assessment_permissions.READERS
# Blank forms for interviews on paper: those who read forms and those who enter them.
BLANK_PRINTERS = (*assessment_permissions.READERS, *assessment_permissions.ENTERING_ROLES)
# The whole casebook of a participant (every visit): data managers and monitors review it, the
# site's investigator signs it.
CASEBOOK_READERS = (Role.DATA_MANAGER, Role.MONITOR, Role.INVESTIGATOR)
# Who sees the signatures of a participant's visits (that one exists, by whom, when, intact):
# everyone who reads the forms. Blinded readers see it too; a signature holds no arm.
SIGNATURE_READERS = PRINTERS
# The data manager's list of broken signatures.
BROKEN_LIST_READERS = (Role.DATA_MANAGER,)


def may_print_blank(user: Any, instrument: Instrument) -> bool:
    if not instrument.form_entry or not access.has_role(user, *BLANK_PRINTERS):
        return False
    return instrument.blinded_readable or access.may_see_allocation(user)


def may_read_casebook(user: Any, site_id: int) -> bool:
    return access.has_role_at(user, site_id, *CASEBOOK_READERS)


def may_sign_visit(user: Any, site_id: int) -> bool:
    """The site's investigator; blinded wins (an investigator who is also an assessor signs
    nothing, as they could not read every form of the visit)."""
    return access.has_role_at(user, site_id, Role.INVESTIGATOR) and access.may_see_allocation(user)


def may_sign_visits_anywhere(user: Any) -> bool:
    return access.has_role(user, Role.INVESTIGATOR) and access.may_see_allocation(user)


def may_see_broken_list(user: Any) -> bool:
    return access.has_role(user, *BROKEN_LIST_READERS)
