from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

# API.md: every error of the API is JSON, `{"detail": "..."}`, also for an address no endpoint
# answers (a mistyped path, an id that is not a number); pages keep Django's pages.


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"detail": "Server error: the request could not be completed."}, status=500
        )
    return defaults.server_error(request)
