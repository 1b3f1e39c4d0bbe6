"""Errors that services raise and that pages and the API turn into the statuses of API.md."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import DatabaseError
from django.utils.functional import Promise

# SQLSTATEs raised by the trial's own PostgreSQL triggers.
LOCKED_SQLSTATE = "IMR01"  # the database is frozen or locked (trial.lock)
IMMUTABLE_SQLSTATE = "IMR02"  # a row that may never change (e.g. an allocation)


class TrialError(Exception):
    status = 400

    def __init__(
        self, message: str | Promise, *, fields: Mapping[str, Sequence[str | Promise]] | None = None
    ) -> None:
        # Messages are often lazy translations: they become text here, in the language of the
        # request that raised them.
        text = str(message)
        super().__init__(text)
        self.message = text
        self.fields = {key: _texts(value) for key, value in fields.items()} if fields else None

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
        return Conflict(text)
    if state == IMMUTABLE_SQLSTATE:
        return Conflict(text)
    return None


def _texts(value: Any) -> Any:
    """A field's messages with lazy translations made text (other shapes are left alone)."""
    if isinstance(value, Promise):
        return str(value)
    if isinstance(value, list | tuple):
        return [_texts(item) for item in value]
    return value
