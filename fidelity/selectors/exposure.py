"""Exposure rows and summaries, scoped to the user (the figures: fidelity.exposure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fidelity import exposure, permissions
from fidelity.models import (
    GroupMembership,
    ImrGroup,
)
from fidelity.selectors.groups import attended_counts, groups_visible_to
from randomization.models import Allocation, Arm
from trial import access
from trial.access import Viewer
from trial.errors import Conflict
from trial.models import DatasetLock
from trial.paging import Window
from trial.selectors import lock_level


def _exposure_rows(
    allocations: QuerySet[Allocation], window: tuple[int, int] | None = None
) -> list[exposure.ExposureRow]:
    """The rows from plain values (no model instance per participant): three queries for any
    number of participants; `window` (offset, limit) cuts one page in SQL."""
    found = allocations.order_by("participant__site__number", "participant__number").values_list(
        "participant_id",
        "participant__study_id",
        "participant__site__code",
        "participant__status",
        "randomized_at",
    )
    if window is not None:
        offset, limit = window
        found = found[offset : offset + limit]
    people = list(found)
    ids = [row[0] for row in people]
    groups = dict(
        (participant_id, (group_id, name))
        for participant_id, group_id, name in GroupMembership.objects.filter(
            participant_id__in=ids
        ).values_list("participant_id", "group_id", "group__name")
    )
    counts = attended_counts(ids)
    rows = []
    for participant_id, study_id, site, status, randomized_at in people:
        group_id, group_name = groups.get(participant_id, (None, ""))
        attended, first = counts.get(participant_id, (0, None))
        rows.append(
            exposure.make_row(
                participant_id=participant_id,
                study_id=study_id,
                site=site,
                status=status,
                randomized_on=timezone.localdate(randomized_at),
                group_id=group_id,
                group_name=group_name,
                sessions_attended=attended,
                first_session_on=first,
            )
        )
    return rows


# Before the lock the trial shows no per-site counts by arm (DESIGN.md, invariant 1): the
# everyone-randomised-to-IMR (ITT) figures per site and for the trial count exactly that, so
# they wait for the lock. Group figures (the members the instructors see anyway) do not.
ITT_NEEDS_LOCK = (
    "Exposure of everyone randomised to IMR, per site and for the trial, is available once the "
    "database is locked: before that it would show per-site counts by arm. Group figures are "
    "available now."
)


def itt_available() -> bool:
    return lock_level() == DatasetLock.Level.LOCK


def _in_scope(user: Viewer, site: str | None) -> dict[str, Any]:
    """Lookups of a model with a `participant`: the participant is at the user's sites (at
    `site` only, when given)."""
    scope: dict[str, Any] = {
        "participant__site_id__in": access.site_ids(user, *permissions.MEMBER_READERS)
    }
    if site:
        scope["participant__site__code"] = site.strip().upper()
    return scope


def _imr_allocations(user: Viewer, site: str | None) -> QuerySet[Allocation]:
    return Allocation.objects.filter(arm=Arm.IMR, **_in_scope(user, site))


def exposure_rows(
    *, user: Viewer, site: str | None = None, group: ImrGroup | None = None
) -> list[exposure.ExposureRow]:
    """One row per participant randomised to IMR at the user's sites (ITT: also those in no
    group, with 0 sessions; only after the lock), or per member of `group` (any time). For
    exports too (DEVELOPERS.md)."""
    permissions.require_role(user, permissions.MEMBER_READERS, _("see IMR attendance"))
    allocations = _imr_allocations(user, site)
    if group is not None:
        members = GroupMembership.objects.filter(group=group).values("participant_id")
        return _exposure_rows(allocations.filter(participant_id__in=members))
    if not itt_available():
        raise Conflict(ITT_NEEDS_LOCK)
    return _exposure_rows(allocations)


# The figures of a scope's rows, in the order of exposure.Figures. `r` is one row per
# participant: sessions attended (0 when none), first session, randomisation day, group.
_FIGURES = """
    count(*), count(r.group_id), avg(r.attended)::float8, stddev_samp(r.attended)::float8,
    count(*) FILTER (WHERE r.attended = 0),
    count(*) FILTER (WHERE r.attended BETWEEN 1 AND 10),
    count(*) FILTER (WHERE r.attended BETWEEN 11 AND 20),
    count(*) FILTER (WHERE r.attended > 20),
    count(r.first_on),
    avg(r.first_on - r.randomized_on)::float8,
    stddev_samp(r.first_on - r.randomized_on)::float8
