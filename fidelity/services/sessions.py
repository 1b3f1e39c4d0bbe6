"""The weekly schedule of a group, its sessions, and attendance."""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fidelity import permissions
from fidelity.models import (
    Attendance,
    GroupMembership,
    GroupSession,
    ImrGroup,
    SessionInstructor,
    SessionStatus,
)
from fidelity.scale import Module
from fidelity.services.groups import UNSET, check_date, resolve_instructors, sync_people
from trial import access
from trial.access import Viewer
from trial.audit import audit_context
from trial.errors import Conflict, Invalid

# The programme runs nine months with one session a week (paper, "The IMR program").
PROGRAMME_MONTHS = 9
MAX_WEEKS = 60


def months_after(start: date, months: int) -> date:
    """The same day `months` later (the last day of the month when it has fewer days)."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def weekly_plan(first: date, weeks: int | None = None) -> list[tuple[date, int]]:
    """(date, module) for one session a week from `first`: by default every week before the
    programme's nine months are up (39 weeks). The eleven modules follow in order, each given
    an equal share of the weeks (3 or 4 of 39), so the curriculum is complete at the end."""
    if weeks is None:
        days = (months_after(first, PROGRAMME_MONTHS) - first).days
        weeks = (days + 6) // 7
    modules = len(Module)
    return [(first + timedelta(weeks=k), k * modules // weeks + 1) for k in range(weeks)]


def _check_module(module: Any) -> list[str]:
    if isinstance(module, bool) or not isinstance(module, int) or not 1 <= module <= len(Module):
        return [f"Give the module number, 1–{len(Module)}."]
    return []


def _same_day_conflict(group: ImrGroup, day: date, *, exclude: int | None = None) -> None:
    clash = GroupSession.objects.filter(group=group, date=day).exclude(
        status=SessionStatus.CANCELLED
    )
    if exclude is not None:
        clash = clash.exclude(pk=exclude)
    if clash.exists():
        raise Conflict(
            _("{name} already has a session on {day:%Y-%m-%d}.").format(
                name=group.name,
                day=day,
            )
        )


def session_add(
    *,
    user: Viewer,
    group: ImrGroup,
    date: date,
    module: int,
    instructors_present: Sequence[Any] = (),
) -> GroupSession:
    """One session added to the schedule (an extra week, or a session moved into a gap)."""
    permissions.require_role_at(user, group.site, permissions.SESSION_PLANNERS, _("plan sessions"))
    errors: dict[str, list[str]] = {}
    if date_errors := check_date(date):
        errors["date"] = date_errors
    if module_errors := _check_module(module):
        errors["module"] = module_errors
    users, instructor_errors = resolve_instructors(
        group.site, instructors_present, two_or_three=False
    )
    if instructor_errors:
        errors["instructors_present"] = instructor_errors
    if errors:
        raise Invalid(_("The session has errors."), fields=errors)
    with transaction.atomic(), audit_context(user=user, reason="IMR session added"):
        ImrGroup.objects.select_for_update().get(pk=group.pk)
        _same_day_conflict(group, date)
        session = GroupSession.objects.create(
            group=group, date=date, module=module, created_by=access.signed_in(user)
        )
        sync_people(SessionInstructor, owner={"session": session}, users=users)
    return session


def schedule_generate(
    *,
    user: Viewer,
    group: ImrGroup,
    first_date: date | None = None,
    weeks: int | None = None,
    replace: bool = False,
) -> list[GroupSession]:
    """The weekly schedule over nine months from the group's start date (or `first_date`).
    A group that already has a schedule keeps it unless `replace` is given, and a schedule with
    a held session is never replaced: it is edited session by session."""
    permissions.require_role_at(user, group.site, permissions.SESSION_PLANNERS, _("plan sessions"))
    if weeks is not None and (
        isinstance(weeks, bool) or not isinstance(weeks, int) or not 1 <= weeks <= MAX_WEEKS
    ):
        raise Invalid(
            _("Bad number of weeks."),
            fields={"weeks": [_("Give 1–{MAX_WEEKS} weeks.").format(MAX_WEEKS=MAX_WEEKS)]},
        )
    if first_date is not None and (date_errors := check_date(first_date)):
        raise Invalid(_("Bad first date."), fields={"first_date": date_errors})
    plan = weekly_plan(first_date or group.start_date, weeks)
    with (
        transaction.atomic(),
        audit_context(
            user=user, reason="Weekly schedule replaced" if replace else "Weekly schedule generated"
        ),
    ):
        ImrGroup.objects.select_for_update().get(pk=group.pk)
        existing = GroupSession.objects.filter(group=group)
        if existing.filter(status=SessionStatus.HELD).exists():
            raise Conflict(
                _("Sessions of this group have been held; edit, add or cancel sessions instead.")
            )
        if existing.exists():
            if not replace:
                raise Conflict(
                    _(
                        "The group already has a schedule; ask to replace it (no session has "
                        "been held yet)."
                    )
                )
            SessionInstructor.objects.filter(session__group=group).delete()
            existing.delete()
        return [
            GroupSession.objects.create(
                group=group, date=day, module=module, created_by=access.signed_in(user)
            )
            for day, module in plan
        ]


def session_update(
    *,
    user: Viewer,
    session: GroupSession,
    date: Any = UNSET,
    module: Any = UNSET,
    instructors_present: Any = UNSET,
    reason: str = "",
) -> GroupSession:
    """Move a session, change its module or record who ran it."""
    group = session.group
    permissions.require_role_at(
        user, group.site, permissions.SESSION_PLANNERS, _("change sessions")
    )
    errors: dict[str, list[str]] = {}
    if date is not UNSET and (date_errors := check_date(date)):
        errors["date"] = date_errors
    if module is not UNSET and (module_errors := _check_module(module)):
        errors["module"] = module_errors
    users: list[Any] | None = None
    if instructors_present is not UNSET:
        users, instructor_errors = resolve_instructors(
            group.site, instructors_present or [], two_or_three=False
        )
        if instructor_errors:
            errors["instructors_present"] = instructor_errors
    if errors:
        raise Invalid(_("The changes have errors."), fields=errors)
    with transaction.atomic(), audit_context(user=user, reason=reason or "IMR session changed"):
        locked = GroupSession.objects.select_for_update().get(pk=session.pk)
        if locked.status == SessionStatus.CANCELLED:
            raise Invalid(_("The session is cancelled; add a new session instead."))
        fields: list[str] = []
        if date is not UNSET and date != locked.date:
            if locked.status == SessionStatus.HELD and date > timezone.localdate():
                raise Invalid(
                    _("Attendance is recorded for this session."),
                    fields={"date": [_("A session that has been held cannot move to the future.")]},
                )
            _same_day_conflict(group, date, exclude=locked.pk)
            locked.date = date
            fields.append("date")
        if module is not UNSET and module != locked.module:
            locked.module = module
            fields.append("module")
        if fields:
            locked.save(update_fields=[*fields, "updated_at"])
        if users is not None:
            sync_people(SessionInstructor, owner={"session": locked}, users=users)
    session.refresh_from_db()
    return session


def session_cancel(*, user: Viewer, session: GroupSession, reason: str = "") -> GroupSession:
    """Cancel a planned session. It stays in the schedule, marked, with the reason."""
    permissions.require_role_at(
        user, session.group.site, permissions.SESSION_PLANNERS, "cancel sessions"
    )
    reason = (reason or "").strip()
    with transaction.atomic(), audit_context(user=user, reason=reason or "IMR session cancelled"):
        locked = GroupSession.objects.select_for_update().get(pk=session.pk)
        if locked.status == SessionStatus.CANCELLED:
            raise Conflict(_("The session is already cancelled."))
        if locked.status == SessionStatus.HELD:
            raise Invalid(
                _(
                    "Attendance is recorded for this session, so it took place: correct the "
                    "attendance or the date instead."
                )
            )
        locked.status = SessionStatus.CANCELLED
        locked.cancel_reason = reason
        locked.save(update_fields=["status", "cancel_reason", "updated_at"])
    session.refresh_from_db()
    return session


def is_real_reason(reason: str) -> bool:
    """At least a few characters with a letter in them: not blank, not "-" or "..."."""
    text = (reason or "").strip()
    return len(text) >= 3 and any(character.isalpha() for character in text)


def _require_reason_for_corrections(
    locked: GroupSession, *, members: set[int], wanted: set[int], reason: str
) -> None:
    """A correction changes what was recorded as fact: the audit trail needs its reason.
    Recording a member for the first time (one added after the session was held) is none."""
    if locked.status != SessionStatus.HELD or is_real_reason(reason):
        return
    recorded = dict(
        Attendance.objects.filter(session=locked).values_list("participant_id", "present")
    )
    if any(pid in recorded and recorded[pid] != (pid in wanted) for pid in members):
        raise Invalid(
            _("A correction of recorded attendance needs a reason."),
            fields={
                "reason": [
                    _(
                        'Say why the attendance recorded before was wrong (e.g. "arrived late, '
                        'signed the list").'
                    )
                ]
            },
        )


def _attendees(present: Sequence[Any], members: set[int]) -> tuple[set[int], list[str]]:
    """The ids of the members who came, and a problem for each id that is not one."""
    wanted: set[int] = set()
    problems: list[str] = []
    for ref in present:
        if isinstance(ref, bool) or not isinstance(ref, int):
            problems.append(f"{ref!r} is not a participant id.")
        elif ref not in members:
            # Only the id the caller sent: nothing about a participant outside the group.
            problems.append(f"Participant {ref} is not a member of this group.")
        else:
            wanted.add(ref)
    return wanted, problems


def _write_attendance(
    locked: GroupSession, *, members: set[int], wanted: set[int], user: Viewer
) -> int:
    """One attendance record per member (came or not); returns how many changed."""
    recorded = dict(
        Attendance.objects.filter(session=locked).values_list("participant_id", "present")
    )
    changed = 0
    for participant_id in sorted(members):
        came = participant_id in wanted
        before = recorded.get(participant_id)
        if before is None:
            Attendance.objects.create(
                session=locked,
                participant_id=participant_id,
                present=came,
                recorded_by=access.signed_in(user),
            )
            changed += 1
        elif before != came:
            Attendance.objects.filter(session=locked, participant_id=participant_id).update(
                present=came, recorded_by=user, recorded_at=timezone.now()
            )
            changed += 1
    return changed


def _mark_held(locked: GroupSession, *, changed: int) -> None:
    """The first attendance makes the session held; every change a new attendance version."""
    fields = []
    if changed or locked.status != SessionStatus.HELD:
        locked.attendance_version += 1
        fields.append("attendance_version")
    if locked.status != SessionStatus.HELD:
        locked.status = SessionStatus.HELD
        locked.attendance_recorded_at = timezone.now()
        fields += ["status", "attendance_recorded_at"]
    if fields:
        locked.save(update_fields=[*fields, "updated_at"])


def attendance_record(
    *,
    user: Viewer,
    session: GroupSession,
    present: Sequence[Any],
    reason: str = "",
    version: int | None = None,
    instructors_present: Any = UNSET,
) -> int:
    """Save the session's attendance: the members listed in `present` came, every other member
    of the group did not. The first save records the session as held; a later save that
    changes a recorded value is a correction and needs a reason (audited with it). `version`
    (the session's attendance_version as the client saw it) turns a save over someone else's
    newer one into a 409. Returns the number of members whose record changed."""
    group = session.group
    permissions.require_role_at(
        user, group.site, permissions.ATTENDANCE_RECORDERS, "record attendance"
    )
    members = set(
        GroupMembership.objects.filter(group_id=group.pk).values_list("participant_id", flat=True)
    )
    wanted, problems = _attendees(present, members)
    errors: dict[str, list[str]] = {}
    if problems:
        errors["present"] = problems
    users: list[Any] | None = None
    if instructors_present is not UNSET:
        users, instructor_errors = resolve_instructors(
            group.site, instructors_present or [], two_or_three=False
        )
        if instructor_errors:
            errors["instructors_present"] = instructor_errors
    if errors:
        raise Invalid(_("The attendance has errors."), fields=errors)
    if session.date > timezone.localdate():
        raise Invalid(
            _(
                "The session is on {date:%Y-%m-%d}; attendance can be recorded from that day on."
            ).format(
                date=session.date,
            )
        )

    with transaction.atomic():
        locked = GroupSession.objects.select_for_update().get(pk=session.pk)
        if locked.status == SessionStatus.CANCELLED:
            raise Invalid(_("The session is cancelled; it has no attendance."))
        if version is not None and version != locked.attendance_version:
            raise Conflict(
                _(
                    "Someone saved this session's attendance after you opened it; reload to "
                    "see the latest and save again."
                )
            )
        _require_reason_for_corrections(locked, members=members, wanted=wanted, reason=reason)
        label = reason.strip() or "Attendance recorded"
        with audit_context(user=user, reason=label):
            changed = _write_attendance(locked, members=members, wanted=wanted, user=user)
            _mark_held(locked, changed=changed)
            if users is not None:
                sync_people(SessionInstructor, owner={"session": locked}, users=users)
    session.refresh_from_db()
    return changed
