"""Visit windows and the service-use analysis windows, all counted from the randomisation
date (settings.ASSESSMENT_WINDOWS, SERVICE_USE_PRE_MONTHS). The randomisation date is arm-free:
everyone who works with a participant may know it."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from assessments.models import Timepoint
from instruments.base import Action, Finding
from participants.models import Participant


def _day(day: date) -> str:
    """A date in a message, in the reader's format (dd-mm-åååå in Danish)."""
    return formats.date_format(day, "SHORT_DATE_FORMAT")


def add_months(day: date, months: int) -> date:
    """The same day `months` later; the last day of the month when that day does not exist."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def randomization_date(participant: Participant) -> date | None:
    """The visit windows run from the randomisation date (the participant's own field, written
    with the allocation)."""
    return participant.randomized_on


@dataclass(frozen=True)
class Window:
    """When a timepoint's interview is due. `closes` None: open-ended (baseline before
    randomisation); `due` None: not yet known (post/follow-up before randomisation)."""

    timepoint: str
    due: date | None
    opens: date | None
    closes: date | None

    def contains(self, day: date) -> bool:
        if self.opens is None:
            return False
        return self.opens <= day and (self.closes is None or day <= self.closes)

    # The states are codes (URLs, the API); pages show them through the `translated` filter.
    STATES = (
        gettext_noop("completed"),
        gettext_noop("due"),
        gettext_noop("open"),
        gettext_noop("overdue"),
    )

    def state(self, *, done: bool, today: date) -> str:
        """completed, due (window not open yet), open (in window) or overdue."""
        if done:
            return "completed"
        if self.opens is None or today < self.opens:
            return "due"
        if self.closes is not None and today > self.closes:
            return "overdue"
        return "open"


def window(
    participant: Any, timepoint: str, *, randomized_on: date | bool | None = False
) -> Window:
    if randomized_on is False:
        randomized_on = randomization_date(participant)
    assert randomized_on is not True
    if timepoint == Timepoint.BASELINE:
        start = participant.consent_date or timezone.localdate(participant.registered_at)
        return Window(timepoint, start, start, randomized_on)
    rule = settings.ASSESSMENT_WINDOWS[timepoint]
    if randomized_on is None:
        return Window(timepoint, None, None, None)
    return Window(
        timepoint,
        add_months(randomized_on, rule["due"]),
        add_months(randomized_on, rule["opens"]),
        add_months(randomized_on, rule["closes"]),
    )


def interview_date_findings(
    participant: Any, timepoint: str, interview_date: date | None, randomized_on: date | None
) -> list[Finding]:
    """Edit checks on the interview date: hard errors for impossible dates, an automatic
    query for a date outside the visit window."""
    if interview_date is None:
        return []
    found: list[Finding] = []
    if interview_date > timezone.localdate():
        found.append(
            Finding(
                "interview_date",
                "date_in_future",
                _("The interview date is in the future."),
                Action.ERROR,
            )
        )
    if participant.consent_date and interview_date < participant.consent_date:
        found.append(
            Finding(
                "interview_date",
                "before_consent",
                _("The interview date is before the consent date (%s).")
                % _day(participant.consent_date),
                Action.ERROR,
            )
        )
    if (
        participant.status_date
        and interview_date > participant.status_date
        and participant.status
        in (
            "withdrawn",
            "deceased",
        )
    ):
        found.append(
            Finding(
                "interview_date",
                "after_end_of_participation",
                _("The interview date is after the participant's %(status)s date (%(date)s).")
                % {
                    "status": participant.get_status_display().lower(),
                    "date": _day(participant.status_date),
                },
                Action.ERROR,
            )
        )
    if timepoint == Timepoint.BASELINE:
        if randomized_on is not None and interview_date > randomized_on:
            found.append(
                Finding(
                    "interview_date",
                    "window",
                    _("The baseline interview (%(date)s) is after randomisation (%(rand)s).")
                    % {"date": _day(interview_date), "rand": _day(randomized_on)},
                )
            )
        return found
    if randomized_on is not None and interview_date < randomized_on:
        found.append(
            Finding(
                "interview_date",
                "before_randomisation",
                _("A %(timepoint)s interview cannot be before randomisation (%(rand)s).")
                % {
                    "timepoint": Timepoint(timepoint).label.lower(),
                    "rand": _day(randomized_on),
                },
                Action.ERROR,
            )
        )
        return found
    visit = window(participant, timepoint, randomized_on=randomized_on)
    if visit.opens is not None and not visit.contains(interview_date):
        found.append(
            Finding(
                "interview_date",
                "window",
                _(
                    "The interview date %(date)s is outside the %(timepoint)s window "
                    "%(opens)s – %(closes)s."
                )
                % {
                    "date": _day(interview_date),
                    "timepoint": Timepoint(timepoint).label.lower(),
                    "opens": _day(visit.opens),
                    "closes": _day(visit.closes) if visit.closes else "",
                },
            )
        )
    return found


def service_use_windows(randomized_on: date) -> dict[str, tuple[date, date]]:
    """The analysis windows of SPEC §11 as inclusive (first day, last day) pairs, with T1 and
    T2 at their nominal due dates so every randomised participant has the same windows."""
    t1 = add_months(randomized_on, settings.ASSESSMENT_WINDOWS["post"]["due"])
    t2 = add_months(randomized_on, settings.ASSESSMENT_WINDOWS["followup"]["due"])
    day = timedelta(days=1)
    return {
        "W_PRE": (add_months(randomized_on, -settings.SERVICE_USE_PRE_MONTHS), randomized_on - day),
        "W1": (randomized_on, t1 - day),
        "W2": (t1, t2 - day),
        "W_ALL": (randomized_on, t2 - day),
    }
