"""Bad input in the address itself: an id beyond any column (more digits than bigint holds), an
unknown timepoint or instrument code, a made-up file name. Every route answers it as "not
found" or "not allowed", never with a server error, for users who may use the route."""

from __future__ import annotations

import re
import uuid
from typing import Any

from imrtrial.roles import Role
from tests.factories import api_client
from tests.invariants.routes import routes
from tests.invariants.test_bad_input_pages import PAGES, client_for
from tests.invariants.world import Trial, rolled_back

PARAMETER = re.compile(r"<(?:(?P<converter>\w+):)?(?P<name>\w+)>")
ODD = {"int": "9" * 25, "str": "NOT-A-CODE\u00b2", "path": "9" * 25, "uuid": str(uuid.UUID(int=7))}
# Unblinded and blinded users who together reach every API route.
API_ROLES = (Role.COORDINATOR, Role.STATISTICIAN, Role.DATA_MANAGER, Role.INSTRUCTOR)


def odd_address(route: str) -> str:
    return "/" + PARAMETER.sub(lambda m: ODD[m["converter"] or "str"], route)


def test_no_route_crashes_on_an_address_no_row_can_have(trial: Trial, db: None) -> None:
    problems: list[str] = []

    def attempt(client: Any, method: str, url: str, **kwargs: Any) -> None:
        client.raise_request_exception = False
        with rolled_back():
            answer = client.generic(method, url, **kwargs)
        if answer.status_code >= 500:
            exc = getattr(answer, "exc_info", None)
            problems.append(f"{method} {url}: {answer.status_code} {exc[1] if exc else ''!r}")

    for route in routes():
        if route.is_admin or "<" not in route.route:
            continue
        url = odd_address(route.route)
        if route.is_api:
            for role in API_ROLES:
                client = api_client(trial.user(role))
                for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
                    attempt(client, method, url, data="{}", content_type="application/json")
        else:
            who, _ = PAGES[route.name][0]
            client = client_for(trial, who)
            for method in ("GET", "POST"):
                attempt(client, method, url)
    assert problems == []
