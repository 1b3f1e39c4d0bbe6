"""A demo clock: run the real services as if on an earlier day.

The services date what they record themselves (registration, screening and randomisation
times, the day a member joins a group) and refuse what could not have happened (consent before
registration, attendance before the session's day, a date in the future). A demo trial with a
history therefore runs each step "on" its own day. Django's `timezone.now()` (which every
service, model default and `auto_now` field uses) reads `datetime.now` from
django.utils.timezone's namespace; that one name is replaced for the duration of a step. The
audit trail's own timestamps come from PostgreSQL and stay the real time of the run: the
history shows honestly when the demo was written. For demo data only: never in the app."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, tzinfo
from unittest import mock

from django.utils import timezone


def moment(day: date, hour: int = 10, minute: int = 0) -> datetime:
    """An aware moment on `day` in the trial's time zone (Europe/Copenhagen)."""
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


@contextmanager
def running_on(when: datetime) -> Iterator[None]:
    """`timezone.now()` answers `when` inside the block."""

    class DemoDatetime(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> datetime:  # type: ignore[override]
            return when.astimezone(tz) if tz is not None else when.replace(tzinfo=None)

    with mock.patch("django.utils.timezone.datetime", DemoDatetime):
        yield
