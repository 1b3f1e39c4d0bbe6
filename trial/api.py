"""Shared pieces of the HTTP API: error shapes (API.md) and role-checking permissions."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError
from django.utils.translation import gettext as _
from rest_framework import exceptions, permissions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from trial import access
from trial.errors import RETRY_AFTER_SECONDS, TrialError, from_database_error, is_database_outage


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Trial errors and refusals by the database's own triggers become API.md statuses:
    400 with field messages, 403, 404, 409 (conflict, stale, locked), 503."""
    if isinstance(exc, DatabaseError) or is_database_outage(exc):
        translated = from_database_error(exc)
        if translated is None:
            return None
        exc = translated
    if isinstance(exc, TrialError):
        refusal = Response(error_body(exc.as_response_data()), status=exc.status)
        if exc.status == status.HTTP_503_SERVICE_UNAVAILABLE:
            refusal["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return refusal
    if isinstance(exc, RequestDataTooBig):
        # Django refuses a body over DATA_UPLOAD_MAX_MEMORY_SIZE when DRF reads it; answer in
        # the API's shape rather than with Django's HTML error page.
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return Response(
            {
                "detail": _("The request body is too large (at most {size} KB).").format(
                    size=limit // 1024
                )
            },
            status=status.HTTP_400_BAD_REQUEST,
        )
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, exceptions.ValidationError):
        response.data = error_body(response.data)
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


def error_body(data: Any) -> Any:
    """API.md's error shapes: `{"detail": "..."}` or `{"field": ["message", ...]}`. DRF nests
    the errors of list and dict fields (`{"formats": {"1": ["..."]}}`); those become the
    field's own list of messages, each named after the key it is about unless that is a
    position in a list."""
    if not isinstance(data, dict):
        return {"non_field_errors": _messages(data)}
    return {
        str(field): value if field == "detail" and isinstance(value, str) else _messages(value)
        for field, value in data.items()
    }


def _messages(value: Any, key: str = "") -> list[str]:
    prefix = f"{key}: " if key and not key.isdigit() else ""
    if isinstance(value, dict):
        found = []
        for inner_key, inner in value.items():
            for message in _messages(inner, str(inner_key)):
                found.append(prefix + message)
        return found
    if isinstance(value, list | tuple):
        return [message for inner in value for message in _messages(inner, key)]
    return [f"{prefix}{value}"]


def role_permission(*roles: str) -> type[permissions.BasePermission]:
    """A DRF permission: the caller holds at least one of `roles` (at any site). Site checks
    happen in the selectors and services, which know the object."""

    class HasRole(permissions.BasePermission):
        message = _("Your role does not allow this.")

        def has_permission(self, request: Any, view: Any) -> bool:
            return bool(request.user and request.user.is_authenticated) and access.has_role(
                request.user, *roles
            )

    HasRole.__name__ = "HasRole_" + "_".join(roles)
    return HasRole
