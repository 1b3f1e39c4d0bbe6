"""Every URL pattern of the project, from the resolver, refuses an anonymous caller: a page
redirects to the login page, an API endpoint answers 401 (API.md) with {"detail": ...}. The only
exceptions are the ones below, each with its reason."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest
from django.test import Client
from django.urls.resolvers import RoutePattern

from tests.invariants.routes import Route, routes

LOGIN = "/accounts/login/"

# Open to anonymous callers on purpose.
PUBLIC = {
    "login": "the login page",
    "set_language": "the login page's language switch (sets the language cookie)",
    "logout": "logging out needs no login (anonymous: a redirect to the login page, or 405)",
    "favicon.ico": "a redirect to a static file",
    "api-token": "the API's login: username, password and code give a token",
    "schema": "the OpenAPI schema is public documentation of the interface (API.md)",
    "api-docs": "the browsable documentation of that schema",
    "admin:login": "redirects to the trial's login page",
    "healthz": "the health check of load balancers and docker-compose: ok/down per service",
}

SAMPLE = {"int": "1", "str": "x", "slug": "x", "path": "1", "uuid": str(uuid.UUID(int=1))}
REGEX_KWARGS = {"app_label": "auth", "url": "nothing-here/"}
PARAMETER = re.compile(r"<(?:(?P<converter>\w+):)?(?P<name>\w+)>")
REGEX_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")


def address(route: Route) -> str:
    """The route with sample arguments: authentication is checked before any lookup."""
    if isinstance(route.pattern.pattern, RoutePattern):
        return "/" + PARAMETER.sub(lambda m: SAMPLE[m["converter"] or "str"], route.route)
    # A regular expression: each named group gets a sample, the anchors go.
    filled = REGEX_GROUP.sub(lambda m: REGEX_KWARGS[m[1]], route.route)
    return "/" + filled.replace("^", "").replace("$", "")


def key(route: Route) -> str:
    return route.name or route.route


def anonymous_answer(route: Route, method: str) -> Any:
    client = Client()
    client.raise_request_exception = False
    url = address(route)
    if route.is_api:
        return client.generic(method, url, "{}", content_type="application/json")
    return client.generic(method, url, "")


def test_the_public_routes_exist() -> None:
    names = {key(r) for r in routes()}
    assert set(PUBLIC) - names == set()


@pytest.mark.parametrize("route", [r for r in routes() if key(r) not in PUBLIC], ids=key)
def test_an_anonymous_caller_is_sent_to_log_in(route: Route, db: None) -> None:
    methods = ("GET", "POST", "PUT", "PATCH", "DELETE") if route.is_api else ("GET", "POST")
    for method in methods:
        answer = anonymous_answer(route, method)
        where = f"{method} {address(route)}"
        if route.is_api:
            assert answer.status_code == 401, (where, answer.status_code)
            assert set(json.loads(answer.content)) == {"detail"}, where
        else:
            assert answer.status_code == 302, (where, answer.status_code)
            # The admin's pages go through its own login page (and its log-out through its
            # index), which send on to the trial's.
            target, hops = answer["Location"], 0
            while not target.startswith(LOGIN) and target.startswith("/admin/") and hops < 3:
                target, hops = Client().get(target).get("Location", ""), hops + 1
            assert target.startswith(LOGIN), (where, answer["Location"], target)
