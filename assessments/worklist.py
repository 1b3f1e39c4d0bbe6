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


Sql = tuple[str, list[Any]]  # a piece of a statement and its parameters, in order


def _needed_sql(forms: list[tuple[int, str, str]], today: date) -> Sql:
    """The `needed` CTE: one row per site and timepoint where the user enters forms, with
    their bits (PROGRESS_CODES), the timepoint's place in the order and its thresholds. For
    post and follow-up, the window opens after today when the randomisation date is on or
    after `due_from`, and has closed when it is before `overdue_before` (windows.window's
    rule, worked out once per request). Those are Copenhagen dates, given as the instants
    they start at, so that no row's timestamp has to be turned into a date."""
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
    sql = f"needed (site_id, timepoint, rank, mask, due_from, overdue_before) AS (VALUES {values})"
    return sql, params


def _state_sql(today: date) -> Sql:
    """A visit's state (its index in STATES) from the participant `p`, its `needed` row and
    its `progress` row. It is completed when every form the user enters there is done: one
    AND of VisitProgress's `done_mask` (one narrow row per visit, kept by a trigger) with
    the user's forms there. Baseline is due (not open yet) before the consent date (the
    registration date when there is none), and overdue once randomisation was before today."""
    due, open_, overdue, completed = (
        STATES.index(s) for s in ("due", "open", "overdue", "completed")
    )
    sql = f"""CASE WHEN coalesce(progress.done_mask, 0) & needed.mask = needed.mask
                    THEN {completed}
                    WHEN needed.due_from IS NULL THEN
                         CASE WHEN coalesce(p.consent_date > %s, p.registered_at >= %s)
                              THEN {due}
                              WHEN p.randomized_at < %s THEN {overdue}
                              ELSE {open_} END
                    WHEN p.randomized_at >= needed.due_from THEN {due}
                    WHEN p.randomized_at < needed.overdue_before THEN {overdue}
                    ELSE {open_}
               END"""
    return sql, [today, _day_starts(today + timedelta(days=1)), _day_starts(today)]


def _visits_sql(forms: list[tuple[int, str, str]], *, with_progress: bool) -> Sql:
    """FROM and WHERE of the visits: the active participants of the user's sites joined to
    their `needed` rows (post and follow-up once randomised), and to their progress."""
    progress = (
        f"""LEFT JOIN {VisitProgress._meta.db_table} progress
               ON progress.participant_id = p.id AND progress.timepoint = needed.timepoint"""
        if with_progress
        else ""
    )
    sql = f"""FROM {Participant._meta.db_table} p
        JOIN needed ON needed.site_id = p.site_id
        {progress}
        WHERE p.site_id = ANY(%s) AND p.status = ANY(%s)
          AND (needed.due_from IS NULL OR p.randomized_at IS NOT NULL)"""
    return sql, [sorted({site_id for site_id, _, _ in forms}), list(ACTIVE_STATUSES)]


def _closes_sql() -> Sql:
    """The end of a visit's window, the sort key, from its `rank` and `randomized_at`:
    the randomisation date for baseline, so many months after it for the others."""
    cases: list[str] = []
    params: list[Any] = []
    for rank, timepoint in enumerate(Timepoint.values):
        rule = settings.ASSESSMENT_WINDOWS.get(timepoint)
        if rule is None:
            cases.append(f"WHEN {rank} THEN (randomized_at AT TIME ZONE %s)::date")
            params += [settings.TIME_ZONE]
        else:
            cases.append(
                f"WHEN {rank} THEN ((randomized_at AT TIME ZONE %s)::date + %s::interval)::date"
            )
            params += [settings.TIME_ZONE, f"{rule['closes']} months"]
    return f"CASE rank {' '.join(cases)} END", params


# What _rows needs of each row of the page, the same in both statements: id, study ID, site
# id and code, rank, the start of the baseline window, the randomisation date, the end of
# the window (then the state, and the number of a count row).
PAGE_COLUMNS = """page.id, page.study_id, p.site_id, s.code, page.rank,
           coalesce(p.consent_date, (p.registered_at AT TIME ZONE %s)::date),
           (p.randomized_at AT TIME ZONE %s)::date, page.closes"""


