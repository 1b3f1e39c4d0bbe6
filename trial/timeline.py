"""The participant overview's timeline, assembled from every app. An app contributes with
`timeline.contributors.register(selectors.participant_timeline)` in its `AppConfig.ready()`;
the function, `(participant, user) -> list[TimelineEntry]`, is itself responsible for leaving
out what the user may not see (blinding)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from django.utils import timezone

from trial.access import Viewer
from trial.registry import Registry


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


# (participant, user) -> the entries this user may see.
TimelineContributor = Callable[[Any, Any], list[TimelineEntry]]

contributors: Registry[TimelineContributor] = Registry("participant timeline contributions")


def collect(participant: Any, user: Viewer) -> list[TimelineEntry]:
    entries: list[TimelineEntry] = []
    for contribute in contributors:
        entries.extend(contribute(participant, user))
    return sorted(entries, key=lambda entry: entry.sort_key)
