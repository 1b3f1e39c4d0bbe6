"""Every URL pattern of the project, from the resolver (so that a new page or endpoint is
covered by the project-wide tests without editing them)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver


@dataclass(frozen=True)
class Route:
    route: str  # as written in the URLconf, e.g. "participants/<int:pk>/"
    name: str  # namespaced, e.g. "participants:overview" ("" when unnamed)
    pattern: URLPattern

    @property
    def is_api(self) -> bool:
        return self.route.startswith("api/")

    @property
    def is_admin(self) -> bool:
        return self.route.startswith("admin/")


def routes() -> list[Route]:
    def walk(patterns: list[Any], prefix: str, namespace: str) -> Iterator[Route]:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
                yield from walk(entry.url_patterns, prefix + str(entry.pattern), inner)
            elif isinstance(entry, URLPattern):
                name = f"{namespace}{entry.name}" if entry.name else ""
                yield Route(prefix + str(entry.pattern), name, entry)

    return list(walk(get_resolver().url_patterns, "", ""))
