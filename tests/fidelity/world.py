"""A small IMR world for the access tests: one BAL group with members, a held session, a
planned session and an independent rating, plus a way to turn every URL pattern of the app
into a real address (so a 404 means "refused", not "no such object")."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.urls import URLPattern
from django.utils import timezone

from fidelity import scale, services
from fidelity.models import (
    Attendance,
    FidelityRating,
    GroupInstructor,
    GroupMembership,
    GroupSession,
    ImrGroup,
    SessionInstructor,
)
from fidelity.urls import api_urlpatterns, urlpatterns
from tests.factories import imr_participant, make_imr_group

TABLES = (
    ImrGroup,
    GroupInstructor,
    GroupMembership,
    GroupSession,
    SessionInstructor,
    Attendance,
    FidelityRating,
)


@dataclass
class World:
    group: ImrGroup
    members: list[Any]
    candidate: Any  # randomised to IMR at BAL, in no group yet
    held: GroupSession
    planned: GroupSession
    rating: FidelityRating

    def counts(self) -> dict[str, int]:
        return {model.__name__: model.objects.count() for model in TABLES}


def build_world(staff: Any) -> World:
    today = timezone.localdate()
    group = make_imr_group(
        "BAL",
        name="Access group",
        start_date=today - timedelta(days=7),
        instructors=[staff.instructor, staff.instructor2],
    )
    members = [imr_participant("BAL") for _ in range(2)]
    for participant in members:
        services.membership_add(user=staff.coordinator, group=group, participant_id=participant.pk)
    held = services.session_add(user=staff.instructor, group=group, date=today, module=1)
    services.attendance_record(user=staff.instructor, session=held, present=[members[0].pk])
    planned = services.session_add(
        user=staff.instructor, group=group, date=today + timedelta(days=7), module=2
    )
    rating = services.rating_submit(
        user=staff.rater1,
        group=group,
        timepoint="midway",
        rater_kind="rater1",
        items={code: 4 for code in scale.ITEM_CODES},
    )
    return World(group, members, imr_participant("BAL"), held, planned, rating)


PARAMETER = re.compile(r"<(?:(?P<converter>\w+):)?(?P<name>\w+)>")


def fill(route: str, world: World) -> str:
    """The route with real ids. A new parameter must be taught here, or the test fails."""

    def value(match: re.Match[str]) -> str:
        name = match["name"]
        before = route[: match.start()]
        if name == "participant_id":
            return str(world.members[1].pk)
        if name == "timepoint":
            return "midway"
        if name == "pk":
            if before.startswith(("groups/", "fidelity/")):
                return str(world.group.pk)
            if before.startswith("sessions/"):
                return str(world.held.pk)
            if before.startswith("fidelity-ratings/"):
                return str(world.rating.pk)
        raise AssertionError(f"teach tests/fidelity/world.py to fill {name!r} in {route!r}")

    return PARAMETER.sub(value, route)


def page_urls(world: World) -> list[str]:
    return ["/imr/" + fill(str(p.pattern), world) for p in urlpatterns if isinstance(p, URLPattern)]


def api_urls(world: World) -> list[str]:
    return [
        "/api/v1/" + fill(str(p.pattern), world)
        for p in api_urlpatterns
        if isinstance(p, URLPattern)
    ]
