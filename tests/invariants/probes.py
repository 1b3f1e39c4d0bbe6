"""Bad input, derived from the OpenAPI schema: for a request body schema and a valid body, every
way of getting it wrong that a client could send (malformed JSON, the wrong JSON type, each
field with wrong types, huge numbers, NUL characters, over-long text, unknown choices,
impossible dates, an oversized body).

A probe that `must_refuse` is invalid by any reading and must get a 4xx answer. The others are
odd but possibly valid (text without a maximum length, the first and the last day a date can
have): they may be accepted, and must never crash."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

# Larger than any request the API takes (settings.DATA_UPLOAD_MAX_MEMORY_SIZE).
OVERSIZED = 3 * 1024 * 1024
HUGE = 10**30  # beyond every integer column (bigint ends near 9.2e18)
NUL = "bad\x00value"  # PostgreSQL text cannot hold NUL


@dataclass(frozen=True)
class Probe:
    label: str
    body: bytes
    must_refuse: bool = True
    query: str = ""
    content_type: str = "application/json"


def encode(value: Any) -> bytes:
    return json.dumps(value).encode()


def resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """A property's schema with $ref and single-entry allOf followed."""
    node = dict(node)
    while True:
        if "$ref" in node:
            name = node.pop("$ref").rsplit("/", 1)[-1]
            node = {**schema["components"]["schemas"][name], **node}
        elif "allOf" in node and len(node["allOf"]) == 1:
            inner = node.pop("allOf")[0]
            node = {**resolve(schema, inner), **node}
        else:
            return node


def value_mutations(prop: dict[str, Any], good: Any) -> list[tuple[str, Any, bool]]:
    """(label, value, must_refuse) for one property."""
    kind = prop.get("type")
    options = prop.get("oneOf")
    nullable = bool(prop.get("nullable"))
    found: list[tuple[str, Any, bool]] = [
        ("an object instead of a value", {"nested": {"x": 1}}, kind != "object"),
        ("null", None, not nullable),
    ]
    if kind != "array":
        found.append(("a list instead of a value", [1, 2], True))
    kinds = {o.get("type") for o in options} if options else {kind}
    if "string" in kinds:
        found += [
            ("a NUL character", NUL, True),
            ("a superscript digit", "²", False),
        ]
        if "integer" not in kinds:
            found.append(("true instead of text", True, True))
        limit = prop.get("maxLength")
        if limit is not None:
            found.append((f"{limit + 1} characters", "x" * (limit + 1), True))
        else:
            found.append(("20000 characters", "x" * 20000, False))
        if "enum" in prop:
            found.append(("an unknown choice", "not-a-choice", True))
        if prop.get("format") in ("date", "date-time"):
            found += [
                ("30 February", "2023-02-30", True),
                ("words for a date", "next week", True),
                ("year 99999", "99999-01-01", True),
                ("year 1", "0001-01-01", False),
                ("year 9999", "9999-12-31", False),
            ]
    if "integer" in kinds:
        found += [
            ("a huge integer", HUGE, True),
            ("a fraction", 1.5, True),
        ]
        if "string" not in kinds:
            found += [("letters for a number", "abc", True), ("true for a number", True, True)]
    if kind == "boolean":
        found += [("a word for a yes/no", "maybe", True), ("2 for a yes/no", 2, True)]
    if kind == "array":
        item = prop.get("items", {})
        scalar = item.get("type") in ("integer", "string") or "enum" in item or "$ref" in item
        found += [
            ("a string instead of a list", "x", True),
            ("an object instead of a list", {"a": 1}, True),
            ("a list holding null", [None], True),
            ("a list holding a NUL character", [NUL], True),
            ("a list holding a huge integer", [HUGE], True),
        ]
        if scalar:
            found.append(("a list of objects", [{"a": 1}], True))
    if kind == "object":
        key = next(iter(good), "X") if isinstance(good, dict) and good else "X"
        found += [
            ("a string instead of an object", "x", True),
            ("a list instead of an object", [1], True),
            ("an object nested in a value", {key: {"a": {"b": 1}}}, True),
            ("a NUL character in a value", {key: NUL}, True),
            ("a NUL character in a key", {"\x00": 1}, True),
            ("a huge integer in a value", {key: HUGE}, True),
        ]
    return found


def body_probes(
    schema: dict[str, Any], body_schema: dict[str, Any] | None, good: Any
) -> Iterator[Probe]:
    """Every probe for one JSON endpoint: the body as a whole, then field by field."""
    yield Probe("malformed JSON", b'{"a": ')
    yield Probe("bytes that are not UTF-8", b'{"a": "\xff\xfe"}')
    yield Probe("a JSON string instead of an object", b'"text"')
    yield Probe("a JSON number instead of an object", b"5")
    yield Probe("JSON null instead of an object", b"null")
    yield Probe("a JSON list holding the valid body", encode([good]))
    yield Probe("NaN", b'{"a": NaN}')
    yield Probe("JSON nested 5000 deep", b"[" * 5000 + b"]" * 5000)
    padded = dict(good) if isinstance(good, dict) else {}
    padded["padding"] = "x" * OVERSIZED
    yield Probe("an oversized body", encode(padded))
    if body_schema is None:
        return
    target = resolve(schema, body_schema)
    properties = target.get("properties", {})
    required = target.get("required", [])
    yield Probe("an empty object", b"{}", must_refuse=bool(required))
    for name in required:
        yield Probe(f"{name}: left out", encode({k: v for k, v in good.items() if k != name}), True)
    for name, node in properties.items():
        prop = resolve(schema, node)
        if prop.get("readOnly"):
            continue
        for label, value, must_refuse in value_mutations(prop, good.get(name)):
            yield Probe(f"{name}: {label}", encode({**good, name: value}), must_refuse)


def query_probes(
    parameters: list[dict[str, Any]], good_body: bytes, content_type: str
) -> Iterator[Probe]:
    """Text query parameters of a write (e.g. the register import's ?note=)."""
    for parameter in parameters:
        if parameter.get("in") != "query" or parameter.get("schema", {}).get("type") != "string":
            continue
        name = parameter["name"]
        yield Probe(
            f"?{name}= with a NUL character",
            good_body,
            True,
            query=f"{name}=bad%00value",
            content_type=content_type,
        )
        yield Probe(
            f"?{name}= of 5000 characters",
            good_body,
            False,
            query=f"{name}={'x' * 5000}",
            content_type=content_type,
        )


def is_error_body(data: Any) -> bool:
    """API.md: {"detail": "..."} or field errors {"field": ["message", ...]} (nested fields
    as {"field": {"key": [...]}})."""

    def messages(value: Any) -> bool:
        if isinstance(value, list):
            return bool(value) and all(isinstance(m, str) and m for m in value)
        if isinstance(value, dict):
            return bool(value) and all(messages(v) for v in value.values())
        return False

    if not isinstance(data, dict) or not data:
        return False
    if set(data) == {"detail"}:
        return isinstance(data["detail"], str) and bool(data["detail"])
    return all(messages(v) or (k == "detail" and isinstance(v, str)) for k, v in data.items())
