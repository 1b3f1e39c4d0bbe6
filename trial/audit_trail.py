"""The audit trail, readable by a person: who, when (UTC and Copenhagen time), which record,
which field, old value, new value, and why, rebuilt from the pghistory event tables by
comparing each event of an object with the one before it.

The contract with the apps: each app registers, in its `AppConfig.ready()`, a function

    def participant_audit_sources() -> list[AuditSource]

(`audit_trail.participant_source_declarations.register(...)`) naming the event models whose
rows belong on a participant's audit history, how to find a participant's rows, and whether
blinded viewers may see them. Only what an app declares is ever shown (default deny), and a
source marked `blinded_may_see=False` is shown only to users for whom
`access.may_see_allocation` is true. A source may narrow its rows further per viewer (`rows`:
e.g. the IMRS staff version's values are not shown to blinded viewers). See
docs/reference.md, "The audit history (contract)"."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.db import models
from django.db.models import Q
from django.utils import formats
from django.utils.functional import Promise
from django.utils.translation import gettext, gettext_noop

from trial import access
from trial.access import Viewer
from trial.registry import Registry

LOCAL_TIME = ZoneInfo("Europe/Copenhagen")
EMPTY = "—"
# Shown through the `translated` filter (trial_i18n) in the reader's language.
ENCRYPTED = gettext_noop("(encrypted)")
CHANGED_ENCRYPTED = gettext_noop("changed (encrypted)")
ACTION_WORDS = (
    gettext_noop("created"),
    gettext_noop("changed"),
    gettext_noop("deleted"),
    gettext_noop("first recorded"),
    gettext_noop("yes"),
    gettext_noop("no"),
)


@dataclass(frozen=True)
class AuditSource:
    """One pghistory event model on the audit history.

    event_model: the generated event model, e.g. `event_model(Participant)`.
    participant_field: a lookup on the event model that gives the participant's id, e.g.
        "pgh_obj_id" for the participant itself, "participant_id" for a model with a
        participant foreign key, "response__participant_id" one level further; or a function
        of the participant's id giving the Q of the rows (when no single lookup says it, e.g.
        a register import that has a line for the participant).
    record: what the rows are, in the trial's words ("Eligibility screening").
    blinded_may_see: False for anything that could reveal an arm (allocation, group
        membership, attendance, IMR-only forms...): those rows are shown only to users who
        may see allocation.
    encrypted_fields: shown as "(encrypted)" / "changed (encrypted)", never their value.
    hidden_fields: never shown at all (keyed hashes, internal counters).
    describe: a label for the object of one event row (e.g. its study ID); by default the
        record name and the object's id.
    field_labels: names for fields whose verbose name reads badly ("CPR number").
    rows: the viewer's further restriction: given the viewing user, the Q of the rows they may
        see, or None when they may see none of this source's rows. Applied after
        `blinded_may_see`. Two sources over one event model with complementary `rows` show
        the same records differently to different viewers (all values, or values hidden).
    reason_withheld: when set, shown instead of the reason (a reason written by someone who
        knows the arm, on a record blinded viewers may see only with its values hidden).
    related: foreign keys to fetch with the events (select_related) for `describe`.
    """

    event_model: type[models.Model]
    participant_field: str | Callable[[Any], Q]
    record: str | Promise
    blinded_may_see: bool
    encrypted_fields: frozenset[str] = frozenset()
    hidden_fields: frozenset[str] = frozenset()
    describe: Callable[[Any], str] | None = None
    field_labels: Mapping[str, str | Promise] = field(default_factory=dict)
    rows: Callable[[Any], Q | None] | None = None
    reason_withheld: str | Promise = ""
    related: tuple[str, ...] = ()

    def of_participant(self, participant_id: Any) -> Q:
        """The Q of this source's rows that belong to the participant."""
        if callable(self.participant_field):
            return self.participant_field(participant_id)
        return Q(**{self.participant_field: participant_id})

    def for_viewer(self, participant_id: Any, user: Viewer, *, unblinded: bool) -> Q | None:
        """The Q of the participant's rows `user` may see, or None for none."""
        if not (self.blinded_may_see or unblinded):
            return None
        condition = self.of_participant(participant_id)
        if self.rows is not None:
            narrowed = self.rows(user)
            if narrowed is None:
                return None
            condition &= narrowed
        return condition


