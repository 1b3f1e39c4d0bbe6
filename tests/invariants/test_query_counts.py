"""No list grows its SQL with the trial (issue #14): every page and API address, opened by every
role that may open it, makes the same number of queries with 3 participants as with 30 (each
with a form, a query, an allocation; the IMR ones in groups with a held session, attendance
and a fidelity rating). The addresses come from the URL resolver, so a new list page or
collection is covered without editing this test; one that reads a row at a time fails it.

Addresses with a path parameter (one participant's, group's, session's lists) are filled from
the trial: the largest group (1 member with 3 participants, 5 with 30), one of its members, its
session, its rating, the member's query. A parameter the test cannot fill must be named in
NOT_FILLED with its reason, so no new address is left out unnoticed."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.db.models import Count
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from assessments import services as assessment_services
from assessments.models import Query
from fidelity import scale
from fidelity import services as fidelity_services
from fidelity.models import FidelityRating, GroupMembership, GroupSession, ImrGroup
from tests.factories import (
    allocate,
    enrol_totp,
    make_allocation_lists,
    make_imr_group,
    make_participant,
    make_staff,
    page_client,
)
from tests.invariants.routes import routes
from trial.access import needs_two_factor
from trial.errors import Conflict
from trial.roles import Role

ROLES = (
    Role.COORDINATOR,
    Role.ASSESSOR,
    Role.CLINICIAN,
    Role.INSTRUCTOR,
    Role.FIDELITY_RATER,
    Role.DATA_MANAGER,
    Role.STATISTICIAN,
    Role.MONITOR,
)
# Addresses that are not lists: the session's own steps, the schema and its viewer, downloads
# of fixed documents.
NOT_LISTS = (
    "accounts/login/",
    "accounts/logout/",
    "accounts/verify/",
    "accounts/enrol/",
    "accounts/password/",
    "api/v1/schema/",
    "api/v1/docs/",
    "favicon.ico",
)
GROUP_SIZE = 5
# Collections that need a query parameter to be a list at all.
QUERY_STRINGS = {"/api/v1/imr-instructors/": "?site=BAL"}
PARAMETER = re.compile(r"<(?:(?P<converter>\w+):)?(?P<name>\w+)>")
# Addresses whose parameters name no object of this trial, and why they are no list.
NOT_FILLED = (
    "casebooks/",  # PDFs of one form, visit or participant: documents, not lists
    "data/exports/<uuid:pk>/",  # an export job and its files: no job is run here
    "api/v1/exports/<uuid:pk>/",
    "randomisation/lists/<int:pk>/",  # one allocation list's CSV and seed: downloads
    "api/v1/allocation-lists/<int:pk>/",
    "reports/",  # the reports' tables and pictures: tests/reports/test_query_counts.py
    "api/v1/instruments/<str:code>/",  # one instrument's definition: code, not data
)
# The database is built once for the module (the `counts` fixture); the mark makes pytest-django
# set up the test database for it.
pytestmark = pytest.mark.django_db


def list_addresses() -> list[str]:
    """Every GET address of the project without a parameter, but the admin's."""
    found = []
    for route in routes():
        if "<" in route.route or route.is_admin or route.route in NOT_LISTS:
            continue
        address = "/" + route.route
        found.append(address + QUERY_STRINGS.get(address, ""))
    return sorted(set(found))


def parameterised_routes() -> list[str]:
    return sorted(
        {
            route.route
            for route in routes()
            if "<" in route.route and not route.is_admin and not route.route.startswith(NOT_FILLED)
        }
    )


