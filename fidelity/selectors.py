"""Reads for IMR delivery, already limited to what the user may see.

Every function here first asks permissions.require_unblinded (directly or through a helper):
for a blinded user the IMR groups, their members, attendance, exposure and fidelity ratings do
not exist (404), and the contributions to shared pages (participant timeline) are empty."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, Exists, Min, OuterRef, Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from fidelity import exposure, permissions, scale
from fidelity.models import (
    INDEPENDENT_KINDS,
    Attendance,
    FidelityRating,
    FidelityTimepoint,
    GroupMembership,
    GroupSession,
    ImrGroup,
    RaterKind,
    SessionStatus,
)
from imrtrial import access
from imrtrial.errors import NotFound
from imrtrial.roles import Role
from imrtrial.timeline import TimelineEntry
from participants.models import Participant, Site, Status
from randomization.models import Allocation, Arm

# ---------------------------------------------------------------------------- groups


def groups_visible_to(user: Any) -> QuerySet[ImrGroup]:
    if not access.may_see_allocation(user):
        return ImrGroup.objects.none()
    sites = access.site_ids(user, *permissions.GROUP_READERS)
    return ImrGroup.objects.filter(site_id__in=sites).select_related("site")


def group_list(*, user: Any, site: str | None = None) -> QuerySet[ImrGroup]:
    permissions.require_role(user, permissions.GROUP_READERS, "see IMR groups")
    queryset = groups_visible_to(user).annotate(
        member_count=Count("memberships", distinct=True),
        session_count=Count(
            "sessions", filter=~Q(sessions__status=SessionStatus.CANCELLED), distinct=True
        ),
        sessions_held=Count(
            "sessions", filter=Q(sessions__status=SessionStatus.HELD), distinct=True
        ),
    )
    if site:
        queryset = queryset.filter(site__code=site.strip().upper())
    return queryset.prefetch_related("instructors")


def group_get(*, user: Any, pk: Any) -> ImrGroup:
    """The group, or 404 when unknown, outside the user's sites, or the user is blinded."""
    permissions.require_role(user, permissions.GROUP_READERS, "see IMR groups")
    try:
        return group_list(user=user).get(pk=int(pk))
    except (ImrGroup.DoesNotExist, ValueError, TypeError):
        raise NotFound(permissions.NOT_FOUND) from None


def sites_for_groups(user: Any, roles: tuple[str, ...] = permissions.GROUP_READERS) -> list[Site]:
    if not access.may_see_allocation(user):
        return []
    return list(Site.objects.filter(pk__in=access.site_ids(user, *roles)))


@dataclass(frozen=True)
class MemberRow:
    participant: Participant
    joined_on: date
    sessions_attended: int
    first_session_on: date | None


def member_rows(group: ImrGroup) -> list[MemberRow]:
    """The group's members with their attendance so far. Callers check
    permissions.may_read_members first: fidelity raters do not see who the members are."""
    memberships = list(
        GroupMembership.objects.filter(group=group)
        .select_related("participant")
        .order_by("participant__number")
    )
    counts = attended_counts(m.participant_id for m in memberships)
    return [
        MemberRow(m.participant, m.joined_on, *counts.get(m.participant_id, (0, None)))
        for m in memberships
    ]


def attended_counts(participant_ids: Iterable[int]) -> dict[int, tuple[int, date | None]]:
    """Sessions attended and the first one attended, per participant (cancelled sessions never
    count)."""
    rows = (
        Attendance.objects.filter(participant_id__in=list(participant_ids), present=True)
        .exclude(session__status=SessionStatus.CANCELLED)
        .values("participant_id")
        .annotate(n=Count("id"), first=Min("session__date"))
    )
    return {row["participant_id"]: (row["n"], row["first"]) for row in rows}


