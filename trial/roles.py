"""The trial's roles (DESIGN.md, "Who uses it")."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    COORDINATOR = "coordinator", _("Coordinator")
    ASSESSOR = "assessor", _("Assessor")
    CLINICIAN = "clinician", _("Clinician")
    INSTRUCTOR = "instructor", _("IMR instructor")
    FIDELITY_RATER = "fidelity_rater", _("Fidelity rater")
    DATA_MANAGER = "data_manager", _("Data manager")
    STATISTICIAN = "statistician", _("Statistician")
    MONITOR = "monitor", _("Monitor")
    INVESTIGATOR = "investigator", _("Principal investigator")
    ADMIN = "admin", _("Administrator")


# Anyone holding one of these is blinded, whatever else they hold ("blinded wins").
BLINDED_ROLES = frozenset({Role.ASSESSOR, Role.DATA_MANAGER, Role.MONITOR})
# Roles that may see allocation when the user holds no blinded role.
UNBLINDED_ROLES = frozenset(
    {
        Role.COORDINATOR,
        Role.CLINICIAN,
        Role.INSTRUCTOR,
        Role.FIDELITY_RATER,
        Role.STATISTICIAN,
        Role.INVESTIGATOR,
    }
)
# Roles that work at their own site(s); the others always cover every site.
SITE_SCOPED_ROLES = frozenset(
    {Role.COORDINATOR, Role.ASSESSOR, Role.CLINICIAN, Role.INSTRUCTOR, Role.INVESTIGATOR}
)
# Roles that must log in with a second factor.
TWO_FACTOR_ROLES = frozenset({Role.STATISTICIAN, Role.DATA_MANAGER, Role.ADMIN})
# Roles that work with trial data at all (admin manages accounts only).
TRIAL_ROLES = frozenset(Role) - {Role.ADMIN}