def object_of(route: str, name: str, objects: dict[str, Any]) -> Any:
    """The value of parameter `name` of `route` (None when the test cannot fill it)."""
    if name in ("code", "instrument"):
        return "GAF"
    if name == "timepoint":
        return "midway" if route.startswith("imr/fidelity/") else "baseline"
    if name == "query_id":
        return objects["query"]
    if name == "participant_id":
        return objects["participant"]
    if name != "pk":
        return None
    for prefix, kind in (
        ("imr/groups/", "group"),
        ("imr/fidelity/", "group"),
        ("api/v1/groups/", "group"),
        ("imr/sessions/", "session"),
        ("api/v1/sessions/", "session"),
        ("api/v1/fidelity-ratings/", "rating"),
        ("participants/", "participant"),
        ("randomisation/participants/", "participant"),
        ("assessments/participants/", "participant"),
        ("api/v1/participants/", "participant"),
    ):
        if route.startswith(prefix):
            return objects[kind]
    return None


def filled(route: str, objects: dict[str, Any]) -> str | None:
    values = {m["name"]: object_of(route, m["name"], objects) for m in PARAMETER.finditer(route)}
    if any(value is None for value in values.values()):
        return None
    return "/" + PARAMETER.sub(lambda m: str(values[m["name"]]), route)


def trial_objects() -> dict[str, Any]:
    """The largest group, one of its members, its session and rating, the member's query."""
    group = ImrGroup.objects.annotate(n=Count("memberships")).order_by("-n", "-pk").first()
    assert group is not None
    member = GroupMembership.objects.filter(group=group).order_by("-pk").first()
    assert member is not None
    session = GroupSession.objects.filter(group=group).first()
    rating = FidelityRating.objects.filter(group=group).first()
    query = Query.objects.filter(response__participant_id=member.participant_id).first()
    assert session is not None and rating is not None and query is not None
    return {
        "group": group.pk,
        "participant": member.participant_id,
        "session": session.pk,
        "rating": rating.pk,
        "query": query.pk,
    }


def object_addresses() -> list[str]:
    objects = trial_objects()
    found = (filled(route, objects) for route in parameterised_routes())
    return sorted({address for address in found if address is not None})


def add_participants(count: int, users: dict[str, Any]) -> None:
    """`count` randomised participants at BAL, half to each arm, each with a complete baseline
    GAF and a query; the IMR ones in groups of five with a held session (all present) and a
    first rater's fidelity rating."""
    today = timezone.localdate()
    imr: list[Any] = []
    for n in range(count):
        participant = make_participant("BAL", user=users[Role.COORDINATOR])
        arm = "IMR" if n % 2 else "TAU"
        allocate(participant, arm, randomized_at=timezone.now() - timedelta(days=280 + n))
        response = assessment_services.response_save(
            user=users[Role.ASSESSOR],
            participant=participant,
            timepoint="baseline",
            code="GAF",
            items={"GAF_S": 55, "GAF_F": 60},
            status="complete",
        ).response
        assessment_services.query_raise(
            user=users[Role.DATA_MANAGER], response=response, item="GAF_S", message="Check."
        )
        if arm == "IMR":
            imr.append(participant)
    for start in range(0, len(imr), GROUP_SIZE):
        group = make_imr_group(
            "BAL",
            start_date=today - timedelta(days=7),
            user=users[Role.COORDINATOR],
            instructors=[users[Role.INSTRUCTOR], users["instructor2"]],
        )
        members = imr[start : start + GROUP_SIZE]
        for member in members:
            fidelity_services.membership_add(
                user=users[Role.COORDINATOR], group=group, participant_id=member.pk
            )
        session = fidelity_services.session_add(
            user=users[Role.INSTRUCTOR], group=group, date=today, module=1
        )
        fidelity_services.attendance_record(
            user=users[Role.INSTRUCTOR], session=session, present=[m.pk for m in members]
        )
        fidelity_services.rating_submit(
            user=users[Role.FIDELITY_RATER],
            group=group,
            timepoint="midway",
            rater_kind="rater1",
            items=dict.fromkeys(scale.ITEM_CODES, 4),
        )


