"""Data queries: raised by data managers or by edit checks, answered by site staff, closed or
re-opened by data managers. Every step is a QueryMessage and an audit event. The query tables
stay writable while the database is frozen (refuse_when_locked(during_freeze=False)), so the
data-cleaning loop can finish before lock; after lock they are read-only."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from assessments import permissions
from assessments.models import (
    UNRESOLVED_QUERY_STATUSES,
    InstrumentResponse,
    Query,
    QueryAction,
    QueryKind,
    QueryMessage,
    QueryStatus,
)
from instruments import registry
from instruments.base import Finding
from trial import access
from trial.access import Viewer
from trial.audit import audit_context
from trial.errors import Conflict, Forbidden, Invalid, NotFound
from trial.inputs import NUL_MESSAGE
from trial.selectors import lock_level

MESSAGE_MAX_LENGTH = 4000
# Fields of a response a query can point at besides its items.
FORM_FIELDS = ("", "interview_date", "status")


def _require_not_locked() -> None:
    if lock_level() == "lock":
        raise Conflict(_("The trial database is locked: queries are read-only."))


def _text(value: Any, *, field: str, required: bool) -> str:
    text = (value or "").strip() if isinstance(value, str | type(None)) else None
    if text is None or len(text) > MESSAGE_MAX_LENGTH:
        raise Invalid(
            _("Bad text."),
            fields={
                field: [
                    _("Text of at most {MESSAGE_MAX_LENGTH} characters.").format(
                        MESSAGE_MAX_LENGTH=MESSAGE_MAX_LENGTH,
                    )
                ]
            },
        )
    if "\x00" in text:
        raise Invalid(_("Bad text."), fields={field: [NUL_MESSAGE]})
    if required and not text:
        raise Invalid(_("Text is required."), fields={field: [_("Write the message.")]})
    return text


def _role_at(user: Viewer, site_id: int, roles: tuple[str, ...]) -> str:
    for role in roles:
        if access.has_role_at(user, site_id, role):
            return str(role)
    return ""


def sync_automatic_queries(
    *, response: InstrumentResponse, findings: list[Finding], user: Viewer
) -> list[Finding]:
    """Called in the transaction that saves a response. Opens a query for each edit check
    that fires and has no unresolved query yet, and closes the automatic queries whose check
    passes now. A check that a data manager already closed with the same message is not
    raised again (the finding was accepted)."""
    unresolved = {
        (q.edit_check, q.item): q
        for q in response.queries.filter(
            kind=QueryKind.AUTOMATIC, status__in=UNRESOLVED_QUERY_STATUSES
        )
    }
    fired = {(f.check, f.item): f for f in findings}
    opened: list[Finding] = []
    now = timezone.now()
    accepted: set[tuple[str, str, str]] = set()
    if any(key not in unresolved for key in fired):
        accepted = set(
            response.queries.filter(
                kind=QueryKind.AUTOMATIC, status=QueryStatus.CLOSED
            ).values_list("edit_check", "item", "message")
        )
    for key, finding in fired.items():
        if key in unresolved or (finding.check, finding.item, finding.message) in accepted:
            continue
        query = Query.objects.create(
            response=response,
            item=finding.item,
            kind=QueryKind.AUTOMATIC,
            edit_check=finding.check,
            message=finding.message,
            raised_at=now,
        )
        QueryMessage.objects.create(
            query=query, action=QueryAction.RAISED, text=finding.message, at=now
        )
        opened.append(finding)
    for key, query in unresolved.items():
        if key in fired:
            continue
        query.status = QueryStatus.CLOSED
        query.closed_at = now
        query.save(update_fields=["status", "closed_at"])
        QueryMessage.objects.create(
            query=query,
            action=QueryAction.AUTO_CLOSED,
            text=f"The edit check passes after version {response.version} "
            f"(saved by {user.get_username()}).",
            at=now,
        )
    return opened


def query_raise(*, user: Viewer, response: InstrumentResponse, item: str, message: str) -> Query:
    """A data manager's query on one field of a response."""
    if not permissions.may_manage_queries(user):
        raise Forbidden(_("Data managers raise queries."))
    instrument = registry.get(response.instrument)
    item = (item or "").strip()
    errors: dict[str, list[str]] = {}
    if item not in FORM_FIELDS and not instrument.has_item(item):
        errors["item"] = [
            _(
                "{item!r} is not a field of {code}: use an item code, 'interview_date' "
                "or leave it empty for the whole form."
            ).format(
                item=item,
                code=instrument.code,
            )
        ]
    try:
        text = _text(message, field="message", required=True)
    except Invalid as exc:
        errors.update(exc.fields or {})
        text = ""
    if errors:
        raise Invalid(_("The query has errors."), fields=errors)
    _require_not_locked()
    with transaction.atomic(), audit_context(user=user, reason="Query raised"):
        now = timezone.now()
        query = Query.objects.create(
            response=response,
            item=item,
            kind=QueryKind.MANUAL,
            message=text,
            raised_by=access.signed_in(user),
            raised_at=now,
        )
        QueryMessage.objects.create(
            query=query,
            action=QueryAction.RAISED,
            text=text,
            author=access.signed_in(user),
            author_role=_role_at(user, response.participant.site_id, permissions.QUERY_MANAGERS),
            at=now,
        )
    return query


