"""The worklist: each active participant's visits whose forms the user enters, with the visit
window and its state, computed in PostgreSQL from WorklistVisit (one row per scheduled visit,
kept by triggers). Filtering, counting, sorting and paging happen in one statement over its
indexes: the visits still to do come from a partial index of the visits not done by everyone,
pages in the index's order, the number of every visit from index-only counts. A view's cost
grows with the visits still to do and the page, not with the trial's size, and only the
page's rows are built.

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
    WorklistVisit,
    progress_bit,
)
from instruments import registry
from trial import access
from trial.access import Viewer
from trial.models import Site

DONE = (ResponseStatus.COMPLETE, ResponseStatus.VERIFIED)
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


def _masks(forms: list[tuple[int, str, str]]) -> dict[tuple[int, str], int]:
    """The user's forms at each site and timepoint, as bits (PROGRESS_CODES)."""
    masks: dict[tuple[int, str], int] = {}
    for site_id, timepoint, code in forms:
        masks[(site_id, timepoint)] = masks.get((site_id, timepoint), 0) | progress_bit(code)
    return masks


def _mask_sql(masks: dict[tuple[int, str], int]) -> str:
    """SQL: the user's forms at the visit `v` as bits, 0 where they enter none. Written out
    rather than given as parameters (they are numbers and the code's own timepoint names) so
    that the one expression can stand in several places of the statement."""
    cases = " ".join(
        f"WHEN v.site_id = {int(site_id)} AND v.timepoint = '{Timepoint(timepoint).value}' "
        f"THEN {int(mask)}"
        for (site_id, timepoint), mask in sorted(masks.items())
    )
    return f"(CASE {cases} ELSE 0 END)::bigint"


def _to_do_sql(mask: str) -> str:
    """SQL: the visit `v` has a form the user (`mask`) enters that is not done. The first
    condition lets PostgreSQL read the partial index of the visits not done by everyone."""
    return f"NOT v.all_done AND v.done_mask & {mask} <> {mask}"


def _thresholds(today: date) -> dict[str, Any]:
    """The instants a visit's state turns on, worked out once per request. For post and
    follow-up, the window opens after today when the randomisation time is on or after
    `<timepoint>_due_from`, and has closed when it is before `<timepoint>_overdue_before`
    (windows.window's rule). Those are Copenhagen dates, given as the instants they start at,
    so that no row's timestamp has to be turned into a date."""
    found: dict[str, Any] = {"today": today, "today_starts": _day_starts(today)}
    for timepoint, rule in settings.ASSESSMENT_WINDOWS.items():
        found[f"{timepoint}_due_from"] = _day_starts(_first_day_after(today, rule["opens"]))
        found[f"{timepoint}_overdue_before"] = _day_starts(
            _first_day_after(today - timedelta(days=1), rule["closes"])
        )
    return found


def _state_sql(mask: str) -> str:
    """SQL: the state (its index in STATES) of the visit `v` for a user whose forms there are
    `mask`. It is completed when every form the user enters there is done (one AND of the
    visit's done forms, kept by triggers, with the user's). Baseline is due (not open yet)
    before its first day (the consent date), and overdue once randomisation was before today."""
    due, open_, overdue, completed = (
        STATES.index(s) for s in ("due", "open", "overdue", "completed")
    )
    due_from = " ".join(f"WHEN '{t}' THEN %({t}_due_from)s" for t in settings.ASSESSMENT_WINDOWS)
    overdue_before = " ".join(
        f"WHEN '{t}' THEN %({t}_overdue_before)s" for t in settings.ASSESSMENT_WINDOWS
    )
    return f"""CASE WHEN v.done_mask & {mask} = {mask} THEN {completed}
                    WHEN v.timepoint = '{Timepoint.BASELINE.value}' THEN
                         CASE WHEN v.starts_on > %(today)s THEN {due}
                              WHEN v.randomized_at < %(today_starts)s THEN {overdue}
                              ELSE {open_} END
                    WHEN v.randomized_at >= CASE v.timepoint {due_from} END THEN {due}
                    WHEN v.randomized_at < CASE v.timepoint {overdue_before} END THEN {overdue}
                    ELSE {open_}
               END"""


