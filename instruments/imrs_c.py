"""IMRS_C: the IMR Scale, clinician version (SPEC §6), rated by the participant's own
clinician, who knows the arm. Never entered by the research assessor; its values are not
shown to blinded users, because a clinician's ratings of relapse-prevention planning,
knowledge and self-help involvement are what the IMR programme targets and can hint at it."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from instruments._imrs import build
from instruments.base import Mode
from trial.roles import Role

INSTRUMENT = build(
    code="IMRS_C",
    name=_("Illness Management and Recovery Scale, clinician (staff) version"),
    short_name=_("IMRS clinician"),
    mode=Mode.STAFF_RATING,
    rater=Role.CLINICIAN,
    blinded_readable=False,
    rater_description=_("The participant's own clinician or case manager (not blinded)."),
)