"""
# One row per participant of `allocations` (their ids, read first: the planner then reads
# only their rows by index): the attendance is counted in one grouped pass.
_PEOPLE = """
    SELECT a.participant_id, s.code AS site, s.number AS site_number, m.group_id,
           (a.randomized_at AT TIME ZONE %(zone)s)::date AS randomized_on,
           COALESCE(t.attended, 0) AS attended, t.first_on
    FROM randomization_allocation a
    JOIN participants_participant p ON p.id = a.participant_id
    JOIN trial_site s ON s.id = p.site_id
    LEFT JOIN fidelity_groupmembership m ON m.participant_id = a.participant_id
    LEFT JOIN (
        SELECT at.participant_id, count(*) AS attended, min(gs.date) AS first_on
        FROM fidelity_attendance at
        JOIN fidelity_groupsession gs ON gs.id = at.session_id
        WHERE at.present AND gs.status <> 'cancelled' AND at.participant_id = ANY(%(ids)s)
        GROUP BY at.participant_id
    ) t ON t.participant_id = a.participant_id
    WHERE a.participant_id = ANY(%(ids)s)
"""


# The key of each summary, its GROUP BY and ORDER BY over the row `r`. Per site, with the
# grouping set () for everyone (its key is NULL); per group.
_BY = {
    "site": ("r.site", "GROUPING SETS ((r.site, r.site_number), ())", "r.site_number NULLS LAST"),
    "group": ("r.group_id", "r.group_id", "r.group_id"),
}


def _figures(allocations: QuerySet[Allocation], *, by: str) -> list[tuple[Any, exposure.Figures]]:
    """(key, figures) of each site or group (`by`) of the allocations' rows."""
    ids = list(allocations.values_list("participant_id", flat=True))
    if not ids:
        return []
    key, grouping, order = _BY[by]
    sql = f"SELECT {key}, {_FIGURES} FROM ({_PEOPLE}) r GROUP BY {grouping} ORDER BY {order}"  # noqa: S608 (constants; the values are parameters)
    with connection.cursor() as cursor:
        cursor.execute(sql, {"ids": ids, "zone": timezone.get_current_timezone_name()})
        found = cursor.fetchall()
    return [(row[0], exposure.Figures(*row[1:])) for row in found]


@dataclass(frozen=True)
class ExposureReport:
    """`overall` and `sites` (ITT) only after the lock; `groups` (a summary per group) and
    `rows` (everyone randomised to IMR after the lock, the groups' members before it) are
    fetched a page at a time when sliced (Django's paginator, `trial.paging`)."""

    itt_available: bool
    overall: exposure.ExposureSummary | None
    sites: list[exposure.ExposureSummary]
    groups: Window
    rows: Window


def exposure_report(*, user: Viewer, site: str | None = None) -> ExposureReport:
    """The figures come from SQL aggregates (three statements whatever the number of
    participants); a page of groups or rows costs one to three more."""
    permissions.require_role(user, permissions.MEMBER_READERS, _("see IMR attendance"))
    locked = itt_available()
    allocations = _imr_allocations(user, site)
    if not locked:
        allocations = allocations.filter(
            participant_id__in=GroupMembership.objects.values("participant_id")
        )
    overall: exposure.Figures | None = None
    per_site: list[tuple[str, exposure.Figures]] = []
    if locked:
        # Per site, and for everyone (the grouping set () gives the NULL key): one grouped
        # scan of the attendance, only once the figures may be shown.
        by_site = _figures(allocations, by="site")
        overall = next((f for code, f in by_site if code is None), None)
        per_site = [(code, f) for code, f in by_site if code is not None]
        count = overall.participants if overall else 0
    else:
        count = allocations.count()
    # A group is listed when one of its members is in the scope: asked per group through
    # the member's own allocation (an index probe each), not as a semi-join of the groups
    # with every allocation in scope (which grew with the trial).
    members_in_scope = GroupMembership.objects.filter(
        group=OuterRef("pk"), participant__allocation__arm=Arm.IMR, **_in_scope(user, site)
    )
    groups = (
        groups_visible_to(user)
        .filter(Exists(members_in_scope))
        .order_by("site__code", "name", "pk")
    )

    def group_page(offset: int, limit: int) -> list[exposure.ExposureSummary]:
        page = list(groups[offset : offset + limit])
        if not page:
            return []
        figures = dict(
            _figures(
                allocations.filter(
                    participant_id__in=GroupMembership.objects.filter(group__in=page).values(
                        "participant_id"
                    )
                ),
                by="group",
            )
        )
        return [
            exposure.summary_of(f"{g.site.code} {g.name}", figures[g.pk])
            for g in page
            if g.pk in figures
        ]

    def row_page(offset: int, limit: int) -> list[exposure.ExposureRow]:
        return _exposure_rows(allocations, window=(offset, limit))

    return ExposureReport(
        itt_available=locked,
        overall=exposure.summary_of("all", overall) if overall else None,
        sites=[exposure.summary_of(code, f) for code, f in per_site],
        groups=Window([], count=groups.count(), offset=-1, fetch=group_page),
        rows=Window([], count=count, offset=-1, fetch=row_page),
    )
