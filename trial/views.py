from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views import defaults

from trial import access


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "home.html",
        {
            "roles": access.role_labels(access.roles_of(request.user)),
        },
    )


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
