from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from trial import health
from trial.errors import RETRY_AFTER_SECONDS

# API.md: every error of the API is JSON, `{"detail": "..."}`, also for an address no endpoint
# answers (a mistyped path, an id that is not a number); pages keep Django's pages.


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": _("Not found.")}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"detail": _("Server error: the request could not be completed.")}, status=500
        )
    return defaults.server_error(request)


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """For load balancers and docker-compose's health checks, no login: 200
    `{"database": "ok", "redis": "ok", "worker": "ok"}`, or 503 naming what is down."""
    states = health.report()
    healthy = all(state == health.OK for state in states.values())
    response = JsonResponse(states, status=200 if healthy else 503)
    if not healthy:
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
