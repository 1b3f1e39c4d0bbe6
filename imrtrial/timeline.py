"""The participant overview's timeline, assembled from every app. Each app may define
`participant_timeline(participant, user) -> list[TimelineEntry]` in its selectors module and
is itself responsible for leaving out what the user may not see (blinding)."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from types import ModuleType
from typing import Any

from django.utils import timezone

APPS = ("participants", "randomization", "assessments", "fidelity", "exports")


@dataclass(frozen=True)
class TimelineEntry:
    """One thing that happened. `when` is what the page shows: a moment, or a date (a consent
    signed on a day). `recorded_at`, optional, orders a date among the same day's events: a
    consent dated today and recorded after today's screening comes after it."""

    when: datetime | date
    title: str
    detail: str = ""
    url: str = ""
    recorded_at: datetime | None = None

    @property
    def sort_key(self) -> tuple[date, datetime]:
        if isinstance(self.when, datetime):
            return timezone.localdate(self.when), self.when
        start_of_day = timezone.make_aware(datetime.combine(self.when, time.min))
        return self.when, self.recorded_at or start_of_day


def selectors_modules() -> Iterator[ModuleType]:
    """Each app's `selectors` module, for the contracts that collect from every app (this
    timeline, imrtrial.audit_trail). An app that has no selectors module yet contributes
    nothing; any other import error is a bug and is raised."""
    for app in APPS:
        name = f"{app}.selectors"
        try:
            yield importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name != name:
                raise


def collect(participant: Any, user: Any) -> list[TimelineEntry]:
    entries: list[TimelineEntry] = []
    for module in selectors_modules():
        contribute = getattr(module, "participant_timeline", None)
        if contribute is not None:
            entries.extend(contribute(participant, user))
    return sorted(entries, key=lambda entry: entry.sort_key)
