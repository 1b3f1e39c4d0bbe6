"""Bad input in the address itself: an id beyond any column (more digits than bigint holds), an
unknown timepoint or instrument code, a made-up file name. Every route answers it as "not
found" or "not allowed", never with a server error, for users who may use the route."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import api_client
from tests.invariants.routes import routes
from tests.invariants.test_bad_input_pages import PAGES, client_for
from tests.invariants.world import Trial, rolled_back
from trial.roles import Role

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
                client: Client = api_client(trial.user(role))
                for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
                    attempt(client, method, url, data="{}", content_type="application/json")
        else:
            who, _ = PAGES[route.name][0]
            client = client_for(trial, who)
            for method in ("GET", "POST"):
                attempt(client, method, url)
    assert problems == []


def test_no_list_crashes_on_odd_query_parameters(trial: Trial, db: None) -> None:
    """The filters of the schema's GET operations (?site=, ?status=, ?participant=...) with
    values no row can match."""
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    odd = ["bad%00value", "9" * 25, "%C2%B2", "-1", "x" * 3000]
    problems: list[str] = []
    for path, operations in schema["paths"].items():
        parameters = [
            p["name"] for p in operations.get("get", {}).get("parameters", []) if p["in"] == "query"
        ]
        if not parameters or "{" in path:
            continue
        for role in API_ROLES:
            client = api_client(trial.user(role))
            client.raise_request_exception = False
            for name in parameters:
                for value in odd:
                    answer = client.get(f"{path}?{name}={value}")
                    if answer.status_code >= 500:
                        exc = getattr(answer, "exc_info", None)
                        problems.append(f"{path}?{name}={value[:20]} as {role}: {exc and exc[1]!r}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", sorted(PAGES))
def test_no_page_crashes_on_odd_query_parameters(name: str, trial: Trial, db: None) -> None:
    """Every page with the filters the pages read (?q=, ?site=, ?status=, ?next=...) set to
    values no row can match."""
    names = ["q", "site", "status", "state", "kind", "participant", "page", "panel", "next"]
    odd = ["bad%00value", "9" * 25, "%C2%B2", "-1", "x" * 3000, "//evil.example/"]
    problems: list[str] = []
    who, args = PAGES[name][0]
    client = client_for(trial, who)
    url = reverse(name, kwargs=args(trial))
    for value in odd:
        query = "&".join(f"{n}={value}" for n in names)
        with rolled_back():
            answer = client.get(f"{url}?{query}")
        if answer.status_code >= 500:
            exc = getattr(answer, "exc_info", None)
            problems.append(f"{url}?…={value[:20]}: {exc and exc[1]!r}")
    assert not problems, "\n".join(problems)
