"""IMR groups and their members."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fidelity import permissions, selectors
from fidelity.models import (
    MAX_CAPACITY,
    MAX_INSTRUCTORS,
    MIN_INSTRUCTORS,
    Attendance,
    GroupInstructor,
    GroupMembership,
    ImrGroup,
)
from participants.models import Participant, Status
from participants.selectors import participants_visible_to
from randomization.models import Arm
from randomization.selectors import allocation_of
from trial import access
from trial.access import Viewer
from trial.audit import audit_context
from trial.errors import Conflict, Forbidden, Invalid, NotFound
from trial.inputs import digits
from trial.models import Site

# Marks a keyword the caller did not give (None is a meaningful value for some fields).
UNSET: Any = object()

# The years a group or a session can be planned in. Anything outside is a typing error, and
# near the ends of the calendar the nine-month plan of a group cannot even be computed.
EARLIEST_DATE = date(2000, 1, 1)
LATEST_DATE = date(2099, 12, 31)


def check_date(day: Any) -> list[str]:
    if not isinstance(day, date) or not EARLIEST_DATE <= day <= LATEST_DATE:
        return [f"Give a date from {EARLIEST_DATE:%Y} to {LATEST_DATE:%Y}."]
    return []


def resolve_instructors(
    site: Site, refs: Sequence[Any], *, two_or_three: bool = True
) -> tuple[list[Any], list[str]]:
    """Users from ids or usernames; each must instruct at `site` and not be blinded. A group's
    instructors are two or three; who ran a session may be anyone of them or a substitute."""
    errors: list[str] = []
    users: list[Any] = []
    allowed = selectors.instructors_at(site)
    User = get_user_model()
    for ref in refs:
        if isinstance(ref, bool):
            user = None
        elif isinstance(ref, int) or (isinstance(ref, str) and digits(ref)):
            user = User.objects.filter(pk=int(ref)).first()
        else:
            user = User.objects.filter(username=str(ref)).first()
        if user is None:
            errors.append(f"Unknown user {ref!r}.")
        elif not allowed.filter(pk=user.pk).exists():
            errors.append(f"{user.get_username()} is not an IMR instructor at {site.name}.")
        elif user in users:
            errors.append(f"{user.get_username()} is listed twice.")
        else:
            users.append(user)
    if (
        two_or_three
        and refs
        and not errors
        and not MIN_INSTRUCTORS <= len(users) <= MAX_INSTRUCTORS
    ):
        errors.append(
            f"A group is run by {MIN_INSTRUCTORS} or {MAX_INSTRUCTORS} instructors "
            f"({len(users)} given)."
        )
    return users, errors


def sync_people(model: Any, *, owner: dict[str, Any], users: Sequence[Any]) -> None:
    """Make the people linked to `owner` (a group's instructors, a session's instructors
    present) exactly `users`: links are added and removed one by one, so each is audited."""
    wanted = {u.pk for u in users}
    model.objects.filter(**owner).exclude(user_id__in=wanted).delete()
    have = set(model.objects.filter(**owner).values_list("user_id", flat=True))
    for user in users:
        if user.pk not in have:
            model.objects.create(**owner, user=user)


def _check_name(site: Site, name: str, *, exclude: int | None = None) -> list[str]:
    if not name:
        return ["Give the group a name."]
    if len(name) > 100:
        return ["At most 100 characters."]
    clash = ImrGroup.objects.filter(site=site, name__iexact=name)
    if exclude is not None:
        clash = clash.exclude(pk=exclude)
    if clash.exists():
        return [f"{site.name} already has a group called {name!r}."]
    return []


def _check_capacity(capacity: Any) -> list[str]:
    if isinstance(capacity, bool) or not isinstance(capacity, int):
        return ["Give a whole number."]
    if not 1 <= capacity <= MAX_CAPACITY:
        return [f"A group takes 1–{MAX_CAPACITY} participants (about ten is usual)."]
    return []


def group_create(
    *,
    user: Viewer,
    site_code: str,
    name: str,
    start_date: date,
    capacity: int | None = None,
    instructors: Sequence[Any] = (),
) -> ImrGroup:
    """A new IMR group at `site_code`. Instructors may be assigned now (two or three) or later."""
    permissions.require_role(user, permissions.GROUP_MANAGERS, _("create IMR groups"))
    given = str(site_code or "").strip()
    # The site's code, as everywhere in the API; its id is understood too.
    lookup = Q(code=given.upper())
    if digits(given):
        lookup |= Q(pk=int(given))
    site = Site.objects.filter(lookup).first()
    if site is None:
        raise Invalid(
            _("Unknown site."),
            fields={
                "site": [
                    _("Unknown site {site_code!r}; use BAL, GLA or FRB.").format(
                        site_code=site_code,
                    )
                ]
            },
        )
    if not access.has_role_at(user, site, *permissions.GROUP_MANAGERS):
        raise Forbidden(
            _("Only a coordinator or an instructor at {name} can create its groups.").format(
                name=site.name,
            )
        )
    name = (name or "").strip()
    capacity = 10 if capacity is None else capacity
    errors: dict[str, list[str]] = {}
    if name_errors := _check_name(site, name):
        errors["name"] = name_errors
    if date_errors := check_date(start_date):
        errors["start_date"] = date_errors
    if capacity_errors := _check_capacity(capacity):
        errors["capacity"] = capacity_errors
    users, instructor_errors = resolve_instructors(site, instructors)
    if instructor_errors:
        errors["instructors"] = instructor_errors
    if errors:
        raise Invalid(_("The group has errors."), fields=errors)

    with transaction.atomic(), audit_context(user=user, reason="IMR group created"):
        group = ImrGroup.objects.create(
            site=site,
            name=name,
            start_date=start_date,
            capacity=capacity,
            created_by=access.signed_in(user),
        )
        sync_people(GroupInstructor, owner={"group": group}, users=users)
    return group


def group_update(
    *,
    user: Viewer,
    group: ImrGroup,
    name: Any = UNSET,
    start_date: Any = UNSET,
    capacity: Any = UNSET,
    enrolment_closed: Any = UNSET,
    instructors: Any = UNSET,
    reason: str = "",
) -> ImrGroup:
    """Change what is given. The schedule is not moved with the start date: sessions are
    edited one by one, or regenerated while none has been held."""
    permissions.require_role_at(
        user, group.site, permissions.GROUP_MANAGERS, _("change IMR groups")
    )
    errors: dict[str, list[str]] = {}
    changes: dict[str, Any] = {}
    if name is not UNSET:
        name = (name or "").strip()
        if name_errors := _check_name(group.site, name, exclude=group.pk):
            errors["name"] = name_errors
        changes["name"] = name
    if start_date is not UNSET:
        if date_errors := check_date(start_date):
            errors["start_date"] = date_errors
        changes["start_date"] = start_date
    if capacity is not UNSET:
        if capacity_errors := _check_capacity(capacity):
            errors["capacity"] = capacity_errors
        changes["capacity"] = capacity
    if enrolment_closed is not UNSET:
        changes["enrolment_closed"] = bool(enrolment_closed)
    users: list[Any] | None = None
    if instructors is not UNSET:
        users, instructor_errors = resolve_instructors(group.site, instructors or [])
        if instructor_errors:
            errors["instructors"] = instructor_errors
    if errors:
        raise Invalid(_("The changes have errors."), fields=errors)

    with transaction.atomic(), audit_context(user=user, reason=reason or "IMR group changed"):
        locked = ImrGroup.objects.select_for_update().get(pk=group.pk)
        # Counted under the group's lock, which member additions take too.
        members = GroupMembership.objects.filter(group=locked).count()
        if "capacity" in changes and changes["capacity"] < members:
            raise Invalid(
                _("The capacity is below the members."),
                fields={
                    "capacity": [
                        _("The group already has {members} members.").format(members=members)
                    ]
                },
            )
        for key, value in changes.items():
            setattr(locked, key, value)
        if changes:
            locked.save(update_fields=list(changes))
        if users is not None:
            sync_people(GroupInstructor, owner={"group": locked}, users=users)
    group.refresh_from_db()
    return group


def _participant_for(user: Viewer, participant_id: Any) -> Participant:
    """By id (API.md) or, as typed on paper forms, by study ID; only at the user's sites."""
    visible = participants_visible_to(user).select_related("site")
    given = str(participant_id).strip()
    try:
        if digits(given):
            return visible.get(pk=int(given))
        return visible.get(study_id=given.upper())
    except Participant.DoesNotExist:
        raise Invalid(
            _("Unknown participant."),
            fields={"participant": [_("No participant with this id at your sites.")]},
        ) from None


