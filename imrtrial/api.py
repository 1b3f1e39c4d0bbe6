"""Shared pieces of the HTTP API: error shapes (API.md) and role-checking permissions."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError
from rest_framework import exceptions, permissions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from imrtrial import access
from imrtrial.errors import TrialError, from_database_error


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Trial errors and refusals by the database's own triggers become API.md statuses:
    400 with field messages, 403, 404, 409 (conflict, stale, locked), 503."""
    if isinstance(exc, DatabaseError):
        translated = from_database_error(exc)
        if translated is None:
            return None
        exc = translated
    if isinstance(exc, TrialError):
        return Response(exc.as_response_data(), status=exc.status)
    if isinstance(exc, RequestDataTooBig):
        # Django refuses a body over DATA_UPLOAD_MAX_MEMORY_SIZE when DRF reads it; answer in
        # the API's shape rather than with Django's HTML error page.
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return Response(
            {"detail": f"The request body is too large (at most {limit // 1024} KB)."},
            status=status.HTTP_400_BAD_REQUEST,
        )
    response = drf_exception_handler(exc, context)
    if (
        response is not None
        and response.status_code == status.HTTP_403_FORBIDDEN
        and isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed)
    ):
        request = context.get("request")
        if request is not None and not request.user.is_authenticated:
            # Token clients that sent no credentials: API.md says 401.
            response.status_code = status.HTTP_401_UNAUTHORIZED
    return response


def role_permission(*roles: str) -> type[permissions.BasePermission]:
    """A DRF permission: the caller holds at least one of `roles` (at any site). Site checks
    happen in the selectors and services, which know the object."""

    class HasRole(permissions.BasePermission):
        message = "Your role does not allow this."

        def has_permission(self, request: Any, view: Any) -> bool:
            return bool(request.user and request.user.is_authenticated) and access.has_role(
                request.user, *roles
            )

    HasRole.__name__ = "HasRole_" + "_".join(roles)
    return HasRole