@dataclass(frozen=True)
class Change:
    """`old`/`new` are the language-neutral text the API gives (ISO dates, UTC times, a point
    as decimal mark); `old_value`/`new_value` keep the typed value (a date, a time, a number)
    so that a page can show it in its reader's format (`old_shown`/`new_shown`)."""

    field: str
    old: str
    new: str
    # (dataclasses.field: the class's own `field` hides the plain name here)
    old_value: Any = dataclasses.field(default=None, compare=False)
    new_value: Any = dataclasses.field(default=None, compare=False)

    @property
    def old_shown(self) -> str:
        return shown_value(self.old, self.old_value)

    @property
    def new_shown(self) -> str:
        return shown_value(self.new, self.new_value)


@dataclass(frozen=True)
class AuditEntry:
    at: datetime  # UTC
    who: str
    record: str
    action: str  # created | changed | deleted | the event's own label
    changes: tuple[Change, ...]
    reason: str
    via: str  # the page or endpoint, or the task, that made the change
    order: tuple[Any, ...] = field(default=(), compare=False, repr=False)

    @property
    def at_local(self) -> datetime:
        return self.at.astimezone(LOCAL_TIME)

    # Formatted here, not in templates: the `date` filter would turn UTC into local time.
    # The *_text forms are the API's (ISO, with seconds); the *_shown forms are the pages',
    # in the reader's language format (Danish dd-mm-åååå HH:MM).
    @property
    def utc_text(self) -> str:
        return self.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")

    @property
    def local_text(self) -> str:
        return self.at_local.strftime("%Y-%m-%d %H:%M:%S %Z")

    @property
    def utc_shown(self) -> str:
        return shown_time(self.at.astimezone(UTC))

    @property
    def local_shown(self) -> str:
        return shown_time(self.at_local)


def shown_time(moment: datetime) -> str:
    """A moment in the active language's short format, in its own zone, zone named
    ("07-12-2026 16:05 CET" in Danish, "2026-12-07 16:05 CET" in English)."""
    return f"{formats.date_format(moment, 'SHORT_DATETIME_FORMAT')} {moment.tzname()}"


def shown_value(text: str, value: Any) -> str:
    """An old or new value for a page: a date, a time or a number in the reader's format;
    anything else as text, words the code keeps untranslated in the reader's language."""
    if isinstance(value, datetime):
        return shown_time(value.astimezone(LOCAL_TIME))
    if isinstance(value, date):
        return formats.date_format(value, "DATE_FORMAT")
    if isinstance(value, Decimal | float):
        return formats.number_format(value)
    return gettext(text) if text else text


# Each app's `participant_audit_sources`, registered in its AppConfig.ready().
participant_source_declarations: Registry[Callable[[], list[AuditSource]]] = Registry(
    "participant audit sources"
)


def participant_sources() -> list[AuditSource]:
    sources: list[AuditSource] = []
    for declare in participant_source_declarations:
        sources.extend(declare())
    return sources


def participant_trail(*, participant: Any, user: Viewer) -> list[AuditEntry]:
    """Every change to what belongs to `participant` that `user` may see, newest first.
    Deciding who may open the trail at all is the caller's job (participants.selectors)."""
    unblinded = access.may_see_allocation(user)
    chosen = []
    for source in participant_sources():
        condition = source.for_viewer(participant.pk, user, unblinded=unblinded)
        if condition is not None:
            chosen.append((source, condition))
    return trail(chosen)


def trail(sources: Sequence[tuple[AuditSource, Q]]) -> list[AuditEntry]:
    """The entries of the events that match each source's filter, newest first."""
    entries: list[AuditEntry] = []
    for index, (source, condition) in enumerate(sources):
        queryset = source.event_model._default_manager.filter(condition)
        if source.related:  # (select_related() without names would follow every key)
            queryset = queryset.select_related(*source.related)
        events = list(queryset.order_by("pgh_obj_id", "pgh_id"))
        entries.extend(_entries(source, events, index))
    entries.sort(key=lambda entry: entry.order, reverse=True)
    return entries