def instructors_at(site: Site | int) -> QuerySet[Any]:
    """Users who may instruct a group at `site`: an instructor role there and no blinded role
    (a blinded instructor could not see the group they run)."""
    from imrtrial.roles import BLINDED_ROLES

    site_id = site if isinstance(site, int) else site.pk
    return (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(
            Q(role_assignments__role=Role.INSTRUCTOR)
            & (Q(role_assignments__site_id=site_id) | Q(role_assignments__site__isnull=True))
        )
        .exclude(role_assignments__role__in=list(BLINDED_ROLES))
        .distinct()
        .order_by("username")
    )


def candidates_for(group: ImrGroup) -> QuerySet[Participant]:
    """Participants who could join `group`: randomised to IMR at its site, in no group yet, and
    neither withdrawn nor deceased. Only called for users who may manage the group."""
    in_a_group = GroupMembership.objects.filter(participant_id=OuterRef("pk"))
    return (
        Participant.objects.filter(
            site_id=group.site_id,
            pk__in=Allocation.objects.filter(arm=Arm.IMR).values("participant_id"),
        )
        .exclude(status__in=[Status.WITHDRAWN, Status.DECEASED])
        .exclude(Exists(in_a_group))
        .order_by("number")
    )


# ---------------------------------------------------------------------------- sessions


def sessions_visible_to(user: Any) -> QuerySet[GroupSession]:
    return GroupSession.objects.filter(group__in=groups_visible_to(user)).select_related(
        "group__site"
    )


def session_get(*, user: Any, pk: Any) -> GroupSession:
    permissions.require_role(user, permissions.GROUP_READERS, "see IMR sessions")
    try:
        return sessions_visible_to(user).prefetch_related("instructors_present").get(pk=int(pk))
    except (GroupSession.DoesNotExist, ValueError, TypeError):
        raise NotFound(permissions.NOT_FOUND) from None


def sessions_of(group: ImrGroup) -> QuerySet[GroupSession]:
    return (
        GroupSession.objects.filter(group=group)
        .annotate(present_count=Count("attendance", filter=Q(attendance__present=True)))
        .prefetch_related("instructors_present")
        .order_by("date", "id")
    )


def todays_sessions(user: Any) -> QuerySet[GroupSession]:
    """Today's sessions at the sites where the user records attendance: the instructor's
    starting point on a phone."""
    if not access.may_see_allocation(user):
        return GroupSession.objects.none()
    sites = access.site_ids(user, *permissions.ATTENDANCE_RECORDERS)
    return (
        GroupSession.objects.filter(group__site_id__in=sites, date=timezone.localdate())
        .exclude(status=SessionStatus.CANCELLED)
        .select_related("group__site")
        .order_by("group__name")
    )


@dataclass(frozen=True)
class AttendanceLine:
    participant: Participant
    present: bool | None  # None: not recorded yet
    warning: str = ""


def attendance_sheet(session: GroupSession) -> list[AttendanceLine]:
    """Every current member of the session's group, with what is recorded for this session.
    A member who joined after the attendance was saved shows as not recorded."""
    recorded = dict(
        Attendance.objects.filter(session=session).values_list("participant_id", "present")
    )
    members = (
        GroupMembership.objects.filter(group_id=session.group_id)
        .select_related("participant__allocation")
        .order_by("participant__number")
    )
    lines = []
    for membership in members:
        participant = membership.participant
        randomized_on = timezone.localdate(participant.allocation.randomized_at)
        warning = ""
        if session.date < randomized_on:
            # Soft check: the session predates this participant's randomisation. Usually a
            # wrong session date; shown to the instructor rather than refused.
            warning = f"randomised {randomized_on:%Y-%m-%d}, after this session"
        lines.append(AttendanceLine(participant, recorded.get(participant.pk), warning))
    return lines


