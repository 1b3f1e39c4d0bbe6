"""Errors that services raise and that pages and the API turn into the statuses of API.md."""

from __future__ import annotations

from typing import Any

from django.db import DatabaseError
from django.utils.translation import gettext as _

# SQLSTATEs raised by the trial's own PostgreSQL triggers.
LOCKED_SQLSTATE = "IMR01"  # the database is frozen or locked (trial.lock)
IMMUTABLE_SQLSTATE = "IMR02"  # a row that may never change (e.g. an allocation)


class TrialError(Exception):
    status = 400

    def __init__(self, message: str, *, fields: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields

    def as_response_data(self) -> dict[str, Any]:
        if self.fields:
            return dict(self.fields)
        return {"detail": self.message}


class Invalid(TrialError):
    """Bad input: nothing was written (400)."""

    status = 400


class Forbidden(TrialError):
    """The role or site does not allow this (403)."""

    status = 403


class NotFound(TrialError):
    """Unknown, or outside the caller's sites (404)."""

    status = 404


class Conflict(TrialError):
    """Already done, stale version, or locked (409)."""

    status = 409


class Unavailable(TrialError):
    """A resource the action needs is not there, e.g. an exhausted allocation list (503)."""

    status = 503


def sqlstate_of(exc: BaseException) -> str | None:
    cause = exc.__cause__ or exc.__context__
    for candidate in (exc, cause):
        code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if code:
            return str(code)
    return None


def from_database_error(exc: DatabaseError) -> TrialError | None:
    """The trial error behind a refusal by one of our triggers, if it was one."""
    state = sqlstate_of(exc)
    cause = exc.__cause__ or exc
    text = str(getattr(getattr(cause, "diag", None), "message_primary", None) or cause)
    if state == LOCKED_SQLSTATE:
        # The trigger's own text names the table (for the server log); people get plain words.
        if "locked" in text:
            return Conflict(_("The trial database is locked: nothing can be changed."))
        return Conflict(
            _(
                "The trial database is frozen: no data entry or changes until it is opened "
                "again (queries can still be answered)."
            )
        )
    if state == IMMUTABLE_SQLSTATE:
        return Conflict(text)
    return None