def _shown_fields(source: AuditSource) -> list[models.Field]:
    return [
        f
        for f in source.event_model._meta.concrete_fields
        if not f.name.startswith("pgh_") and f.name != "id" and f.name not in source.hidden_fields
    ]


def _entries(source: AuditSource, events: list[Any], index: int) -> Iterable[AuditEntry]:
    fields = _shown_fields(source)
    labels = _RelatedLabels(fields, events)
    users = _usernames(events)
    previous: dict[Any, Any] = {}
    for event in events:
        key = getattr(event, "pgh_obj_id", None)
        before = previous.get(key)
        changes, action = _compare(source, fields, labels, before, event)
        previous[key] = event
        if action == "changed" and not changes:
            continue  # only hidden fields changed
        context = event.pgh_context if isinstance(event.pgh_context, dict) else {}
        yield AuditEntry(
            at=event.pgh_created_at,
            who=_who(context, users),
            record=source.describe(event) if source.describe else f"{source.record} {key}",
            action=action,
            changes=tuple(changes),
            reason=str(source.reason_withheld or context.get("reason", "")),
            via=str(context.get("url") or context.get("task") or ""),
            order=(event.pgh_created_at, index, event.pgh_id),
        )


def _compare(
    source: AuditSource, fields: list[models.Field], labels: _RelatedLabels, before: Any, event: Any
) -> tuple[list[Change], str]:
    label = event.pgh_label
    if label == "delete":
        return [
            Change(
                _label(f, source),
                _value(source, f, labels, event),
                EMPTY,
                old_value=_typed(source, f, _raw(f, event)),
            )
            for f in fields
            if _raw(f, event) not in (None, "", [], {})
        ], "deleted"
    if before is None:
        # The first event seen for the object: normally its insert.
        changes: list[Change] = []
        for f in fields:
            raw = _raw(f, event)
            if raw in (None, "", [], {}):
                continue
            if isinstance(raw, dict):
                changes.extend(
                    Change(f"{_label(f, source)}: {k}", EMPTY, _text(v), new_value=_typed_item(v))
                    for k, v in raw.items()
                )
            else:
                changes.append(
                    Change(
                        _label(f, source),
                        EMPTY,
                        _value(source, f, labels, event),
                        new_value=_typed(source, f, raw),
                    )
                )
        # Anything else: tracking began after the object existed.
        return changes, "created" if label == "insert" else "first recorded"
    changes = []
    for f in fields:
        old_raw, new_raw = _raw(f, before), _raw(f, event)
        if old_raw == new_raw:
            continue
        if f.name in source.encrypted_fields:
            changes.append(Change(_label(f, source), EMPTY, CHANGED_ENCRYPTED))
        elif isinstance(old_raw, dict) and isinstance(new_raw, dict):
            for k in sorted(set(old_raw) | set(new_raw), key=str):
                if old_raw.get(k) != new_raw.get(k):
                    changes.append(
                        Change(
                            f"{_label(f, source)}: {k}",
                            _text(old_raw.get(k)),
                            _text(new_raw.get(k)),
                            old_value=_typed_item(old_raw.get(k)),
                            new_value=_typed_item(new_raw.get(k)),
                        )
                    )
        else:
            changes.append(
                Change(
                    _label(f, source),
                    _value(source, f, labels, before),
                    _value(source, f, labels, event),
                    old_value=_typed(source, f, old_raw),
                    new_value=_typed(source, f, new_raw),
                )
            )
    return changes, "changed" if label in ("update", "insert") else label


def _label(f: models.Field, source: AuditSource | None = None) -> str:
    # Shown in the reader's language: field names are in the catalogue (trial/field_names.py).
    if source is not None and f.name in source.field_labels:
        return gettext(str(source.field_labels[f.name]))
    text = str(f.verbose_name)
    return gettext(text[:1].upper() + text[1:])


def _raw(f: models.Field, event: Any) -> Any:
    return getattr(event, f.attname)