def membership_add(*, user: Viewer, group: ImrGroup, participant_id: Any) -> GroupMembership:
    """Place a participant in the group: only someone randomised to IMR at the group's own
    site. The reasons name the arm, so they are given only after the blinding check (a blinded
    user never gets this far: 404)."""
    permissions.require_role_at(
        user, group.site, permissions.GROUP_MANAGERS, "add members to IMR groups"
    )
    participant = _participant_for(user, participant_id)
    sid = participant.study_id
    problem = ""
    allocation = allocation_of(participant)
    if participant.site_id != group.site_id:
        problem = (
            f"{sid} is registered at {participant.site.name}; this group is at "
            f"{group.site.name}. Only participants of the group's own site can join."
        )
    elif allocation is None:
        problem = (
            f"{sid} has not been randomised; only participants randomised to IMR can join "
            "an IMR group."
        )
    elif allocation.arm != Arm.IMR:
        problem = (
            f"{sid} was randomised to treatment as usual (TAU); only participants randomised "
            "to IMR can join an IMR group."
        )
    elif participant.status in (Status.WITHDRAWN, Status.DECEASED):
        problem = f"{sid} is {participant.get_status_display().lower()}."
    if problem:
        raise Invalid(problem, fields={"participant": [problem]})

    with transaction.atomic(), audit_context(user=user, reason="Placed in IMR group"):
        # The group's row lock serialises additions, so two at once cannot overfill it.
        locked = ImrGroup.objects.select_for_update().get(pk=group.pk)
        current = (
            GroupMembership.objects.filter(participant=participant).select_related("group").first()
        )
        if current is not None:
            where = "this group" if current.group_id == locked.pk else f"{current.group.name}"
            raise Conflict(_("{sid} is already a member of {where}.").format(sid=sid, where=where))
        members = GroupMembership.objects.filter(group=locked).count()
        if locked.enrolment_closed:
            problem = f"Enrolment to {locked.name} is closed."
        elif members >= locked.capacity:
            problem = f"{locked.name} is full ({members} of {locked.capacity})."
        if problem:
            raise Invalid(problem, fields={"participant": [problem]})
        return GroupMembership.objects.create(
            group=locked,
            participant=participant,
            joined_on=timezone.localdate(),
            added_by=access.signed_in(user),
        )