def _counted_sql(
    forms: list[tuple[int, str, str]], today: date, wanted: list[str], window: Sql
) -> Sql:
    """The page and the number of visits in each state, in one statement that reads the
    participants and the progress once: the visits are kept narrow (ids, numbers, the
    randomisation time) so that they stay in memory, and the end of the window is worked
    out for the visits in the chosen states only."""
    needed, needed_params = _needed_sql(forms, today)
    state, state_params = _state_sql(today)
    visits, visits_params = _visits_sql(forms, with_progress=True)
    closes, closes_params = _closes_sql()
    sql = f"""
    WITH {needed},
    visits AS (
        SELECT p.id, p.study_id, p.randomized_at, needed.rank, {state} AS state
        {visits}
    ),
    counts AS (SELECT state, count(*) AS n FROM visits GROUP BY state),
    page AS (
        SELECT id, study_id, rank, state, {closes} AS closes
        FROM visits
        WHERE state = ANY(%s)
        ORDER BY closes ASC NULLS LAST, study_id, rank{window[0]}
    )
    SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, state, n FROM counts
    UNION ALL
    SELECT {PAGE_COLUMNS}, page.state, NULL
    FROM page
    JOIN {Participant._meta.db_table} p ON p.id = page.id
    JOIN {Site._meta.db_table} s ON s.id = p.site_id
    ORDER BY 8 NULLS LAST, 2, 5"""  # noqa: S608 (fixed text; every value is a parameter)
    params = [*needed_params, *state_params, *visits_params, *closes_params]
    params += [[STATES.index(s) for s in wanted], *window[1]]
    return sql, [*params, settings.TIME_ZONE, settings.TIME_ZONE]


def _uncounted_sql(forms: list[tuple[int, str, str]], today: date, window: Sql) -> Sql:
    """The page of every visit, whatever its state, and their number, without the counts
    per state: no visit's state decides whether it is on the page, so the number is that
    of the visits, the page is cut before any progress is read, and the state is worked
    out for its rows only."""
    needed, needed_params = _needed_sql(forms, today)
    visits, visits_params = _visits_sql(forms, with_progress=False)
    closes, closes_params = _closes_sql()
    state, state_params = _state_sql(today)
    sql = f"""
    WITH {needed},
    visits AS NOT MATERIALIZED (
        SELECT p.id, p.study_id, p.randomized_at, needed.rank
        {visits}
    ),
    page AS (
        SELECT id, study_id, rank, {closes} AS closes
        FROM visits
        ORDER BY closes ASC NULLS LAST, study_id, rank{window[0]}
    )
    SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, count(*) FROM visits
    UNION ALL
    SELECT {PAGE_COLUMNS}, {state}, NULL
    FROM page
    JOIN {Participant._meta.db_table} p ON p.id = page.id
    JOIN {Site._meta.db_table} s ON s.id = p.site_id
    JOIN needed ON needed.site_id = p.site_id AND needed.rank = page.rank
    LEFT JOIN {VisitProgress._meta.db_table} progress
           ON progress.participant_id = p.id AND progress.timepoint = needed.timepoint
    ORDER BY 8 NULLS LAST, 2, 5"""  # noqa: S608 (fixed text; every value is a parameter)
    params = [*needed_params, *visits_params, *closes_params, *window[1]]
    return sql, [*params, settings.TIME_ZONE, settings.TIME_ZONE, *state_params]


@dataclass(frozen=True)
class Worklist:
    """One page of the worklist and the figures around it."""

    rows: list[WorklistRow]
    count: int  # rows in the chosen states (every page)
    counts: dict[str, int]  # rows per state, whatever the chosen states (empty: not asked)


def worklist_page(
    *,
    user: Viewer,
    states: tuple[str, ...] = (),
    site: str = "",
    offset: int = 0,
    limit: int | None = None,
    today: date | None = None,
    counts: bool = True,
) -> Worklist:
    """The rows in `states` (every state when empty), most urgent first: the window that
    ends first (overdue ones lead), then by due date; visits with an open-ended window
    (baseline before randomisation) last. With `counts`, the number of visits in each
    state too (the page shows them; the API does not). Three queries whatever the size of
    the trial."""
    today = today or timezone.localdate()
    forms = _user_forms(user, site)
    if not forms:
        return Worklist(rows=[], count=0, counts=dict.fromkeys(STATES, 0) if counts else {})
    wanted = list(states or STATES)
    window: Sql = ("", []) if limit is None else (" LIMIT %s OFFSET %s", [limit, offset])
    if counts or set(wanted) != set(STATES):
        sql, params = _counted_sql(forms, today, wanted, window)
    else:
        sql, params = _uncounted_sql(forms, today, window)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        fetched = cursor.fetchall()
    per_state = dict.fromkeys(STATES, 0)
    total: int | None = None  # the number of every visit, when no state was asked for
    page: list[tuple[Any, ...]] = []
    for row in fetched:
        if row[0] is not None:
            page.append((*row[:4], Timepoint.values[row[4]], *row[5:8], STATES[row[8]]))
        elif row[8] is None:
            total = row[9]
        else:
            per_state[STATES[row[8]]] = row[9]
    return Worklist(
        rows=_rows(page, forms),
        count=total if total is not None else sum(per_state[s] for s in wanted),
        counts=per_state if counts else {},
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
