"""No list grows its SQL with the trial (issue #14): every page and API collection without a
path parameter, opened by every role that may open it, makes the same number of queries with
3 participants as with 30 (each with a form, a query, an allocation; the IMR ones in groups
with a held session, attendance and a fidelity rating). The addresses come from the URL
resolver, so a new list page or collection is covered without editing this test; one that
reads a row at a time fails it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from assessments import services as assessment_services
from fidelity import scale
from fidelity import services as fidelity_services
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
# The database is built once for the module (the `counts` fixture); the mark makes pytest-django
# set up the test database for it.
pytestmark = pytest.mark.django_db


def list_addresses() -> list[str]:
    """Every GET address of the project without a parameter, but the admin's."""
    found = []
    for route in routes():
        if "<" in route.route or route.is_admin or route.route in NOT_LISTS:
            continue
        found.append("/" + route.route)
    return sorted(set(found))


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
    for role in ROLES:
        client = page_client(users[role])
        for address in list_addresses():
            if client.get(address).status_code != 200:
                continue
            with CaptureQueriesContext(connection) as queries:
                client.get(address)
            counted[(role, address)] = len(queries)
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


def test_no_list_makes_more_queries_with_more_participants(counts: Any) -> None:
    small, large = counts
    grown = {
        f"{role} {address}": (small[(role, address)], large[(role, address)])
        for role, address in small
        if (role, address) in large and large[(role, address)] != small[(role, address)]
    }
    assert grown == {}, "queries with 3 and with 30 participants: " + repr(grown)
