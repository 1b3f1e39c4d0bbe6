"""Exposure rows and summaries, scoped to the user (the figures: fidelity.exposure)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from fidelity import exposure, permissions
from fidelity.models import (
    GroupMembership,
    ImrGroup,
)
from fidelity.selectors.groups import attended_counts, groups_visible_to
from imrtrial import access
from randomization.models import Allocation, Arm


def _exposure_rows(allocations: QuerySet[Allocation]) -> list[exposure.ExposureRow]:
    allocations = allocations.select_related("participant__site").order_by(
        "participant__site__number", "participant__number"
    )
    ids = [allocation.participant_id for allocation in allocations]
    groups = {
        m.participant_id: m.group
        for m in GroupMembership.objects.filter(participant_id__in=ids).select_related("group")
    }
    counts = attended_counts(ids)
    rows = []
    for allocation in allocations:
        participant = allocation.participant
        group = groups.get(participant.pk)
        attended, first = counts.get(participant.pk, (0, None))
        rows.append(
            exposure.make_row(
                participant_id=participant.pk,
                study_id=participant.study_id,
                site=participant.site.code,
                status=participant.status,
                randomized_on=timezone.localdate(allocation.randomized_at),
                group_id=group.pk if group else None,
                group_name=group.name if group else "",
                sessions_attended=attended,
                first_session_on=first,
            )
        )
    return rows


def exposure_rows(
    *, user: Any, site: str | None = None, group: ImrGroup | None = None
) -> list[exposure.ExposureRow]:
    """One row per participant randomised to IMR at the user's sites (ITT: also those in no
    group, with 0 sessions), or per member of `group`. For exports too (DEVELOPERS.md)."""
    permissions.require_role(user, permissions.MEMBER_READERS, "see IMR attendance")
    sites = access.site_ids(user, *permissions.MEMBER_READERS)
    allocations = Allocation.objects.filter(arm=Arm.IMR, participant__site_id__in=sites)
    if site:
        allocations = allocations.filter(participant__site__code=site.strip().upper())
    if group is not None:
        allocations = allocations.filter(
            participant_id__in=GroupMembership.objects.filter(group=group).values("participant_id")
        )
    return _exposure_rows(allocations)


@dataclass(frozen=True)
class ExposureReport:
    overall: exposure.ExposureSummary
    sites: list[exposure.ExposureSummary]
    groups: list[exposure.ExposureSummary]
    rows: list[exposure.ExposureRow] = field(default_factory=list)


def exposure_report(*, user: Any, site: str | None = None) -> ExposureReport:
    rows = exposure_rows(user=user, site=site)
    site_codes = list(dict.fromkeys(row.site for row in rows))
    group_names = {
        g.pk: g
        for g in groups_visible_to(user).filter(
            pk__in={row.group_id for row in rows if row.group_id}
        )
    }
    by_group: dict[int, list[exposure.ExposureRow]] = {}
    for row in rows:
        if row.group_id is not None:
            by_group.setdefault(row.group_id, []).append(row)
    return ExposureReport(
        overall=exposure.summarise("all", rows),
        sites=[
            exposure.summarise(code, [row for row in rows if row.site == code])
            for code in site_codes
        ],
        groups=[
            exposure.summarise(f"{group_names[gid].site.code} {group_names[gid].name}", members)
            for gid, members in sorted(
                by_group.items(), key=lambda item: (item[1][0].site, group_names[item[0]].name)
            )
        ],
        rows=rows,
    )
