"""Page-side counterpart of imrtrial.api.exception_handler."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from imrtrial.errors import TrialError, from_database_error

NUL_IN_ADDRESS = "The address has a NUL character (%00) in its query, which nothing can read."


class TrialErrorMiddleware:
    """A page that runs into a trial error it did not handle itself (most often a write refused
    because the database is frozen or locked) shows the reason with the right status instead
    of a server error. An address whose query holds a NUL character is refused before any view
    reads it: PostgreSQL refuses text with one, in a search as in a filter."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, *args: Any) -> HttpResponse | None:
        if not any(
            "\x00" in key or any("\x00" in value for value in values)
            for key, values in request.GET.lists()
        ):
            return None
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": NUL_IN_ADDRESS}, status=400)
        return render(request, "error.html", {"message": NUL_IN_ADDRESS}, status=400)

    def process_exception(self, request: HttpRequest, exception: Exception) -> Any:
        error: TrialError | None = None
        if isinstance(exception, TrialError):
            error = exception
        elif isinstance(exception, DatabaseError):
            error = from_database_error(exception)
        if error is None:
            return None
        return render(request, "error.html", {"message": error.message}, status=error.status)