def attendance_history(session: GroupSession) -> list[dict[str, Any]]:
    """Corrections of this session's attendance from the audit trail: who changed whom from
    what to what, when, and why."""
    event_model = Attendance.pgh_event_model  # type: ignore[attr-defined]
    events = (
        event_model.objects.filter(session_id=session.pk)
        .order_by("participant_id", "pgh_id")
        .values("participant_id", "present", "pgh_label", "pgh_created_at", "pgh_context")
    )
    study_ids = dict(
        Participant.objects.filter(
            pk__in={event["participant_id"] for event in events}
        ).values_list("pk", "study_id")
    )
    history: list[dict[str, Any]] = []
    previous: dict[int, bool] = {}
    for event in events:
        pid = event["participant_id"]
        if event["pgh_label"] == "update" and previous.get(pid) != event["present"]:
            context = event["pgh_context"] or {}
            history.append(
                {
                    "participant": pid,
                    "study_id": study_ids.get(pid, ""),
                    "from": previous.get(pid),
                    "to": event["present"],
                    "at": event["pgh_created_at"],
                    "by": context.get("username", ""),
                    "reason": context.get("reason", ""),
                }
            )
        previous[pid] = event["present"]
    return sorted(history, key=lambda item: item["at"], reverse=True)


# ---------------------------------------------------------------------------- exposure


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


# ---------------------------------------------------------------------------- fidelity


def _independent_exists(kind: str) -> Exists:
    return Exists(
        FidelityRating.objects.filter(
            group_id=OuterRef("group_id"), timepoint=OuterRef("timepoint"), rater_kind=kind
        )
    )


def ratings_visible_to(user: Any) -> QuerySet[FidelityRating]:
    """The independence rule: an independent rating (rater 1 or rater 2) is shown only to its
    author until both independent ratings of that group and timepoint are in. A statistician
    who rates nothing sees every rating; one who also holds the fidelity-rater role is held to
    the rule like any rater."""
    if not permissions.may_read_fidelity(user):
        return FidelityRating.objects.none()
    queryset = FidelityRating.objects.filter(group__in=groups_visible_to(user)).select_related(
        "group__site", "rater"
    )
    if access.has_role(user, Role.FIDELITY_RATER):
        queryset = queryset.annotate(
            rater1_in=_independent_exists(RaterKind.RATER1),
            rater2_in=_independent_exists(RaterKind.RATER2),
        ).filter(Q(rater=user) | Q(rater1_in=True, rater2_in=True))
    return queryset


def rating_list(
    *, user: Any, group: Any = None, timepoint: str | None = None, rater_kind: str | None = None
) -> QuerySet[FidelityRating]:
    permissions.require_role(user, permissions.FIDELITY_READERS, "see fidelity ratings")
    queryset = ratings_visible_to(user)
    if group not in (None, ""):
        try:
            queryset = queryset.filter(group_id=int(group))
        except (TypeError, ValueError):
            return queryset.none()
    if timepoint:
        queryset = queryset.filter(timepoint=timepoint)
    if rater_kind:
        queryset = queryset.filter(rater_kind=rater_kind)
    return queryset.order_by("group__site__number", "group__name", "timepoint", "rater_kind")


def rating_get(*, user: Any, pk: Any) -> FidelityRating:
    """404 for a rating the user may not see, including the other rater's before both are in."""
    permissions.require_role(user, permissions.FIDELITY_READERS, "see fidelity ratings")
    try:
        return ratings_visible_to(user).get(pk=int(pk))
    except (FidelityRating.DoesNotExist, ValueError, TypeError):
        raise NotFound(permissions.NOT_FOUND) from None


@dataclass(frozen=True)
class Discrepancy:
    item: str
    label: str
    rater1: int
    rater2: int


@dataclass
class FidelityAssessment:
    """The state of one group's rating at one timepoint, as one user may see it."""

    group: ImrGroup
    timepoint: str
    submitted: dict[str, bool]
    visible: dict[str, FidelityRating | None]
    my_kind: str | None
    discrepancies: list[Discrepancy]
    open_kinds: list[str]  # what this user may still submit

    @property
    def both_in(self) -> bool:
        return self.submitted[RaterKind.RATER1] and self.submitted[RaterKind.RATER2]

    @property
    def consensus(self) -> FidelityRating | None:
        return self.visible.get(RaterKind.CONSENSUS)

    @property
    def timepoint_label(self) -> str:
        return str(FidelityTimepoint(self.timepoint).label)