def _locked_query(query: Query) -> Query:
    return (
        Query.objects.select_for_update().select_related("response__participant").get(pk=query.pk)
    )


def query_answer(*, user: Viewer, query: Query, text: str) -> Query:
    """Site staff answer an open query (or add to their answer)."""
    response = query.response
    instrument = registry.get(response.instrument)
    site_id = response.participant.site_id
    if not permissions.may_answer_query(user, site_id, instrument):
        raise Forbidden(
            _("Site staff (coordinator, assessor, clinician) of the site answer queries.")
        )
    body = _text(text, field="text", required=True)
    _require_not_locked()
    with transaction.atomic(), audit_context(user=user, reason="Query answered"):
        locked = _locked_query(query)
        if locked.status == QueryStatus.CLOSED:
            raise Conflict(_("The query is closed; a data manager can re-open it."))
        now = timezone.now()
        locked.status = QueryStatus.ANSWERED
        locked.answered_at = now
        locked.save(update_fields=["status", "answered_at"])
        QueryMessage.objects.create(
            query=locked,
            action=QueryAction.ANSWERED,
            text=body,
            author=access.signed_in(user),
            author_role=_role_at(user, site_id, permissions.QUERY_ANSWERERS),
            at=now,
        )
    return locked


def query_close(*, user: Viewer, query: Query, text: str = "") -> Query:
    if not permissions.may_manage_queries(user):
        raise Forbidden(_("Data managers close queries."))
    body = _text(text, field="text", required=False)
    _require_not_locked()
    with transaction.atomic(), audit_context(user=user, reason=body or "Query closed"):
        locked = _locked_query(query)
        if locked.status == QueryStatus.CLOSED:
            raise Conflict(_("The query is already closed."))
        now = timezone.now()
        locked.status = QueryStatus.CLOSED
        locked.closed_by = access.signed_in(user)
        locked.closed_at = now
        locked.save(update_fields=["status", "closed_by", "closed_at"])
        QueryMessage.objects.create(
            query=locked,
            action=QueryAction.CLOSED,
            text=body,
            author=access.signed_in(user),
            author_role=str(permissions.QUERY_MANAGERS[0]),
            at=now,
        )
    return locked


def query_reopen(*, user: Viewer, query: Query, text: str) -> Query:
    """A data manager re-opens a closed or answered query, saying what is still needed."""
    if not permissions.may_manage_queries(user):
        raise Forbidden(_("Data managers re-open queries."))
    body = _text(text, field="text", required=True)
    _require_not_locked()
    with transaction.atomic(), audit_context(user=user, reason=body):
        locked = _locked_query(query)
        if locked.status == QueryStatus.OPEN:
            raise Conflict(_("The query is open already."))
        now = timezone.now()
        locked.status = QueryStatus.OPEN
        locked.closed_by = None
        locked.closed_at = None
        locked.save(update_fields=["status", "closed_by", "closed_at"])
        QueryMessage.objects.create(
            query=locked,
            action=QueryAction.REOPENED,
            text=body,
            author=access.signed_in(user),
            author_role=str(permissions.QUERY_MANAGERS[0]),
            at=now,
        )
    return locked


def response_for_query(*, participant: Any, timepoint: str, code: str) -> InstrumentResponse:
    response = (
        InstrumentResponse.objects.filter(
            participant=participant, timepoint=timepoint, instrument=code
        )
        .select_related("participant")
        .first()
    )
    if response is None:
        raise NotFound(_("There is no saved form to query."))
    return response
