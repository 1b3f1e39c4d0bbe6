"""Errors that services raise and that pages and the API turn into the statuses of API.md."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

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


# How long a client should wait before trying again after a 503 for an outage (seconds).
RETRY_AFTER_SECONDS = 30
DATABASE_DOWN = _(
    "The database cannot be reached at the moment. Nothing was saved; try again in a minute."
)
# SQLSTATE classes and codes that mean "the server is not there (now)": connection failures
# (08...), too many connections and other lack of resources (53...), and a server shutting
# down or starting (57P01-57P03).
_OUTAGE_CLASSES = ("08", "53")
_OUTAGE_CODES = frozenset({"57P01", "57P02", "57P03"})
# Concurrency refusals that a retry may resolve: 409, never 500.
_RETRYABLE_CODES = frozenset({"40001", "40P01", "55P03"})


def is_database_outage(exc: BaseException) -> bool:
    """True when `exc` means PostgreSQL is unreachable or unable to serve (503), not that it
    refused the statement."""
    if type(exc).__name__ == "PoolTimeout":  # psycopg_pool: every pooled connection is busy
        return True
    if not isinstance(exc, DatabaseError) and not _is_psycopg_error(exc):
        return False
    state = sqlstate_of(exc)
    if state is None:
        # No answer from a server at all (refused, reset, closed): psycopg gives no SQLSTATE.
        return isinstance(exc, OperationalError | InterfaceError) or _is_psycopg_connection(exc)
    return state[:2] in _OUTAGE_CLASSES or state in _OUTAGE_CODES


def _is_psycopg_error(exc: BaseException) -> bool:
    return type(exc).__module__.startswith(("psycopg", "psycopg_pool"))


def _is_psycopg_connection(exc: BaseException) -> bool:
    return type(exc).__name__ in ("OperationalError", "InterfaceError") and _is_psycopg_error(exc)


def sqlstate_of(exc: BaseException) -> str | None:
    cause = exc.__cause__ or exc.__context__
    for candidate in (exc, cause):
        code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if code:
            return str(code)
    return None


def from_database_error(exc: BaseException) -> TrialError | None:
    """The trial error behind a database error: a refusal by one of our triggers or a
    constraint (409), or an outage (503); None for anything else (a bug: 500)."""
    state = sqlstate_of(exc)
    cause = exc.__cause__ or exc
    text = str(getattr(getattr(cause, "diag", None), "message_primary", None) or cause)
    if state == LOCKED_SQLSTATE:
        # The trigger's own text names the table (for the server log); people get plain words.
        if "locked" in text:
            return Conflict(str(_("The trial database is locked: nothing can be changed.")))
        return Conflict(
            str(
                _(
                    "The trial database is frozen: no data entry or changes until it is opened "
                    "again (queries can still be answered)."
                )
            )
        )
    if state == IMMUTABLE_SQLSTATE:
        return Conflict(text)
    if is_database_outage(exc):
        return Unavailable(str(DATABASE_DOWN))
    if state in _RETRYABLE_CODES:
        return Conflict(
            str(_("Someone else was changing the same data; nothing was saved. Try again."))
        )
    if isinstance(exc, IntegrityError):
        # A uniqueness or reference rule of the database that a service did not check first
        # (usually a race with another request): a conflict, not a server error.
        return Conflict(
            str(
                _(
                    "This conflicts with data saved in the meantime; nothing was saved. "
                    "Reload and try again."
                )
            )
        )
    return None


def _texts(value: Any) -> Any:
    """A field's messages with lazy translations made text (other shapes are left alone)."""
    if isinstance(value, Promise):
        return str(value)
    if isinstance(value, list | tuple):
        return [_texts(item) for item in value]
    return value
