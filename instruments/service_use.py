"""SERVICE_USE, psychiatric service use from the Danish Psychiatric Central Research Register
(SPEC §11). Not a form: the data manager imports the register extraction (assessments.register)
and the counts are summed per participant into the analysis windows."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from instruments.base import Instrument, Item, Mode, Score, entered
from trial.roles import Role

# The analysis windows (SPEC §11); their dates are set by assessments.windows.
W_PRE, W1, W2, W_ALL = "W_PRE", "W1", "W2", "W_ALL"
WINDOWS = (W_PRE, W1, W2, W_ALL)
WINDOW_LABELS = {
    W_PRE: _("Fixed look-back before randomisation (SERVICE_USE_PRE_MONTHS)"),
    W1: _("Randomisation to the post-intervention due date (T1)"),
    W2: _("Post-intervention due date (T1) to the follow-up due date (T2)"),
    W_ALL: _("Randomisation to the follow-up due date (T2)"),
}

COUNT: dict[str, Any] = dict(type="integer", min=0, max=None, step=1)
ITEMS = (
    Item("ADM_N", _("Number of psychiatric inpatient admissions starting in window"), **COUNT),
    Item("ADM_DAYS", _("Inpatient bed days within window"), unit="days", **COUNT),
    Item("ER_N", _("Number of psychiatric emergency room contacts in window"), **COUNT),
    Item("OPC_N", _("Number of psychiatric outpatient contacts in window"), **COUNT),
)
# CSV column of the register file for each item (assessments.register).
CSV_COLUMNS = {
    "ADM_N": "admissions",
    "ADM_DAYS": "admission_days",
    "ER_N": "emergency_visits",
    "OPC_N": "outpatient_contacts",
}


def _count(code: str, label: object, higher_is: str) -> Score:
    return Score(
        code,
        label,  # type: ignore[arg-type]
        (code,),
        "sum",
        0,
        None,
        higher_is,
        _(
            "Sum over the imported register periods that lie inside the window; no record "
            "means 0; missing when the participant is not linked in the current import or a "
            "period crosses the window's boundary."
        ),
        entered(code),
    )


INSTRUMENT = Instrument(
    code="SERVICE_USE",
    name=_(
        "Psychiatric service utilisation from the Danish Psychiatric Central Research Register "
        "(linked via CPR number)"
    ),
    short_name=_("Service use"),
    mode=Mode.REGISTER,
    rater=Role.DATA_MANAGER,
    entered_by=(Role.DATA_MANAGER,),
    rater_description=_("Register extraction imported by the data manager."),
    timepoints=(),
    windows=WINDOWS,
    form_entry=False,
    items=ITEMS,
    scores=(
        _count("ADM_N", _("Admissions"), "worse"),
        _count("ADM_DAYS", _("Length of admissions (days)"), "worse"),
        _count("ER_N", _("Emergency room visits"), "worse"),
        _count("OPC_N", _("Outpatient contacts"), "n/a"),
    ),
    missing_rule=_(
        "Absence of records means 0, not missing. Missing only if linkage failed (the "
        "participant is not in the import) or a register period crosses a window boundary."
    ),
    notes=(
        _(
            "Counting conventions [proposed] are applied by the register extraction: transfers "
            "merged into one admission; bed days = discharge − admission date, same-day stay 1, "
            "truncated to the period; ER contacts counted whether or not an admission followed; "
            "outpatient contacts as distinct contact dates."
        ),
    ),
)
