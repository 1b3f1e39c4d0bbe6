"""IMRS_P: the IMR Scale, client version, filled in by the participant (SPEC §6) and entered
by the blinded assessor."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from instruments._imrs import build
from instruments.base import Mode
from trial.roles import Role

INSTRUMENT = build(
    code="IMRS_P",
    name=_("Illness Management and Recovery Scale, client (patient) self-rating version"),
    short_name=_("IMRS patient"),
    mode=Mode.SELF_REPORT,
    rater=Role.ASSESSOR,
    blinded_readable=True,
    rater_description=_(
        "Self-report by the participant (may be read aloud); entered by the blinded assessor."
    ),
)
