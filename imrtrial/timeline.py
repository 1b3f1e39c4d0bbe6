"""The participant overview's timeline, assembled from every app. Each app may define
`participant_timeline(participant, user) -> list[TimelineEntry]` in its selectors module and
is itself responsible for leaving out what the user may not see (blinding)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from django.utils import timezone

APPS = ("participants", "randomization", "assessments", "fidelity", "exports")


@dataclass(frozen=True)
class TimelineEntry:
    when: datetime | date
    title: str
    detail: str = ""
    url: str = ""

    @property
    def sort_key(self) -> datetime:
        if isinstance(self.when, datetime):
            return self.when
        return timezone.make_aware(datetime.combine(self.when, time.min))


def collect(participant: Any, user: Any) -> list[TimelineEntry]:
    entries: list[TimelineEntry] = []
    for app in APPS:
        module = importlib.import_module(f"{app}.selectors")
        contribute = getattr(module, "participant_timeline", None)
        if contribute is not None:
            entries.extend(contribute(participant, user))
    return sorted(entries, key=lambda entry: entry.sort_key)
