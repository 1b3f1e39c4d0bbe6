from __future__ import annotations

from exports.models import DatasetLock


def current_lock() -> DatasetLock | None:
    return DatasetLock.objects.order_by("-id").first()


def lock_level() -> str:
    """'open', 'freeze' or 'lock'."""
    latest = current_lock()
    return latest.level if latest else DatasetLock.Level.OPEN
