"""The permission matrix of the IMR API, table-driven: every endpoint and method against every
unblinded role (blinded roles: test_blinding.py). 403 = the role may not do this; 404 = the
object is outside the caller's sites. Each request runs in a savepoint that is rolled back, so
every row meets the same world."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import transaction

from fidelity import scale
from tests.factories import api_client
from tests.fidelity.world import World, build_world

ROLES = ("coordinator", "instructor", "instructor_gla", "rater3", "statistician", "clinician")

ITEMS = {code: 3 for code in scale.ITEM_CODES}

Request = tuple[str, Callable[[World], str], Callable[[World], Any]]


def _none(world: World) -> Any:
    return None


# endpoint name -> (method, url, body)
ENDPOINTS: dict[str, Request] = {
    "list groups": ("get", lambda w: "/api/v1/groups/", _none),
    "create group": (
        "post",
        lambda w: "/api/v1/groups/",
        lambda w: {"site": "BAL", "name": "New", "start_date": "2026-02-02"},
    ),
    "read group": ("get", lambda w: f"/api/v1/groups/{w.group.pk}/", _none),
    "edit group": ("patch", lambda w: f"/api/v1/groups/{w.group.pk}/", lambda w: {"capacity": 9}),
    "list members": ("get", lambda w: f"/api/v1/groups/{w.group.pk}/members/", _none),
    "add member": (
        "post",
        lambda w: f"/api/v1/groups/{w.group.pk}/members/",
        lambda w: {"participant": w.candidate.pk},
    ),
    "remove member": (
        "delete",
        lambda w: f"/api/v1/groups/{w.group.pk}/members/{w.members[1].pk}/",
        lambda w: {"reason": "Placed in error"},
    ),
    "list sessions": ("get", lambda w: f"/api/v1/groups/{w.group.pk}/sessions/", _none),
    "add session": (
        "post",
        lambda w: f"/api/v1/groups/{w.group.pk}/sessions/",
        lambda w: {"date": "2027-01-04", "module": 3},
    ),
    "generate schedule": (
        "post",
        lambda w: f"/api/v1/groups/{w.group.pk}/schedule/",
        lambda w: {"replace": True},
    ),
    "read session": ("get", lambda w: f"/api/v1/sessions/{w.planned.pk}/", _none),
    "edit session": (
        "patch",
        lambda w: f"/api/v1/sessions/{w.planned.pk}/",
        lambda w: {"module": 4},
    ),
    "cancel session": ("post", lambda w: f"/api/v1/sessions/{w.planned.pk}/cancel/", lambda w: {}),
    "read attendance": ("get", lambda w: f"/api/v1/sessions/{w.held.pk}/attendance/", _none),
    "record attendance": (
        "put",
        lambda w: f"/api/v1/sessions/{w.held.pk}/attendance/",
        # The held session's attendance is recorded: this changes it, a correction (reasoned).
        lambda w: {"present": [w.members[1].pk], "reason": "Arrived late, signed the list"},
    ),
    "exposure": ("get", lambda w: "/api/v1/exposure/", _none),
    "group exposure": ("get", lambda w: f"/api/v1/groups/{w.group.pk}/exposure/", _none),
    "group fidelity": ("get", lambda w: f"/api/v1/groups/{w.group.pk}/fidelity/", _none),
    "list ratings": ("get", lambda w: "/api/v1/fidelity-ratings/", _none),
    "submit rating": (
        "post",
        lambda w: "/api/v1/fidelity-ratings/",
        lambda w: {
            "group": w.group.pk,
            "timepoint": "midway",
            "rater_kind": "rater2",
            "items": ITEMS,
        },
    ),
    "read rating": ("get", lambda w: f"/api/v1/fidelity-ratings/{w.rating.pk}/", _none),
    "correct rating": (
        "patch",
        lambda w: f"/api/v1/fidelity-ratings/{w.rating.pk}/",
        lambda w: {"items": ITEMS, "reason": "Typo"},
    ),
    "fidelity summary": ("get", lambda w: "/api/v1/fidelity-summary/", _none),
    "instructors": ("get", lambda w: "/api/v1/imr-instructors/?site=BAL", _none),
    "modules": ("get", lambda w: "/api/v1/imr-modules/", _none),
}

# Expected status per endpoint, in the order of ROLES:
#            coordinator instructor instructor_gla rater statistician clinician
MATRIX: dict[str, tuple[int, ...]] = {
    "list groups": (200, 200, 200, 200, 200, 403),
    "create group": (201, 201, 403, 403, 403, 403),
    "read group": (200, 200, 404, 200, 200, 403),
    "edit group": (200, 200, 404, 403, 403, 403),
    "list members": (200, 200, 404, 403, 200, 403),
    "add member": (201, 201, 404, 403, 403, 403),
    "remove member": (204, 204, 404, 403, 403, 403),
    "list sessions": (200, 200, 404, 200, 200, 403),
    "add session": (201, 201, 404, 403, 403, 403),
    # The group has a held session: no role may replace its schedule (409), only plan it.
    "generate schedule": (409, 409, 404, 403, 403, 403),
    "read session": (200, 200, 404, 200, 200, 403),
    "edit session": (200, 200, 404, 403, 403, 403),
    "cancel session": (200, 200, 404, 403, 403, 403),
    "read attendance": (200, 200, 404, 403, 200, 403),
    "record attendance": (403, 200, 404, 403, 403, 403),
    "exposure": (200, 200, 200, 403, 200, 403),
    "group exposure": (200, 200, 404, 403, 200, 403),
    "group fidelity": (403, 403, 403, 200, 200, 403),
    "list ratings": (403, 403, 403, 200, 200, 403),
    "submit rating": (403, 403, 403, 201, 403, 403),
    # Rater 1's rating, before rater 2 is in: invisible to another rater (404).
    "read rating": (403, 403, 403, 404, 200, 403),
    "correct rating": (403, 403, 403, 404, 403, 403),
    "fidelity summary": (403, 403, 403, 200, 200, 403),
    "instructors": (200, 200, 400, 403, 403, 403),
    "modules": (200, 200, 200, 200, 200, 403),
}


def test_the_matrix_covers_every_endpoint_of_the_app(staff) -> None:
    from fidelity.urls import api_urlpatterns

    assert set(MATRIX) == set(ENDPOINTS)
    assert all(len(row) == len(ROLES) for row in MATRIX.values())
    world = build_world(staff)
    tried = [url(world).removeprefix("/api/v1/").split("?")[0] for _, url, _ in ENDPOINTS.values()]
    untested = [
        str(p.pattern) for p in api_urlpatterns if not any(p.pattern.match(u) for u in tried)
    ]
    assert untested == []


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_what_the_matrix_says(staff, role: str) -> None:
    world = build_world(staff)
    client = api_client(getattr(staff, role))
    column = ROLES.index(role)
    wrong = {}
    for name, (method, url, body) in ENDPOINTS.items():
        with transaction.atomic():
            response = getattr(client, method)(url(world), body(world), format="json")
            transaction.set_rollback(True)
        expected = MATRIX[name][column]
        if response.status_code != expected:
            wrong[name] = (expected, response.status_code, response.content[:200])
    assert wrong == {}, f"{role}: {wrong}"