def fidelity_assessments(
    *, user: Any, groups: Iterable[ImrGroup]
) -> dict[tuple[int, str], FidelityAssessment]:
    """Per group and timepoint: which ratings exist (existence only: a rater needs to know
    whether the other slot is taken), the ones this user may see, and the discrepant items
    once both are in. Two queries however many groups."""
    permissions.require_role(user, permissions.FIDELITY_READERS, "see fidelity ratings")
    groups = list(groups)
    existing: dict[tuple[int, str], dict[str, FidelityRating]] = {}
    for rating in FidelityRating.objects.filter(group__in=groups):
        existing.setdefault((rating.group_id, rating.timepoint), {})[rating.rater_kind] = rating
    visible_ids = set(
        ratings_visible_to(user).filter(group__in=groups).values_list("pk", flat=True)
    )
    may_rate = permissions.may_rate(user)
    result = {}
    for group in groups:
        for timepoint in FidelityTimepoint.values:
            found = existing.get((group.pk, timepoint), {})
            result[(group.pk, timepoint)] = _assessment(
                user, group, timepoint, found, visible_ids, may_rate
            )
    return result


def _assessment(
    user: Any,
    group: ImrGroup,
    timepoint: str,
    existing: dict[str, FidelityRating],
    visible_ids: set[int],
    may_rate: bool,
) -> FidelityAssessment:
    visible = {
        kind: (existing[kind] if kind in existing and existing[kind].pk in visible_ids else None)
        for kind in RaterKind.values
    }
    submitted = {kind: kind in existing for kind in RaterKind.values}
    my_kind = next(
        (k for k in INDEPENDENT_KINDS if k in existing and existing[k].rater_id == user.pk), None
    )
    discrepancies: list[Discrepancy] = []
    first, second = visible[RaterKind.RATER1], visible[RaterKind.RATER2]
    if first is not None and second is not None:
        discrepancies = [
            Discrepancy(item.code, item.label, first.items[item.code], second.items[item.code])
            for item in scale.ITEMS
            if first.items[item.code] != second.items[item.code]
        ]
    open_kinds: list[str] = []
    if may_rate:
        if my_kind is None:
            open_kinds = [k for k in INDEPENDENT_KINDS if k not in existing]
        if all(submitted[k] for k in INDEPENDENT_KINDS) and not submitted[RaterKind.CONSENSUS]:
            open_kinds.append(RaterKind.CONSENSUS)
    return FidelityAssessment(
        group=group,
        timepoint=timepoint,
        submitted=submitted,
        visible=visible,
        my_kind=my_kind,
        discrepancies=discrepancies,
        open_kinds=open_kinds,
    )


def fidelity_assessment(*, user: Any, group: ImrGroup, timepoint: str) -> FidelityAssessment:
    return fidelity_assessments(user=user, groups=[group])[(group.pk, timepoint)]


@dataclass(frozen=True)
class FidelityRow:
    """One rating (export row). FID_MEAN is the programme fidelity score; analyses use the
    consensus rows, the two independent rows allow inter-rater agreement."""

    group_id: int
    group_name: str
    site: str
    group_start_date: date
    timepoint: str
    rater_kind: str
    rated_on: date
    items: dict[str, int]
    fid_total: int | None
    fid_mean: float | None
    fid_band: str | None

    def as_dict(self) -> dict[str, Any]:
        """Flat: the 13 items become FID_1..FID_13 columns, in scale order."""
        data: dict[str, Any] = {
            "group_id": self.group_id,
            "group_name": self.group_name,
            "site": self.site,
            "group_start_date": self.group_start_date,
            "timepoint": self.timepoint,
            "rater_kind": self.rater_kind,
            "rated_on": self.rated_on,
        }
        data.update({code: self.items.get(code) for code in scale.ITEM_CODES})
        data.update(FID_TOTAL=self.fid_total, FID_MEAN=self.fid_mean, FID_BAND=self.fid_band)
        return data