def count_queries(users: dict[str, Any]) -> dict[tuple[str, str], int]:
    """Queries of each list address that answers 200, per role (after one warm-up request:
    the first request of a session fills caches that later ones read)."""
    counted: dict[tuple[str, str], int] = {}
    # An object's address is counted under its route, so the two sizes' objects compare.
    addresses = [(a, a) for a in list_addresses()]
    objects = trial_objects()
    for route in parameterised_routes():
        address = filled(route, objects)
        if address is not None:
            addresses.append(("/" + route, address))
    for role in ROLES:
        client = page_client(users[role])
        for key, address in addresses:
            if client.get(address).status_code != 200:
                continue
            with CaptureQueriesContext(connection) as queries:
                client.get(address)
            counted[(role, key)] = len(queries)
    return counted


@pytest.fixture(scope="module")
def counts(
    django_db_setup: Any, django_db_blocker: Any
) -> Iterator[tuple[dict[tuple[str, str], int], dict[tuple[str, str], int]]]:
    fast = override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
    with django_db_blocker.unblock(), fast, transaction.atomic():
        from django.core.management import call_command

        call_command("setup_trial", stdout=open("/dev/null", "w"))  # noqa: SIM115
        users: dict[str, Any] = {
            role: make_staff(f"qc-{role}", role, sites=["BAL"]) for role in ROLES
        }
        users["instructor2"] = make_staff("qc-instructor2", Role.INSTRUCTOR, sites=["BAL"])
        for user in users.values():
            if needs_two_factor(user):
                enrol_totp(user)
        # Lists, so the randomisation log is not empty (an empty page reads no rows).
        # A module before this one on the worker may have left lists: the log has rows then.
        with contextlib.suppress(Conflict):
            make_allocation_lists(per_site=10)
        add_participants(3, users)
        small = count_queries(users)
        add_participants(27, users)
        large = count_queries(users)
        yield small, large
        transaction.set_rollback(True)


def test_the_lists_are_found(counts: Any) -> None:
    small, _ = counts
    opened = {address for _, address in small}
    for address in (
        "/participants/",
        "/assessments/worklist/",
        "/assessments/queries/",
        "/imr/exposure/",
        "/api/v1/participants/",
        "/api/v1/queries/",
        "/api/v1/worklist/",
        "/api/v1/groups/",
        "/api/v1/fidelity-ratings/",
    ):
        assert address in opened, address


def test_every_address_with_a_parameter_is_filled_or_named_as_no_list() -> None:
    objects = {kind: 1 for kind in ("group", "participant", "session", "rating", "query")}
    unfilled = [route for route in parameterised_routes() if filled(route, objects) is None]
    assert unfilled == [], "fill in object_of, or name in NOT_FILLED: " + repr(unfilled)


def test_the_lists_of_one_object_are_found(counts: Any) -> None:
    small, _ = counts
    opened = {address for _, address in small}
    for route in (
        "/participants/<int:pk>/",
        "/participants/<int:pk>/audit/",
        "/assessments/participants/<int:pk>/",
        "/imr/groups/<int:pk>/",
        "/imr/sessions/<int:pk>/",
        "/api/v1/participants/<int:pk>/assessments/",
        "/api/v1/participants/<int:pk>/audit/",
        "/api/v1/groups/<int:pk>/members/",
        "/api/v1/groups/<int:pk>/sessions/",
        "/api/v1/groups/<int:pk>/exposure/",
        "/api/v1/sessions/<int:pk>/attendance/",
        "/api/v1/imr-instructors/?site=BAL",
    ):
        assert route in opened, route


def test_no_list_makes_more_queries_with_more_participants(counts: Any) -> None:
    small, large = counts
    grown = {
        f"{role} {address}": (small[(role, address)], large[(role, address)])
        for role, address in small
        if (role, address) in large and large[(role, address)] != small[(role, address)]
    }
    assert grown == {}, "queries with 3 and with 30 participants: " + repr(grown)
