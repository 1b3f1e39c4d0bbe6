"""Groups, members, sessions and attendance; the participant timeline."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, Exists, IntegerField, Min, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from fidelity import permissions
from fidelity.models import (
    Attendance,
    GroupMembership,
    GroupSession,
    ImrGroup,
    SessionStatus,
)
from participants.models import Participant, Status
from randomization.models import Allocation, Arm
from trial import access
from trial.access import Viewer
from trial.audit import event_model
from trial.audit_trail import AuditSource
from trial.errors import NotFound
from trial.models import Site
from trial.roles import BLINDED_ROLES, Role
from trial.timeline import TimelineEntry

# ---------------------------------------------------------------------------- groups


def groups_visible_to(user: Viewer) -> QuerySet[ImrGroup]:
    if not access.may_see_allocation(user):
        return ImrGroup.objects.none()
    sites = access.site_ids(user, *permissions.GROUP_READERS)
    return ImrGroup.objects.filter(site_id__in=sites).select_related("site")


def _count_of(rows: QuerySet[Any]) -> Coalesce:
    """The number of `rows` of the outer group (a correlated COUNT subquery)."""
    counted = (
        rows.filter(group=OuterRef("pk"))
        .order_by()
        .values("group")
        .annotate(n=Count("id"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def group_list(*, user: Viewer, site: str | None = None) -> QuerySet[ImrGroup]:
    permissions.require_role(user, permissions.GROUP_READERS, _("see IMR groups"))
    # Each count is its own subquery: counting over a join of members and sessions would
    # build members x sessions rows per group before counting.
    queryset = groups_visible_to(user).annotate(
        member_count=_count_of(GroupMembership.objects.all()),
        session_count=_count_of(GroupSession.objects.exclude(status=SessionStatus.CANCELLED)),
        sessions_held=_count_of(GroupSession.objects.filter(status=SessionStatus.HELD)),
    )
    if site:
        queryset = queryset.filter(site__code=site.strip().upper())
    # Meta.ordering does not apply to a query with aggregates: say it (pages of the API).
    return queryset.order_by("site__number", "start_date", "name").prefetch_related("instructors")


def group_get(*, user: Viewer, pk: Any) -> ImrGroup:
    """The group, or 404 when unknown, outside the user's sites, or the user is blinded."""
    permissions.require_role(user, permissions.GROUP_READERS, _("see IMR groups"))
    try:
        return group_list(user=user).get(pk=int(pk))
    except (ImrGroup.DoesNotExist, ValueError, TypeError):
        raise NotFound(permissions.NOT_FOUND) from None


def sites_for_groups(
    user: Viewer, roles: tuple[str, ...] = permissions.GROUP_READERS
) -> list[Site]:
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


def sessions_visible_to(user: Viewer) -> QuerySet[GroupSession]:
    return GroupSession.objects.filter(group__in=groups_visible_to(user)).select_related(
        "group__site"
    )


def session_get(*, user: Viewer, pk: Any) -> GroupSession:
    permissions.require_role(user, permissions.GROUP_READERS, _("see IMR sessions"))
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


def todays_sessions(user: Viewer) -> QuerySet[GroupSession]:
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
            warning = gettext("randomised %(date)s, after this session") % {
                "date": date_format(randomized_on, "SHORT_DATE_FORMAT")
            }
        lines.append(AttendanceLine(participant, recorded.get(participant.pk), warning))
    return lines


def attendance_history(session: GroupSession) -> list[dict[str, Any]]:
    """Corrections of this session's attendance from the audit trail: who changed whom from
    what to what, when, and why."""
    attendance_events = event_model(Attendance)
    events = (
        attendance_events.objects.filter(session_id=session.pk)
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


# ---------------------------------------------------------------------------- timeline


def participant_timeline(participant: Any, user: Viewer) -> list[TimelineEntry]:
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
                title=gettext("Joined IMR group {name}").format(name=membership.group.name),
                detail=gettext("Group started {date}").format(
                    date=date_format(membership.group.start_date, "SHORT_DATE_FORMAT")
                ),
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
                title=gettext("IMR session attended ({number})").format(number=number),
                detail=gettext("Module {number}: {name}").format(
                    number=session.module, name=session.module_name
                ),
                url=reverse("fidelity:session", args=[session.pk]),
            )
        )
    return entries


def participant_audit_sources() -> list[AuditSource]:
    """Group membership and attendance reveal the IMR arm: on the participant's audit history
    they are shown only to viewers who may see allocation (never to the blinded data managers
    and monitors who read that page)."""
    return [
        AuditSource(
            event_model(GroupMembership),
            "participant_id",
            "IMR group membership",
            blinded_may_see=False,
            hidden_fields=frozenset({"participant"}),
            describe=lambda e: gettext("IMR group membership ({name})").format(name=e.group.name),
            field_labels={"joined_on": _("Joined on")},
            related=("group",),
        ),
        AuditSource(
            event_model(Attendance),
            "participant_id",
            "IMR attendance",
            blinded_may_see=False,
            hidden_fields=frozenset({"participant", "session"}),
            # The date's format is the translation's (dd-mm-åååå in Danish).
            describe=lambda e: gettext("IMR attendance, {group} session {date:%Y-%m-%d}").format(
                group=e.session.group.name, date=e.session.date
            ),
            related=("session__group",),
        ),
    ]
