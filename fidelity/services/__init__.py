"""Writes for IMR delivery. Every function checks blinding, role and site, validates everything
before writing, runs in one transaction inside audit_context(user=..., reason=...), and lets the
database's lock trigger refuse changes after freeze/lock (409)."""

from fidelity.services.groups import (
    group_create,
    group_update,
    membership_add,
    membership_remove,
)
from fidelity.services.ratings import rating_correct, rating_submit
from fidelity.services.sessions import (
    attendance_record,
    schedule_generate,
    session_add,
    session_cancel,
    session_update,
)

__all__ = [
    "attendance_record",
    "group_create",
    "group_update",
    "membership_add",
    "membership_remove",
    "rating_correct",
    "rating_submit",
    "schedule_generate",
    "session_add",
    "session_cancel",
    "session_update",
]
