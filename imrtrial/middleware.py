"""Page-side counterpart of imrtrial.api.exception_handler."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from imrtrial.errors import TrialError, from_database_error


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
