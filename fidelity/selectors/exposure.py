"""Exposure rows and summaries, scoped to the user (the figures: fidelity.exposure)."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import QuerySet
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
from trial.selectors import lock_level


def _exposure_rows(allocations: QuerySet[Allocation]) -> list[exposure.ExposureRow]:
    """The rows from plain values (no model instance per participant): three queries for any
    number of participants."""
    found = allocations.order_by("participant__site__number", "participant__number").values_list(
        "participant_id",
        "participant__study_id",
        "participant__site__code",
        "participant__status",
        "randomized_at",
    )
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


def _imr_allocations(user: Viewer, site: str | None) -> QuerySet[Allocation]:
    sites = access.site_ids(user, *permissions.MEMBER_READERS)
    allocations = Allocation.objects.filter(arm=Arm.IMR, participant__site_id__in=sites)
    if site:
        allocations = allocations.filter(participant__site__code=site.strip().upper())
    return allocations


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


@dataclass(frozen=True)
class ExposureReport:
    """`overall` and `sites` (ITT) only after the lock; `groups` always; `rows` are everyone
    randomised to IMR after the lock and the groups' members before it."""

    itt_available: bool
    overall: exposure.ExposureSummary | None
    sites: list[exposure.ExposureSummary]
    groups: list[exposure.ExposureSummary]
    rows: list[exposure.ExposureRow] = field(default_factory=list)


def exposure_report(*, user: Viewer, site: str | None = None) -> ExposureReport:
    permissions.require_role(user, permissions.MEMBER_READERS, _("see IMR attendance"))
    locked = itt_available()
    allocations = _imr_allocations(user, site)
    if not locked:
        allocations = allocations.filter(
            participant_id__in=GroupMembership.objects.values("participant_id")
        )
    rows = _exposure_rows(allocations)
    groups = {
        g.pk: g
        for g in groups_visible_to(user).filter(
            pk__in={row.group_id for row in rows if row.group_id}
        )
    }
    by_group: dict[int, list[exposure.ExposureRow]] = {}
    for row in rows:
        if row.group_id is not None:
            by_group.setdefault(row.group_id, []).append(row)
    site_codes = list(dict.fromkeys(row.site for row in rows))
    return ExposureReport(
        itt_available=locked,
        overall=exposure.summarise("all", rows) if locked else None,
        sites=[
            exposure.summarise(code, [row for row in rows if row.site == code])
            for code in site_codes
        ]
        if locked
        else [],
        groups=[
            exposure.summarise(f"{groups[gid].site.code} {groups[gid].name}", members)
            for gid, members in sorted(
                by_group.items(), key=lambda item: (item[1][0].site, groups[item[0]].name)
            )
        ],
        rows=rows,
    )