def _statement(masks: dict[tuple[int, str], int], *, pending_only: bool) -> str:
    """The page and the figures around it, in one statement over WorklistVisit's indexes:
    the number of visits per state that are still to do for the user (from the partial index
    of the visits not yet done by everyone), the number of every visit at the user's sites and
    timepoints (index-only counts per site and timepoint), and the page, most urgent first
    (the window that ends first, then study ID and visit), read in the index's order."""
    table = WorklistVisit._meta.db_table
    mask = _mask_sql(masks)
    state = _state_sql(mask)
    count = "(SELECT count(*) FROM {} WHERE site_id = {} AND timepoint = '{}')"
    totals = " + ".join(
        count.format(table, int(site_id), Timepoint(timepoint).value)
        for site_id, timepoint in sorted(masks)
    )
    # Pages of visits still to do (the default view) read the partial index alone.
    pending = f"{_to_do_sql(mask)} AND" if pending_only else ""
    return f"""
    WITH pending AS MATERIALIZED (
        SELECT {state} AS state FROM {table} v
        WHERE {_to_do_sql(mask)} AND v.site_id = ANY(%(sites)s)
    ),
    page AS (
        SELECT v.participant_id, v.study_id, v.site_id, v.rank, v.starts_on,
               (v.randomized_at AT TIME ZONE %(time_zone)s)::date AS randomized_on, v.closes,
               {state} AS state
        FROM {table} v
        WHERE {pending} v.site_id = ANY(%(sites)s) AND {mask} <> 0
          AND {state} <> ALL(%(unwanted)s)
        ORDER BY v.closes ASC NULLS LAST, v.study_id, v.rank
        LIMIT %(limit)s OFFSET %(offset)s
    )
    SELECT page.participant_id, page.study_id, page.site_id, s.code, page.rank, page.starts_on,
           page.randomized_on, page.closes, page.state, NULL
    FROM page JOIN {Site._meta.db_table} s ON s.id = page.site_id
    UNION ALL
    SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, state, count(*)
    FROM pending GROUP BY state
    UNION ALL
    SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, {totals}
    ORDER BY 8 NULLS LAST, 2, 5"""  # noqa: S608 (fixed text; every value is a parameter or a number)


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
    ends first (overdue ones lead), then by study ID; visits with an open-ended window
    (baseline before randomisation) last. With `counts`, the number of visits in each
    state too (the page shows them; the API does not). One statement and one query for
    the page's forms whatever the size of the trial (besides the user's roles and, with
    `site`, its id); their cost grows with the visits still to do and the page, not with
    the visits done."""
    today = today or timezone.localdate()
    forms = _user_forms(user, site)
    if not forms:
        return Worklist(rows=[], count=0, counts=dict.fromkeys(STATES, 0) if counts else {})
    wanted = list(states or STATES)
    masks = _masks(forms)
    params = {
        **_thresholds(today),
        "sites": sorted({site_id for site_id, _ in masks}),
        # As the states left out: PostgreSQL guesses that few rows have a computed value it
        # is asked for and many have one it is not, and with the first guess it sorted every
        # visit rather than read the index in order for a later page of completed visits.
        "unwanted": [STATES.index(s) for s in STATES if s not in wanted],
        "time_zone": settings.TIME_ZONE,
        "limit": limit,
        "offset": offset,
    }
    with connection.cursor() as cursor:
        cursor.execute(_statement(masks, pending_only="completed" not in wanted), params)
        fetched = cursor.fetchall()
    per_state = dict.fromkeys(STATES, 0)
    total = 0  # every visit at the user's sites and timepoints
    page: list[tuple[Any, ...]] = []
    for row in fetched:
        if row[0] is not None:
            page.append((*row[:4], Timepoint.values[row[4]], *row[5:8], STATES[row[8]]))
        elif row[8] is None:
            total = row[9]
        else:
            per_state[STATES[row[8]]] = row[9]
    per_state["completed"] = total - sum(per_state.values())
    return Worklist(
        rows=_rows(page, forms),
        count=sum(per_state[s] for s in wanted),
        counts=per_state if counts else {},
    )


def closing_counts(*, user: Viewer, weeks: list[date]) -> list[int]:
    """For each day in `weeks`, the number of the user's visits still to do whose window ends
    in the seven days from it: one range of the index of the visits not yet done by
    everyone."""
    forms = _user_forms(user, "")
    if not forms or not weeks:
        return [0] * len(weeks)
    masks = _masks(forms)
    mask = _mask_sql(masks)
    ranges = ", ".join(
        f"count(*) FILTER (WHERE v.closes >= %(week{i})s AND v.closes < %(week{i})s + 7)"
        for i in range(len(weeks))
    )
    sql = f"""SELECT {ranges} FROM {WorklistVisit._meta.db_table} v
        WHERE {_to_do_sql(mask)} AND v.site_id = ANY(%(sites)s)
          AND v.closes >= %(first)s AND v.closes < %(last)s"""  # noqa: S608 (fixed text)
    params: dict[str, Any] = {f"week{i}": week for i, week in enumerate(weeks)}
    params |= {
        "first": min(weeks),
        "last": max(weeks) + timedelta(days=7),
        "sites": sorted({site_id for site_id, _ in masks}),
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return [int(n) for n in row] if row else [0] * len(weeks)


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