def fidelity_rows(*, user: Any) -> list[FidelityRow]:
    """Every rating the user may see, ordered by site, group, timepoint and kind."""
    ratings = rating_list(user=user)
    timepoint_order = {value: i for i, value in enumerate(FidelityTimepoint.values)}
    kind_order = {value: i for i, value in enumerate(RaterKind.values)}
    ordered = sorted(
        ratings,
        key=lambda r: (
            r.group.site.number,
            r.group.name,
            r.group_id,
            timepoint_order[r.timepoint],
            kind_order[r.rater_kind],
        ),
    )
    return [
        FidelityRow(
            group_id=r.group_id,
            group_name=r.group.name,
            site=r.group.site.code,
            group_start_date=r.group.start_date,
            timepoint=r.timepoint,
            rater_kind=r.rater_kind,
            rated_on=r.rated_on,
            items={code: r.items[code] for code in scale.ITEM_CODES},
            fid_total=r.total,
            fid_mean=r.score,
            fid_band=r.band,
        )
        for r in ordered
    ]


@dataclass(frozen=True)
class SiteFidelity:
    site: str
    site_name: str
    timepoint: str
    groups: int
    mean: float | None
    sd: float | None
    band: str | None


@dataclass(frozen=True)
class GroupFidelity:
    group: ImrGroup
    scores: dict[str, FidelityRating | None]


@dataclass(frozen=True)
class FidelitySummary:
    groups: list[GroupFidelity]
    sites: list[SiteFidelity]


def fidelity_summary(*, user: Any) -> FidelitySummary:
    """Consensus scores per group and timepoint, and per site the mean and SD (n − 1) of its
    groups' scores (paper: "CMHC 1: 4.3 (SD 0.9)")."""
    permissions.require_role(user, permissions.FIDELITY_READERS, "see fidelity scores")
    consensus = {
        (r.group_id, r.timepoint): r
        for r in ratings_visible_to(user).filter(rater_kind=RaterKind.CONSENSUS)
    }
    groups = list(groups_visible_to(user))
    per_group = [
        GroupFidelity(g, {t: consensus.get((g.pk, t)) for t in FidelityTimepoint.values})
        for g in groups
    ]
    sites: list[SiteFidelity] = []
    for site in Site.objects.filter(pk__in={g.site_id for g in groups}).order_by("number"):
        for timepoint in FidelityTimepoint.values:
            scores = [
                r.score
                for (gid, t), r in consensus.items()
                if t == timepoint and r.group.site_id == site.pk and r.score is not None
            ]
            mean = exposure.mean_of(scores)
            band = scale.band_of_mean(mean)
            sites.append(
                SiteFidelity(
                    site=site.code,
                    site_name=site.name,
                    timepoint=timepoint,
                    groups=len(scores),
                    mean=mean,
                    sd=exposure.sd_of(scores),
                    band=band.value if band else None,
                )
            )
    return FidelitySummary(groups=per_group, sites=sites)


# ---------------------------------------------------------------------------- timeline


def participant_timeline(participant: Any, user: Any) -> list[TimelineEntry]:
    """Group membership and sessions attended, for the participant overview. Nothing at all
    for blinded users or for roles that do not see IMR members."""
    if not permissions.may_read_members(user, participant.site_id):
        return []
    entries: list[TimelineEntry] = []
    membership = (
        GroupMembership.objects.filter(participant_id=participant.pk)
        .select_related("group")
        .first()
    )
    if membership is not None:
        entries.append(
            TimelineEntry(
                when=membership.joined_on,
                title=f"Joined IMR group {membership.group.name}",
                detail=f"Group started {membership.group.start_date:%Y-%m-%d}",
                url=reverse("fidelity:group", args=[membership.group_id]),
            )
        )
    attended = (
        Attendance.objects.filter(participant_id=participant.pk, present=True)
        .exclude(session__status=SessionStatus.CANCELLED)
        .select_related("session")
        .order_by("session__date")
    )
    for number, record in enumerate(attended, start=1):
        session = record.session
        entries.append(
            TimelineEntry(
                when=session.date,
                title=f"IMR session attended ({number})",
                detail=f"Module {session.module}: {session.module_name}",
                url=reverse("fidelity:session", args=[session.pk]),
            )
        )
    return entries
