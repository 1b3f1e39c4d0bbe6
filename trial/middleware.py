"""Page-side counterpart of trial.api.exception_handler."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from trial.errors import (
    DATABASE_DOWN,
    RETRY_AFTER_SECONDS,
    TrialError,
    from_database_error,
    is_database_outage,
)

# Set on a request whose handling ran into a database outage (note_database_outage).
OUTAGE_NOTED = "_trial_database_outage"


def unavailable_response(
    request: HttpRequest, message: str | Promise = DATABASE_DOWN
) -> HttpResponse:
    """503 with Retry-After: JSON for the API, a plain page otherwise. Rendered without the
    request, so no context processor asks the unreachable database for the menu or the user."""
    response: HttpResponse
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": message}, status=503)
    else:
        page = render_to_string("unavailable.html", {"message": message})
        response = HttpResponse(page, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


def note_database_outage(sender: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
    """`got_request_exception` receiver (trial.apps): Django turns an exception raised in a
    middleware (the session, the user, the second factor) into a 500 or the debug page at
    that middleware's own layer, so the outermost layer never sees it; this notes on the
    request that it was an outage, and DatabaseOutageMiddleware answers 503 instead."""
    exc = sys.exc_info()[1]
    if request is not None and exc is not None and is_database_outage(exc):
        setattr(request, OUTAGE_NOTED, True)


class DatabaseOutageMiddleware:
    """Outermost: PostgreSQL unavailable (refused, restarting, out of connections) answers
    503 with Retry-After and the API's JSON error shape or a friendly page, never a 500 or
    Django's debug page. Nothing is half-written: every write runs in one transaction, which
    PostgreSQL rolls back when the connection is lost."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if getattr(request, OUTAGE_NOTED, False) and response.status_code >= 500:
            return unavailable_response(request)
        return response


class TrialErrorMiddleware:
    """A page that runs into a trial error it did not handle itself (most often a write refused
    because the database is frozen or locked) shows the reason with the right status instead
    of a server error."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> Any:
        if is_database_outage(exception):
            return unavailable_response(request)
        error: TrialError | None = None
        if isinstance(exception, TrialError):
            error = exception
        elif isinstance(exception, DatabaseError):
            error = from_database_error(exception)
        if error is None:
            return None
        return render(request, "error.html", {"message": error.message}, status=error.status)


NUL_IN_ADDRESS = _("The address contains a NUL character (%00), which no field can hold.")


class RefuseNulInQueryMiddleware:
    """A query string with a NUL character (?site=%00) is refused as bad input (400) before any
    view sees it: PostgreSQL cannot compare text with one, so every filter would fail with a
    server error instead."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if any(
            "\x00" in key or any("\x00" in v for v in values) for key, values in request.GET.lists()
        ):
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": NUL_IN_ADDRESS}, status=400)
            return render(request, "error.html", {"message": NUL_IN_ADDRESS}, status=400)
        return self.get_response(request)
