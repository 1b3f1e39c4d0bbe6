"""Writing the randomisation audit log (models.RandomizationLogEntry)."""

from __future__ import annotations

import getpass
from typing import Any

from pghistory import runtime

from randomization.models import RandomizationLogEntry

Kind = RandomizationLogEntry.Kind


def _context() -> dict[str, Any]:
    tracked = getattr(runtime._tracker, "value", None)
    return dict(tracked.metadata) if tracked is not None else {}


def actor_and_context(user: Any, channel: str) -> tuple[Any, str, str]:
    """Who acted (a user or None), the name to record and the request or task id. The id comes
    from the audit context the middleware (or a task) set, so a log row can be matched with the
    row-level audit events."""
    context = _context()
    actor = user if user is not None and getattr(user, "pk", None) is not None else None
    if actor is not None:
        username = actor.get_username()
    elif channel == "cli":
        # A management command without --by: the operating-system account ran it.
        username = f"os:{getpass.getuser()}"
    else:
        username = str(context.get("username", ""))
    request_id = str(context.get("request_id") or context.get("task_id") or "")[:64]
    return actor, username[:150], request_id


def log_event(
    kind: str,
    *,
    user: Any = None,
    channel: str = "web",
    site: Any = None,
    participant: Any = None,
    allocation_list: Any = None,
    message: str = "",
    detail: dict[str, Any] | None = None,
) -> RandomizationLogEntry:
    """One append-only log row."""
    actor, username, request_id = actor_and_context(user, channel)
    return RandomizationLogEntry.objects.create(
        kind=kind,
        user=actor,
        username=username,
        channel=channel,
        site=site,
        participant=participant,
        allocation_list=allocation_list,
        message=message,
        detail=detail or {},
        request_id=request_id,
    )
