"""Page-side counterpart of trial.api.exception_handler."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from trial.errors import TrialError, from_database_error


class TrialErrorMiddleware:
    """A page that runs into a trial error it did not handle itself (most often a write refused
    because the database is frozen or locked) shows the reason with the right status instead
    of a server error."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> Any:
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
