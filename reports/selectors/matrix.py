"""The record status matrix: participants as rows, timepoint × instrument as columns, each
cell the state of one form. A page of 50 participants takes a fixed number of queries
(participants, their responses, their unresolved queries), whatever the number of cells.

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
from typing import Any

from django.core.paginator import Page, Paginator
from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from assessments import permissions as assessment_permissions
from assessments import windows
from assessments.models import UNRESOLVED_QUERY_STATUSES, InstrumentResponse, Query, Timepoint
from instruments import registry
from instruments.base import Instrument
from participants.models import CLOSED_STATUSES, Participant, Status
from reports.selectors.scope import Scope, today
from trial.errors import Invalid

PAGE_SIZE = 50
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
class Cell:
    state: str
    symbol: str
    text: str  # for screen readers: "GAF, post-intervention: complete"
    url: str
    html: str  # the cell's markup (see _cell)


def _cell(state: str, text: str, url: str) -> Cell:
    """The cell's markup is made here rather than in the template: a page has ~1,500 cells,
    and the template language would spend most of the page's time on them. Every piece is
    escaped."""
    label, symbol = escape(text), SYMBOLS[state]
    inner = f'<span aria-hidden="true">{symbol}</span><span class="visually-hidden">{label}</span>'
    if url:
        html = (
            f'<td><a class="cell cell-{state}" href="{escape(url)}" title="{label}">{inner}</a>'
            "</td>"
        )
    else:
        html = f'<td><span class="cell cell-{state}" title="{label}">{inner}</span></td>'
    return Cell(state, symbol, text, url, html)


@dataclass(frozen=True)
class Row:
    participant: Participant
    cells: tuple[Cell, ...]

    @property
    def cells_html(self) -> str:
        return mark_safe("".join(cell.html for cell in self.cells))  # noqa: S308 (see _cell)


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


def _empty_state(participant: Participant, timepoint: str, day: date) -> str:
    window = windows.window(participant, timepoint)
    state = window.state(done=False, today=day)
    left = participant.status in CLOSED_STATUSES and participant.status_date
    if left and window.opens is not None and participant.status_date < window.opens:
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


def matrix(
    user: Any, scope: Scope, *, status: str = "", timepoint: str = "", page: Any = 1
) -> Matrix:
    columns = columns_for(timepoint)
    participants = (
        Participant.objects.filter(site_id__in=scope.site_ids, consent_date__isnull=False)
        .select_related("site")
        .order_by("site__number", "number")
    )
    if status:
        participants = participants.filter(status=status)
    paginator = Paginator(participants, PAGE_SIZE)
    current = paginator.get_page(page)
    people: Sequence[Participant] = list(current.object_list)
    ids = [p.pk for p in people]
    responses: dict[tuple[int, str, str], tuple[str, bool]] = {}
    for pid, tp, code, form_status, missing in InstrumentResponse.objects.filter(
        participant_id__in=ids
    ).values_list("participant_id", "timepoint", "instrument", "status", "missing"):
        responses[(pid, tp, code)] = (form_status, bool(missing))
    queried = set(
        Query.objects.filter(
            response__participant_id__in=ids, status__in=UNRESOLVED_QUERY_STATUSES
        ).values_list("response__participant_id", "response__timepoint", "response__instrument")
    )
    labels = {state: str(label) for state, label in state_labels().items()}
    timepoint_names = {value: str(label) for value, label in Timepoint.choices}
    prefixes = [f"{c.label}, {timepoint_names[c.timepoint]}: " for c in columns]
    readable = {
        (site_id, column.instrument.code): assessment_permissions.may_read_values(
            user, site_id, column.instrument
        )
        for site_id in {p.site_id for p in people}
        for column in columns
    }
    # The form's address, reversed once: "/assessments/participants/<pk>/<timepoint>/<code>/".
    pattern = reverse("assessments:form", args=[987654321, "TIMEPOINT", "INSTRUMENT"])
    day = today()
    rows = []
    for participant in people:
        base = pattern.replace("987654321", str(participant.pk))
        cells = []
        for index, column in enumerate(columns):
            key = (participant.pk, column.timepoint, column.instrument.code)
            found = responses.get(key)
            if found is None:
                state = _empty_state(participant, column.timepoint, day)
            else:
                state = _response_state(found[0], found[1], key in queried)
            linked = readable[(participant.site_id, column.instrument.code)] and (
                found is not None or state in ("due", "out_of_window")
            )
            url = (
                base.replace("TIMEPOINT", column.timepoint).replace(
                    "INSTRUMENT", column.instrument.code
                )
                if linked
                else ""
            )
            cells.append(_cell(state, prefixes[index] + labels[state], url))
        rows.append(Row(participant, tuple(cells)))
    groups: list[tuple[str, int]] = []
    for column in columns:
        name = timepoint_names[column.timepoint]
        if groups and groups[-1][0] == name:
            groups[-1] = (name, groups[-1][1] + 1)
        else:
            groups.append((name, 1))
    return Matrix(columns, tuple(groups), tuple(rows), current)
