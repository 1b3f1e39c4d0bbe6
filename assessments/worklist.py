"""The worklist: each active participant's visits whose forms the user enters, with the visit
window and its state, computed in PostgreSQL. Filtering, counting, sorting and paging happen in
one SQL statement over the participants and the completed responses, so a view costs the same
few queries at 200 or at 10,000 participants and builds rows for one page only.

Deliberately arm-free: windows run from the randomisation date (the participant's own field);
no arm, group or per-arm count is read here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection
from django.utils import timezone

from assessments import permissions, windows
from assessments.models import (
    InstrumentResponse,
    ResponseStatus,
    Timepoint,
    VisitProgress,
    progress_bit,
)
from instruments import registry
from participants.models import Participant, Status
from trial import access
from trial.access import Viewer
from trial.models import Site

DONE = (ResponseStatus.COMPLETE, ResponseStatus.VERIFIED)
# Participants whose assessments are scheduled (closed participants are left off the worklist).
ACTIVE_STATUSES = (Status.CONSENTED, Status.RANDOMIZED)
STATES = ("due", "open", "overdue", "completed")
# What the worklist page opens on: the visits that still need forms.
ACTIVE_STATES = ("due", "open", "overdue")


@dataclass(frozen=True)
class WorklistForm:
    code: str
    name: str
    status: str  # not_started | draft | complete | verified


@dataclass(frozen=True)
class WorklistRow:
    participant_id: int
    study_id: str
    site: str
    timepoint: str
    timepoint_label: str
    due: date
    opens: date | None
    closes: date | None
    state: str  # due | open | overdue | completed
    forms: tuple[WorklistForm, ...]


def parse_states(value: str) -> tuple[str, ...]:
    """`?state=`: one state, several separated by commas, `active` (due, open and overdue)
    or `all`/empty (every state). Unknown names are ignored."""
    wanted: list[str] = []
    for part in (value or "").lower().split(","):
        part = part.strip()
        if part in ("", "all"):
            continue
        for state in ACTIVE_STATES if part == "active" else (part,):
            if state in STATES and state not in wanted:
                wanted.append(state)
    return tuple(wanted)


def _user_forms(user: Viewer, site: str) -> list[tuple[int, str, str]]:
    """(site id, timepoint, instrument code) of every form the user enters, site by site."""
    site_ids = access.site_ids(user, *permissions.ENTERING_ROLES)
    if site:
        site_ids = frozenset(
            Site.objects.filter(pk__in=site_ids, code=site.upper()).values_list("pk", flat=True)
        )
    return [
        (site_id, timepoint, instrument.code)
        for site_id in sorted(site_ids)
        for instrument in registry.forms()
        if permissions.may_enter(user, site_id, instrument)
        for timepoint in instrument.timepoints
    ]


def _first_day_after(today: date, months: int) -> date:
    """The first randomisation day whose date `months` later is after `today`. windows.add_months
    never decreases as the day moves on, so a state can be read off the randomisation date by
    comparing it with such a day, with no month arithmetic per row."""
    day = windows.add_months(today, -months) - timedelta(days=4)
    while windows.add_months(day, months) <= today:
        day += timedelta(days=1)
    return day


def _day_starts(day: date) -> datetime:
    """The first instant of a Copenhagen day: a timestamp is on or after `day` (as a
    Copenhagen date) exactly when it is on or after this instant."""
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(settings.TIME_ZONE))


def _visits_sql(forms: list[tuple[int, str, str]], today: date) -> tuple[str, list[Any]]:
    """The `visits` CTE: one row per (participant, timepoint) with its state (its index in
    STATES) and what the end of its window (the sort key) is worked out from. A visit is
    completed when every form the user enters there is done: one AND of VisitProgress's
    `done_mask` (one narrow row per visit, kept by a trigger) with the user's forms there,
    rather than a look at the responses. For post and follow-up, the window opens after today
    when the randomisation date is on or after `due_from`, and has closed when it is before
    `overdue_before` (windows.window's rule, worked out once per request). Those dates are
    Copenhagen dates, compared as the instants they start at, so no row's timestamp is turned
    into a date: that conversion, per visit, was most of the statement's cost."""
    needed: dict[tuple[int, str], int] = {}
    for site_id, timepoint, code in forms:
        needed[(site_id, timepoint)] = needed.get((site_id, timepoint), 0) | progress_bit(code)
    rank = {timepoint: i for i, timepoint in enumerate(Timepoint.values)}
    values = ", ".join(
        ["(%s::bigint, %s::text, %s::int, %s::bigint, %s::timestamptz, %s::timestamptz)"]
        * len(needed)
    )
    params: list[Any] = []
    for (site_id, timepoint), mask in needed.items():
        rule = settings.ASSESSMENT_WINDOWS.get(timepoint)
        params += [site_id, timepoint, rank[timepoint], mask]
        params += (
            [None, None]
            if rule is None  # baseline: its window runs from consent to randomisation
            else [
                _day_starts(_first_day_after(today, rule["opens"])),
                _day_starts(_first_day_after(today - timedelta(days=1), rule["closes"])),
            ]
        )
    # Baseline is due (not open yet) before the consent date (the registration date when
    # there is none), and overdue once randomisation was before today.
    params += [today, _day_starts(today + timedelta(days=1)), _day_starts(today)]
    params += [sorted({s for s, _ in needed}), list(ACTIVE_STATUSES)]
    due, open_, overdue, completed = (
        STATES.index(s) for s in ("due", "open", "overdue", "completed")
    )
    sql = f"""
    WITH needed (site_id, timepoint, rank, mask, due_from, overdue_before)
        AS (VALUES {values}),
    visits AS (
        SELECT p.id, p.study_id, p.randomized_at, needed.rank,
               CASE WHEN coalesce(progress.done_mask, 0) & needed.mask = needed.mask
                    THEN {completed}
                    WHEN needed.due_from IS NULL THEN
                         CASE WHEN coalesce(p.consent_date > %s, p.registered_at >= %s)
                              THEN {due}
                              WHEN p.randomized_at < %s THEN {overdue}
                              ELSE {open_} END
                    WHEN p.randomized_at >= needed.due_from THEN {due}
                    WHEN p.randomized_at < needed.overdue_before THEN {overdue}
                    ELSE {open_}
               END AS state
        FROM {Participant._meta.db_table} p
        JOIN needed ON needed.site_id = p.site_id
        LEFT JOIN {VisitProgress._meta.db_table} progress
               ON progress.participant_id = p.id AND progress.timepoint = needed.timepoint
        WHERE p.site_id = ANY(%s) AND p.status = ANY(%s)
          AND (needed.due_from IS NULL OR p.randomized_at IS NOT NULL)
    )"""  # noqa: S608 (table names, placeholders and numbers only; every value is a parameter)
    return sql, params


@dataclass(frozen=True)
class Worklist:
    """One page of the worklist and the figures around it."""

    rows: list[WorklistRow]
    count: int  # rows in the chosen states (every page)
    counts: dict[str, int]  # rows per state, whatever the chosen states


def worklist_page(
    *,
    user: Viewer,
    states: tuple[str, ...] = (),
    site: str = "",
    offset: int = 0,
    limit: int | None = None,
    today: date | None = None,
) -> Worklist:
    """The rows in `states` (every state when empty), most urgent first: the window that
    ends first (overdue ones lead), then by due date; visits with an open-ended window
    (baseline before randomisation) last. Three queries whatever the size of the trial."""
    today = today or timezone.localdate()
    forms = _user_forms(user, site)
    if not forms:
        return Worklist(rows=[], count=0, counts=dict.fromkeys(STATES, 0))
    visits, params = _visits_sql(forms, today)
    wanted = list(states or STATES)
    window = "" if limit is None else " LIMIT %s OFFSET %s"
    tz = settings.TIME_ZONE
    # The end of each timepoint's window (the sort key): randomisation for baseline, so
    # many months after it for the others.
    closes_after = [
        (rank, settings.ASSESSMENT_WINDOWS.get(timepoint))
        for rank, timepoint in enumerate(Timepoint.values)
    ]
    closes = " ".join(
        f"WHEN {rank} THEN (randomized_at AT TIME ZONE %s)::date"
        if rule is None
        else f"WHEN {rank} THEN ((randomized_at AT TIME ZONE %s)::date + %s::interval)::date"
        for rank, rule in closes_after
    )
    for _, rule in closes_after:
        params += [tz] if rule is None else [tz, f"{rule['closes']} months"]
    # The per-state counts ride along with the page, so a view reads the participants and
    # the progress once; the visits are kept narrow (ids, numbers, the randomisation time)
    # so that they stay in memory. The end of the window is worked out for the visits in
    # the chosen states only.
    sql = f"""{visits},
    counts AS (SELECT state, count(*) AS n FROM visits GROUP BY state),
    page AS (
        SELECT id, study_id, rank, state, CASE rank {closes} END AS closes
        FROM visits
        WHERE state = ANY(%s)
        ORDER BY closes ASC NULLS LAST, study_id, rank{window}
    )
    SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, state, n FROM counts
    UNION ALL
    SELECT page.id, page.study_id, p.site_id, s.code, page.rank,
           coalesce(p.consent_date, (p.registered_at AT TIME ZONE %s)::date),
           (p.randomized_at AT TIME ZONE %s)::date, page.closes, page.state, NULL
    FROM page
    JOIN {Participant._meta.db_table} p ON p.id = page.id
    JOIN {Site._meta.db_table} s ON s.id = p.site_id
    ORDER BY 8 NULLS LAST, 2, 5"""  # noqa: S608 (fixed text; every value is a parameter)
    params += [[STATES.index(s) for s in wanted]]
    if limit is not None:
        params += [limit, offset]
    params += [tz, tz]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        fetched = cursor.fetchall()
    counts = dict.fromkeys(STATES, 0)
    page: list[tuple[Any, ...]] = []
    for row in fetched:
        if row[0] is None:
            counts[STATES[row[8]]] = row[9]
        else:
            page.append((*row[:4], Timepoint.values[row[4]], *row[5:8], STATES[row[8]]))
    return Worklist(
        rows=_rows(page, forms),
        count=sum(counts[s] for s in wanted),
        counts=counts,
    )


def _rows(page: list[tuple[Any, ...]], forms: list[tuple[int, str, str]]) -> list[WorklistRow]:
    """The page's rows with each form's status: one query for the page's responses."""
    if not page:
        return []
    statuses = {
        (participant_id, timepoint, code): status
        for participant_id, timepoint, code, status in InstrumentResponse.objects.filter(
            participant_id__in={row[0] for row in page}
        ).values_list("participant_id", "timepoint", "instrument", "status")
    }
    # Names and labels once per request, not per row (they are lazy translations).
    names = {i.code: str(i.short_name) for i in registry.forms()}
    labels = {t.value: str(t.label) for t in Timepoint}
    codes: dict[tuple[int, str], list[str]] = {}
    for site_id, timepoint, code in forms:
        codes.setdefault((site_id, timepoint), []).append(code)
    rows = []
    for participant_id, study_id, site_id, site, timepoint, start, randomized_on, _, state in page:
        # The window as windows.window gives it, for this page's rows only.
        visit = windows.window(
            SimpleNamespace(consent_date=start), timepoint, randomized_on=randomized_on
        )
        assert visit.due is not None
        rows.append(
            WorklistRow(
                participant_id=participant_id,
                study_id=study_id,
                site=site,
                timepoint=timepoint,
                timepoint_label=labels[timepoint],
                due=visit.due,
                opens=visit.opens,
                closes=visit.closes,
                state=state,
                forms=tuple(
                    WorklistForm(
                        code,
                        names[code],
                        statuses.get((participant_id, timepoint, code), "not_started"),
                    )
                    for code in codes[(site_id, timepoint)]
                ),
            )
        )
    return rows


def worklist(
    *, user: Viewer, today: date | None = None, state: str = "", site: str = ""
) -> list[WorklistRow]:
    """Every row in `state` (parse_states; every state when empty), most urgent first. For
    callers that need them all (tests, the demo check); pages and the API use worklist_page."""
    return worklist_page(user=user, states=parse_states(state), site=site, today=today).rows


def worklist_sites(user: Viewer) -> list[str]:
    """Codes of the sites the user enters forms at (the page's site filter)."""
    return list(
        Site.objects.filter(pk__in=access.site_ids(user, *permissions.ENTERING_ROLES))
        .order_by("number")
        .values_list("code", flat=True)
    )
