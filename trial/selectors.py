"""Reads of the trial core: the freeze/lock state."""

from __future__ import annotations

from django.db.models import QuerySet

from trial.models import DatasetLock


def current_lock() -> DatasetLock | None:
    return DatasetLock.objects.order_by("-id").first()


def lock_level() -> str:
    """'open', 'freeze' or 'lock'."""
    latest = current_lock()
    return latest.level if latest else DatasetLock.Level.OPEN


def lock_history(*, limit: int | None = None) -> QuerySet[DatasetLock]:
    queryset = DatasetLock.objects.select_related("set_by").order_by("-id")
    return queryset[:limit] if limit else queryset
