"""Pages of IMR delivery (mounted under /imr/): groups, sessions and attendance, exposure,
fidelity ratings. Each one is wrapped in `unblinded_page`."""

from fidelity.views.groups import (
    group_create,
    group_detail,
    group_edit,
    group_list,
    member_add,
    member_remove,
)
from fidelity.views.ratings import rating_form, rating_overview
from fidelity.views.sessions import (
    exposure_overview,
    schedule_generate,
    session_add,
    session_attendance,
    session_cancel,
    session_edit,
)

__all__ = [
    "exposure_overview",
    "group_create",
    "group_detail",
    "group_edit",
    "group_list",
    "member_add",
    "member_remove",
    "rating_form",
    "rating_overview",
    "schedule_generate",
    "session_add",
    "session_attendance",
    "session_cancel",
    "session_edit",
]