def _value(source: AuditSource, f: models.Field, labels: _RelatedLabels, event: Any) -> str:
    raw = _raw(f, event)
    if f.name in source.encrypted_fields:
        return ENCRYPTED
    if raw is None or raw == "":
        return EMPTY
    if f.is_relation:
        return labels.label(f, raw)
    if f.choices:
        return str(dict(f.flatchoices).get(raw, raw))
    return _text(raw)


def _typed(source: AuditSource, f: models.Field, raw: Any) -> Any:
    """The value a page formats for its reader (a date, a time, a number with decimals), or
    None when the text is shown as it is (a choice's label, a related name, an encrypted field,
    text, whole numbers)."""
    if f.name in source.encrypted_fields or f.is_relation or f.choices:
        return None
    if isinstance(raw, datetime | date | Decimal | float):
        return raw
    return None


def _typed_item(value: Any) -> Any:
    """The same for a value inside a JSON field (a form's item): numbers with decimals, and
    dates, which JSON keeps as ISO text."""
    if isinstance(value, float):
        return value
    if isinstance(value, str) and len(value) == 10 and value[4] == value[7] == "-":
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _text(value: Any) -> str:
    if value is None or value == "":
        return EMPTY
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return "; ".join(_text(v) for v in value) or EMPTY
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_text(v)}" for k, v in value.items()) or EMPTY
    return str(value)


class _RelatedLabels:
    """Names for foreign-key values (a username, a site's code), fetched once per model."""

    def __init__(self, fields: list[models.Field], events: list[Any]) -> None:
        self._names: dict[tuple[type[models.Model], Any], str] = {}
        user_model = get_user_model()
        for f in fields:
            if not f.is_relation or f.related_model is None:
                continue
            model = f.related_model
            ids = {_raw(f, e) for e in events} - {None}
            if not ids:
                continue
            if issubclass(model, user_model):
                found = model._default_manager.filter(pk__in=ids).values_list("pk", "username")
                self._names.update(((model, pk), name) for pk, name in found)
            else:
                for obj in model._default_manager.filter(pk__in=ids):
                    self._names[(model, obj.pk)] = str(obj)

    def label(self, f: models.Field, raw: Any) -> str:
        return self._names.get((f.related_model, raw), f"#{raw}")  # type: ignore[arg-type]


def _usernames(events: list[Any]) -> dict[Any, str]:
    ids: set[int] = {
        e.pgh_context["user"]
        for e in events
        if isinstance(e.pgh_context, dict) and e.pgh_context.get("user") is not None
    }
    if not ids:
        return {}
    return dict(get_user_model()._default_manager.filter(pk__in=ids).values_list("pk", "username"))


def _who(context: dict[str, Any], users: dict[Any, str]) -> str:
    if context.get("username"):
        return str(context["username"])
    if context.get("user") is not None and context["user"] in users:
        return users[context["user"]]
    if context.get("task"):
        if context.get("os_user"):
            return f"{context['os_user']} (command {context['task']})"
        return f"(system task {context['task']})"
    return "(not recorded: a change made outside the application)"


# -- filtering the history on its page ---------------------------------------------------------
@dataclass(frozen=True)
class TrailFilter:
    """What the audit page's filters ask for; empty values match everything. `record` is the
    record's name as shown ("PANSS · Baseline ...", "Query 12 on ..."), `field` a field label,
    `who` a username, `action` the kind of change, `since`/`until` Copenhagen dates."""

    record: str = ""
    field: str = ""
    who: str = ""
    action: str = ""
    since: date | None = None
    until: date | None = None

    def matches(self, entry: AuditEntry) -> bool:
        day = entry.at_local.date()
        return (
            (not self.record or entry.record == self.record)
            and (not self.field or any(c.field == self.field for c in entry.changes))
            and (not self.who or entry.who == self.who)
            and (not self.action or entry.action == self.action)
            and (self.since is None or day >= self.since)
            and (self.until is None or day <= self.until)
        )


def filter_choices(entries: Sequence[AuditEntry]) -> dict[str, list[str]]:
    """The values the filters offer: those that occur in the viewer's own history."""
    return {
        "records": sorted({e.record for e in entries}),
        "fields": sorted({c.field for e in entries for c in e.changes}),
        "who": sorted({e.who for e in entries}),
        "actions": sorted({e.action for e in entries}),
    }
