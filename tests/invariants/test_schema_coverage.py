"""API.md: "Every endpoint is in the OpenAPI schema at /api/v1/schema/". Every API route of the
resolver, with every method its view answers, is an operation of the schema, and the schema is
generated without warnings or errors."""

from __future__ import annotations

import json
import re
from typing import Any

from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator

from tests.invariants.routes import routes

METHODS = ("get", "post", "put", "patch", "delete")
# The schema and its documentation page describe the API; they are not part of it.
NOT_ENDPOINTS = {"schema", "api-docs"}
PARAMETER = re.compile(r"<(?:\w+:)?(\w+)>")


def schema_path(route: str) -> str:
    """ "api/v1/groups/<int:pk>/" -> "/api/v1/groups/{id}/" (drf-spectacular names pk "id")."""
    return "/" + PARAMETER.sub(lambda m: "{" + ("id" if m[1] == "pk" else m[1]) + "}", route)


def api_operations() -> set[tuple[str, str]]:
    found = set()
    for route in routes():
        if not route.is_api or route.name in NOT_ENDPOINTS:
            continue
        view = route.pattern.callback
        cls = getattr(view, "cls", None) or getattr(view, "view_class", None)
        assert cls is not None, f"{route.route} is not a class-based API view"
        for method in METHODS:
            if hasattr(cls, method):
                found.add((method, schema_path(route.route)))
    return found


def generate() -> tuple[dict[str, Any], list[str]]:
    GENERATOR_STATS.reset()
    schema = SchemaGenerator().get_schema(request=None, public=True)
    problems = [*GENERATOR_STATS._warn_cache, *GENERATOR_STATS._error_cache]
    GENERATOR_STATS.reset()
    return schema, problems


def test_every_api_route_and_method_is_an_operation_of_the_schema() -> None:
    schema, _ = generate()
    documented = {
        (method, path)
        for path, operations in schema["paths"].items()
        for method in operations
        if method in METHODS
    }
    operations = api_operations()
    assert operations - documented == set(), "missing from the schema"
    assert documented - operations == set(), "in the schema but not routed"


def test_the_schema_generates_without_warnings_or_errors() -> None:
    schema, problems = generate()
    assert problems == []
    assert json.dumps(schema)  # serialisable as served


def test_the_served_schema_is_the_generated_one(db: None) -> None:
    from django.test import Client

    served = Client().get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert served.status_code == 200
    paths = json.loads(served.content)["paths"]
    assert {p for _, p in api_operations()} <= set(paths)
