"""The record status matrix: participants as rows, timepoint × instrument as columns, each
cell the state of one form. A page of 50 participants takes three queries (how many rows
per site, the page's participants, their forms each with whether it has an unresolved query;
a page that spans two sites reads each site's part), whatever
the number of cells, and its markup is put together from pieces made once per column.

Rows are the participants whose consent is recorded (forms are expected of them). Cell
states, in the order the legend gives them:
- not_due: no form, and its window has not opened (or the participant left before it);
- due: no form, the window is open;
- draft, complete, verified: the form's own status;
- query: the form has an open or answered query;
- missing: complete, with at least one item missing with a reason;
- out_of_window: no form, and the window has closed.
Arm-free: IMRS_C shows its state to everyone, and a link only to users who may open it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from html import escape
from typing import Any, overload

from django.core.paginator import Page, Paginator
from django.db.models import BooleanField, Count, Exists, ExpressionWrapper, OuterRef, Q, QuerySet
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from assessments import permissions as assessment_permissions
from assessments import windows
from assessments.models import (
    UNRESOLVED_QUERY_STATUSES,
    InstrumentResponse,
    Query,
    Timepoint,
    visit_name,
)
from instruments import registry
from instruments.base import Instrument
from participants.models import CLOSED_STATUSES, Participant, Status
from reports.selectors.scope import Scope, timepoint_labels, today
from trial.errors import Invalid

PAGE_SIZE = 50
# What a row needs of its participant (not the encrypted CPR number and the rest).
ROW_FIELDS = (
    "site",
    "number",
    "study_id",
    "status",
    "status_date",
    "consent_date",
    "registered_at",
    "randomized_at",
)
STATES = (
    "not_due",
    "due",
    "draft",
    "complete",
    "verified",
    "query",
    "missing",
    "out_of_window",
)
# What a sighted reader sees in the cell; the state's name is there for screen readers.
SYMBOLS = {
    "not_due": "·",
    "due": "○",
    "draft": "✎",
    "complete": "✓",
    "verified": "✔✔",
    "query": "?",
    "missing": "!",
    "out_of_window": "✗",
}


def state_labels() -> dict[str, str]:
    return {
        "not_due": _("Not due yet"),
        "due": _("Due (window open)"),
        "draft": _("Draft"),
        "complete": _("Complete"),
        "verified": _("Verified"),
        "query": _("Open query"),
        "missing": _("Complete, items missing with a reason"),
        "out_of_window": _("Window closed, not entered"),
    }


@dataclass(frozen=True)
class Column:
    timepoint: str
    instrument: Instrument

    @property
    def label(self) -> str:
        return str(self.instrument.short_name)


@dataclass(frozen=True)
class Row:
    participant: Participant
    html: str  # the row's markup: its heading and every cell (see _cell_markup)

    @property
    def markup(self) -> str:
        return mark_safe(self.html)  # noqa: S308 (every piece escaped in _cell_markup / matrix)


@dataclass(frozen=True)
class Matrix:
    columns: tuple[Column, ...]
    groups: tuple[tuple[str, int], ...]  # (timepoint label, number of columns)
    rows: tuple[Row, ...]
    page: Page


def columns_for(timepoint: str = "") -> tuple[Column, ...]:
    timepoints = [timepoint] if timepoint else list(Timepoint.values)
    return tuple(
        Column(tp, instrument)
        for tp in timepoints
        for instrument in registry.forms()
        if tp in instrument.timepoints
    )


def parse_status(value: str) -> str:
    value = (value or "").strip()
    if value and value not in Status.values:
        raise Invalid(
            _("Unknown status."),
            fields={"status": [_("Unknown status; use one of %s.") % ", ".join(Status.values)]},
        )
    return value


def _empty_state(
    participant: Participant, timepoint: str, day: date, *, randomized_on: date | None
) -> str:
    window = windows.window(participant, timepoint, randomized_on=randomized_on)
    state = window.state(done=False, today=day)
    left_on = participant.status_date if participant.status in CLOSED_STATUSES else None
    if left_on is not None and window.opens is not None and left_on < window.opens:
        return "not_due"
    return {"due": "not_due", "open": "due", "overdue": "out_of_window"}[state]


def _response_state(status: str, has_missing: bool, has_query: bool) -> str:
    if has_query:
        return "query"
    if status == "verified":
        return "verified"
    if status == "complete":
        return "missing" if has_missing else "complete"
    return "draft"


def _cell_markup(state: str, text: str) -> tuple[str, str, str]:
    """A cell's markup without a link, and the two halves of its markup around a link's
    address. Made once per column and state rather than per cell: a page has ~1,500 cells,
    and the template language would spend most of the page's time on them. Every piece is
    escaped."""
    label, symbol = escape(text), SYMBOLS[state]
    inner = f'<span aria-hidden="true">{symbol}</span><span class="visually-hidden">{label}</span>'
    plain = f'<td><span class="cell cell-{state}" title="{label}">{inner}</span></td>'
    before = f'<td><a class="cell cell-{state}" href="'
    after = f'" title="{label}">{inner}</a></td>'
    return plain, before, after


# A participant id that no real one takes, to reverse an address once and fill it in per row.
_PK = "987654321"


def _empty_states(participant: Participant, timepoints: set[str], day: date) -> dict[str, str]:
    randomized_on = participant.randomized_on
    return {
        tp: _empty_state(participant, tp, day, randomized_on=randomized_on) for tp in timepoints
    }


class _RowsBySite(Sequence[Participant]):
    """The matrix's participants, ordered by site number, then participant number, as a
    sequence for the Paginator: one query counts them per site, and a page is read site by
    site along the (site, number) index, so no page sorts every participant of the trial."""

    def __init__(self, participants: QuerySet[Participant], site_ids: list[int]) -> None:
        self.participants = participants
        self.site_ids = site_ids  # ordered by site number
        self._counts: dict[int, int] | None = None

    def per_site(self) -> dict[int, int]:
        if self._counts is None:
            rows = self.participants.values_list("site_id").annotate(n=Count("pk")).order_by()
            self._counts = {site_id: n for site_id, n in rows}
        return self._counts

    def __len__(self) -> int:
        return sum(self.per_site().values())

    @overload
    def __getitem__(self, wanted: int) -> Participant: ...

    @overload
    def __getitem__(self, wanted: slice) -> list[Participant]: ...

    def __getitem__(self, wanted: int | slice) -> Participant | list[Participant]:
        if isinstance(wanted, int):
            return self[wanted : wanted + 1][0]
        start, stop = wanted.start or 0, wanted.stop
        found: list[Participant] = []
        before = 0  # rows of the sites before this one
        for site_id in self.site_ids:
            n = self.per_site().get(site_id, 0)
            low, high = max(start - before, 0), min(stop - before, n)
            if low < high:
                site_rows = self.participants.filter(site_id=site_id).order_by("number")
                found += site_rows[low:high]
            before += n
        return found


def matrix(
    user: Any, scope: Scope, *, status: str = "", timepoint: str = "", page: Any = 1
) -> Matrix:
    """The page's participants (a count and a page: two queries) and the state of each of their
    forms (one query: the responses, each with whether it has an unresolved query)."""
    columns = columns_for(timepoint)
    participants = Participant.objects.filter(
        site_id__in=scope.site_ids, consent_date__isnull=False
    ).only(*ROW_FIELDS)
    if status:
        participants = participants.filter(status=status)
    paginator: Paginator[Participant] = Paginator(
        _RowsBySite(participants, scope.site_ids), PAGE_SIZE
    )
    current = paginator.get_page(page)
    people: Sequence[Participant] = list(current.object_list)
    unresolved = Query.objects.filter(response=OuterRef("pk"), status__in=UNRESOLVED_QUERY_STATUSES)
    responses: dict[tuple[int, str, str], str] = {}
    found_forms = (
        InstrumentResponse.objects.filter(participant_id__in=[p.pk for p in people])
        .annotate(
            queried=Exists(unresolved),
            # Whether any item is missing with a reason, said by the database: no JSON to parse.
            has_missing=ExpressionWrapper(~Q(missing={}), output_field=BooleanField()),
        )
        .values_list(
            "participant_id", "timepoint", "instrument", "status", "has_missing", "queried"
        )
    )
    if timepoint:
        found_forms = found_forms.filter(timepoint=timepoint)
    for pid, tp, code, form_status, has_missing, queried in found_forms:
        responses[(pid, tp, code)] = _response_state(form_status, has_missing, queried)
    labels = {state: str(label) for state, label in state_labels().items()}
    timepoint_names = {value: str(label) for value, label in timepoint_labels().items()}
    # Per column and state: (markup without a link, markup before the address, after it).
    headings = [f"{c.label}, {timepoint_names[c.timepoint]}: " for c in columns]
    markup = [
        {state: _cell_markup(state, heading + labels[state]) for state in STATES}
        for heading in headings
    ]
    readable = {
        (site_id, column.instrument.code): assessment_permissions.may_read_values(
            user, site_id, column.instrument
        )
        for site_id in {p.site_id for p in people}
        for column in columns
    }
    # Each form's address, reversed once and split around the participant's id:
    # "/assessments/participants/<pk>/<timepoint>/<code>/".
    addresses = [
        escape(reverse("assessments:form", args=[_PK, c.timepoint, c.instrument.code])).split(_PK)
        for c in columns
    ]
    participant_address = escape(reverse("assessments:participant", args=[_PK])).split(_PK)
    timepoints = {c.timepoint for c in columns}
    day = today()
    rows = []
    for participant in people:
        pk = str(participant.pk)
        parts = [
            f'<th scope="row"><a href="{pk.join(participant_address)}">'
            f"{escape(participant.study_id)}</a></th>"
        ]
        empty = _empty_states(participant, timepoints, day)
        for index, column in enumerate(columns):
            code = column.instrument.code
            state = responses.get((participant.pk, column.timepoint, code))
            exists = state is not None
            if state is None:
                state = empty[column.timepoint]
            plain, before, after = markup[index][state]
            if readable[(participant.site_id, code)] and (
                exists or state in ("due", "out_of_window")
            ):
                parts.append(before + pk.join(addresses[index]) + after)
            else:
                parts.append(plain)
        rows.append(Row(participant, "".join(parts)))
    # The headings over each visit's columns give the visit's one name, with its timing; the
    # cells' own text keeps the short name and code (T0–T2), said ~1,500 times a page.
    visit_names = {tp: visit_name(tp) for tp in timepoints}
    groups: list[tuple[str, int]] = []
    for column in columns:
        name = visit_names[column.timepoint]
        if groups and groups[-1][0] == name:
            groups[-1] = (name, groups[-1][1] + 1)
        else:
            groups.append((name, 1))
    return Matrix(columns, tuple(groups), tuple(rows), current)
