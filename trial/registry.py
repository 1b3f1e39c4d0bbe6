"""Dependency inversion between apps: a lower app's page that shows what a higher app knows
(the participant's timeline, the audit history, the allocation on the participant API) reads
a registry that each higher app fills in its `AppConfig.ready()`. The lower app imports
nothing above it; the higher app imports the registry, which is below it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """An ordered set of contributions of one kind (registration order: INSTALLED_APPS)."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._items: list[T] = []

    def register(self, item: T) -> T:
        """Add `item` once (AppConfig.ready() may run again in tests); returns it, so the
        method also serves as a decorator."""
        if item not in self._items:
            self._items.append(item)
        return item

    def __iter__(self) -> Iterator[T]:
        return iter(tuple(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"<Registry of {self.what}: {len(self._items)}>"
