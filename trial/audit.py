"""The audit trail. Row changes are captured by django-pghistory triggers in PostgreSQL; this
module supplies who/why/where for them. (The trigger that makes trial tables respect the
freeze and the lock is trial.lock.refuse_when_locked.)"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pghistory
from django.db import connection, models
from django.utils.translation import gettext as _
from pghistory import runtime
from pghistory.middleware import HistoryMiddleware
from pghistory.middleware import WSGIRequest as HistoryWSGIRequest

from trial.errors import Invalid
from trial.inputs import NUL_MESSAGE


def event_model(model: type[models.Model]) -> Any:
    """The event model pghistory generated for a tracked model. pghistory adds it to the class
    at run time (`Model.pgh_event_model`), so it has no static type: its fields are the
    tracked model's plus pgh_id, pgh_created_at, pgh_label, pgh_obj and pgh_context."""
    return getattr(model, "pgh_event_model")  # noqa: B009 (an attribute made at run time)


def events_of(obj: models.Model) -> models.QuerySet[Any]:
    """The audit events of one tracked row (what pghistory also offers as `obj.events`)."""
    return event_model(type(obj)).objects.filter(pgh_obj=obj)


@contextmanager
def audit_context(*, user: Any = None, reason: str | None = None, **extra: Any) -> Iterator[None]:
    """Attach the acting user, the reason for change and any other facts to every audit
    event written inside the block. Keys set here are restored when the block ends, so a
    reason given for one change does not stick to later changes in the same request."""
    meta: dict[str, Any] = dict(extra)
    if reason and "\x00" in reason:
        # PostgreSQL cannot store the context with it: refuse the change as bad input rather
        # than fail inside the trigger.
        raise Invalid(
            _("The reason has a NUL character."),
            fields={"reason": [NUL_MESSAGE]},
        )
    if user is not None and getattr(user, "pk", None) is not None:
        meta["user"] = user.pk
        meta["username"] = user.get_username()
    if reason:
        meta["reason"] = reason
    outer = getattr(runtime._tracker, "value", None)
    saved = {key: outer.metadata[key] for key in meta if key in outer.metadata} if outer else {}
    completed = False
    try:
        with pghistory.context(**meta):
            yield
        completed = True
    finally:
        if outer is not None:
            for key in meta:
                outer.metadata.pop(key, None)
            outer.metadata.update(saved)
        elif completed:
            _forget_database_context()


def _forget_database_context() -> None:
    """pghistory hands the context to PostgreSQL as transaction-local settings. When the
    outermost context ends inside a transaction that goes on, clear them: a later change in
    the same transaction made without a context must not be attributed to this one. (Not
    after an error: the transaction is then being rolled back and refuses statements.)"""
    if connection.in_atomic_block and not connection.needs_rollback:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('pghistory.context_id', '', true), "
                "set_config('pghistory.context_metadata', '', true)"
            )


@contextmanager
def task_context(task_name: str, task_id: str | None, **extra: Any) -> Iterator[None]:
    """Context for work done outside a request: Celery tasks and management commands."""
    outer = getattr(runtime._tracker, "value", None)
    with pghistory.context(task=task_name, task_id=task_id or str(uuid.uuid4()), **extra):
        yield
    if outer is None:
        _forget_database_context()


class _AuditedWSGIRequest(HistoryWSGIRequest):
    """pghistory's request class puts the user's id in the context when DRF authenticates a
    token client inside the view; this adds the username, as the middleware does for
    session users."""

    def __setattr__(self, attr: str, value: Any) -> None:
        super().__setattr__(attr, value)
        if attr == "user" and getattr(value, "is_authenticated", False):
            pghistory.context(username=value.get_username())


class AuditContextMiddleware(HistoryMiddleware):
    """Every request, reads included (an audited download writes a row), gets a context with
    the user, the URL, the method and a request id that also goes back in a response header."""

    def get_context(self, request: Any) -> dict[str, Any]:
        context = super().get_context(request)
        request.audit_request_id = str(uuid.uuid4())
        context.update(
            request_id=request.audit_request_id,
            method=request.method,
            ip=request.META.get("REMOTE_ADDR"),
        )
        user = getattr(request, "user", None)
        if user is not None and getattr(user, "is_authenticated", False):
            context["username"] = user.get_username()
        return context

    def __call__(self, request: Any) -> Any:
        with pghistory.context(**self.get_context(request)):
            from django.core.handlers.wsgi import WSGIRequest as DjangoWSGIRequest

            if isinstance(request, DjangoWSGIRequest):
                request.__class__ = _AuditedWSGIRequest
            response = self.get_response(request)
        response["X-Request-ID"] = request.audit_request_id
        return response
