"""The permission matrix: every endpoint and page × every role × own site / other site, with
the status each must answer. Each app states its table and runs it with `assert_matrix`:

    from tests.matrix import Case, World, assert_matrix, expect

    def detail(w: World, where: str) -> str:
        return f"/api/v1/participants/{w.participant(where).pk}/"

    CASES = [Case("participant", "GET", detail, expect(403, coordinator=(200, 404)))]

    @pytest.mark.parametrize("case", CASES, ids=lambda c: c.label)
    def test_permission_matrix(case, world):
        assert_matrix(case, world)

with the fixture made available in the app's tests/<app>/conftest.py:

    from tests.matrix import matrix_staff, world  # noqa: F401

Every role gets one user: the site-scoped roles (coordinator, assessor, clinician,
instructor) work at OWN_SITE only, the others cover every site. "own" runs the request
against objects (or a site) at OWN_SITE, "other" against OTHER_SITE. Anonymous callers are
a role too. Each request runs in a savepoint that is rolled back, so writes do not leak from
one cell of the table into the next and the objects are built once per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from rest_framework.test import APIClient

from participants.models import Participant
from tests.factories import api_client, make_participant, make_staff, page_client
from trial.roles import SITE_SCOPED_ROLES, Role

OWN_SITE = "BAL"
OTHER_SITE = "GLA"
OWN, OTHER = "own", "other"
ANONYMOUS = "anonymous"
ROLES: tuple[str, ...] = (ANONYMOUS, *Role.values)

# One status for both sites, or (own site, other site).
Expected = int | tuple[int, int]


def expect(default: Expected, **by_role: Expected) -> dict[str, tuple[int, int]]:
    """A full row of the table: `default` for every role not named. The anonymous caller is
    left to the case (401 for the API, a redirect to the login page for pages) unless named."""
    unknown = set(by_role) - set(ROLES)
    if unknown:
        raise ValueError(f"Unknown role(s) in the matrix: {sorted(unknown)}")
    table: dict[str, tuple[int, int]] = {}
    for role in ROLES:
        if role == ANONYMOUS and role not in by_role:
            continue
        value = by_role.get(role, default)
        table[role] = value if isinstance(value, tuple) else (value, value)
    return table


@dataclass(frozen=True)
class Case:
    """One endpoint or page. `path` and `body` get the World and OWN or OTHER."""

    label: str
    method: str
    path: Callable[[World, str], str]
    expected: dict[str, tuple[int, int]]
    body: Callable[[World, str], dict[str, Any]] | None = None
    page: bool = False  # a page (form-encoded, session) rather than the JSON API

    def expected_for(self, role: str, where: str) -> int:
        if role == ANONYMOUS and ANONYMOUS not in self.expected:
            return 302 if self.page else 401
        own, other = self.expected[role]
        return own if where == OWN else other


@dataclass
class World:
    """Users for every role, their clients, and objects at the own and the other site."""

    users: dict[str, Any]
    api: dict[str, APIClient] = field(default_factory=dict)
    pages: dict[str, Client] = field(default_factory=dict)
    _objects: dict[tuple[str, str], Any] = field(default_factory=dict)

    @staticmethod
    def site(where: str) -> str:
        return OWN_SITE if where == OWN else OTHER_SITE

    def get(self, key: str, where: str, build: Callable[[str], Any]) -> Any:
        """An object built once per test by `build(site_code)` (for other apps' objects)."""
        if (key, where) not in self._objects:
            self._objects[(key, where)] = build(self.site(where))
        return self._objects[(key, where)]

    def participant(self, where: str, stage: str = "registered") -> Participant:
        """A participant at the own or other site, registered, eligible, ineligible or
        consented."""
        return self.get(
            f"participant:{stage}", where, lambda code: make_participant(code, stage=stage)
        )

    def client_for(self, role: str, *, page: bool) -> Any:
        if role == ANONYMOUS:
            return Client() if page else APIClient()
        return (self.pages if page else self.api)[role]


def build_world() -> World:
    users = {}
    for role in Role.values:
        scoped = role in SITE_SCOPED_ROLES
        users[role] = make_staff(f"matrix-{role}", role, sites=[OWN_SITE] if scoped else None)
    world = World(users=users)
    for role, user in users.items():
        world.api[role] = api_client(user)
        world.pages[role] = page_client(user)
    return world


@pytest.fixture(scope="module")
def matrix_staff(django_db_setup: Any, django_db_blocker: Any) -> Iterator[World]:
    """The users and their logged-in clients, made once per module in a transaction that is
    rolled back at its end (each test runs in a savepoint inside it)."""
    with django_db_blocker.unblock(), transaction.atomic():
        call_command("setup_trial", stdout=StringIO())
        yield build_world()
        transaction.set_rollback(True)


@pytest.fixture
def world(matrix_staff: World, db: None) -> World:
    """The module's users and clients, with objects of this test's own (rolled back with it)."""
    return replace(matrix_staff, _objects={})


def run_cell(case: Case, world: World, role: str, where: str) -> int:
    # Objects are built before the savepoint, so that the rollback keeps them.
    path = case.path(world, where)
    body = case.body(world, where) if case.body else None
    client = world.client_for(role, page=case.page)
    kwargs: dict[str, Any] = {}
    if body is not None:
        kwargs = {"data": body} if case.page else {"data": body, "format": "json"}
    with transaction.atomic():
        response = getattr(client, case.method.lower())(path, **kwargs)
        transaction.set_rollback(True)
    return response.status_code


def check(case: Case, world: World) -> list[str]:
    """The cells of the row that answer differently from the table."""
    mismatches = []
    for role in ROLES:
        for where in (OWN, OTHER):
            wanted = case.expected_for(role, where)
            got = run_cell(case, world, role, where)
            if got != wanted:
                mismatches.append(
                    f"{case.method} {case.label} as {role}, {where} site: "
                    f"expected {wanted}, got {got}"
                )
    return mismatches


def assert_matrix(case: Case, world: World) -> None:
    mismatches = check(case, world)
    assert not mismatches, "\n".join(mismatches)