def membership_remove(*, user: Viewer, group: ImrGroup, participant_id: Any, reason: str) -> None:
    """Undo a placement made in error. A member who attended a session stays a member: their
    attendance is part of the trial's exposure data."""
    permissions.require_role_at(
        user, group.site, permissions.GROUP_MANAGERS, "remove members from IMR groups"
    )
    if not (reason or "").strip():
        raise Invalid(
            _("Give the reason."), fields={"reason": [_("Give the reason for removing.")]}
        )
    membership = (
        GroupMembership.objects.filter(group=group, participant_id=_as_int(participant_id))
        .select_related("participant")
        .first()
    )
    if membership is None:
        raise NotFound(permissions.NOT_FOUND)
    with transaction.atomic(), audit_context(user=user, reason=reason.strip()):
        ImrGroup.objects.select_for_update().get(pk=group.pk)
        attended = Attendance.objects.filter(
            session__group=group, participant_id=membership.participant_id, present=True
        ).count()
        if attended:
            raise Invalid(
                _(
                    "{study_id} attended {attended} session(s) of this group and stays a member."
                ).format(
                    study_id=membership.participant.study_id,
                    attended=attended,
                )
            )
        Attendance.objects.filter(
            session__group=group, participant_id=membership.participant_id
        ).delete()
        membership.delete()


def _as_int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise NotFound(permissions.NOT_FOUND) from None
