"""docs/api.md, the API reference of the project, is kept in step with the OpenAPI schema: every
operation of the schema under /api/v1/ is listed there, and every operation it names exists."""

from __future__ import annotations

import re
from pathlib import Path

from drf_spectacular.generators import SchemaGenerator

REFERENCE = Path(__file__).resolve().parent.parent / "docs" / "api.md"
METHODS = ("get", "post", "put", "patch", "delete")
# "`POST /api/v1/groups/`" in the text, or a row "| `POST` | `/api/v1/groups/` |" of the index.
NAMED = re.compile(
    r"`(GET|POST|PUT|PATCH|DELETE)(?:` \| `| )(/api/v1/[^`\s?]*)",
)
PARAMETER = re.compile(r"\{[^}]*\}")


def normal(path: str) -> str:
    """Parameter names may differ between the text and the schema ({id} vs {pk})."""
    return PARAMETER.sub("{}", path)


def schema_operations() -> set[tuple[str, str]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return {
        (method.upper(), normal(path))
        for path, operations in schema["paths"].items()
        if path.startswith("/api/v1/")
        for method in operations
        if method in METHODS
    }


def documented_operations() -> set[tuple[str, str]]:
    text = REFERENCE.read_text(encoding="utf-8")
    return {(method, normal(path)) for method, path in NAMED.findall(text)}


def test_every_operation_of_the_schema_is_in_the_api_reference() -> None:
    missing = schema_operations() - documented_operations()
    assert missing == set(), f"add to docs/api.md: {sorted(missing)}"


def test_every_operation_the_api_reference_names_exists() -> None:
    unknown = documented_operations() - schema_operations()
    assert unknown == set(), f"docs/api.md names operations the API lacks: {sorted(unknown)}"
