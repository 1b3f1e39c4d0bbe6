"""Exposure to IMR: how many sessions each participant randomised to IMR attended, and the
summaries the trial reports (paper: mean 16.4 sessions, SD 13.3; 13 % attended none; 46.5 %
attended more than 20; mean 87 days from randomisation to the first session).

Who counts (intention to treat): every participant randomised to IMR, whatever happened
afterwards (withdrawn, lost to follow-up, deceased), including those never placed in a group,
who count as 0 sessions. A per-group summary covers the group's members. Only sessions marked
present count; a cancelled session never does.

The functions here are pure: selectors fetch the rows, these compute the figures, so a test can
check them against a hand-computed example."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

# Mutually exclusive attendance categories. The paper's "more than 10" (its exposure
# definition, 0–10 vs > 10) is 11-20 plus >20; its "more than 20" is >20.
CATEGORIES = ("0", "1-10", "11-20", ">20")


def category_of(sessions: int) -> str:
    if sessions == 0:
        return "0"
    if sessions <= 10:
        return "1-10"
    if sessions <= 20:
        return "11-20"
    return ">20"


@dataclass(frozen=True)
class ExposureRow:
    """One participant randomised to IMR (the export row; column order is the file's)."""

    participant_id: int
    study_id: str
    site: str
    status: str
    randomized_on: date
    group_id: int | None
    group_name: str
    sessions_attended: int
    first_session_on: date | None
    days_to_first_session: int | None
    category: str
    more_than_10: bool
    more_than_20: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def make_row(
    *,
    participant_id: int,
    study_id: str,
    site: str,
    status: str,
    randomized_on: date,
    group_id: int | None,
    group_name: str,
    sessions_attended: int,
    first_session_on: date | None,
) -> ExposureRow:
    days = (first_session_on - randomized_on).days if first_session_on else None
    return ExposureRow(
        participant_id=participant_id,
        study_id=study_id,
        site=site,
        status=status,
        randomized_on=randomized_on,
        group_id=group_id,
        group_name=group_name,
        sessions_attended=sessions_attended,
        first_session_on=first_session_on,
        days_to_first_session=days,
        category=category_of(sessions_attended),
        more_than_10=sessions_attended > 10,
        more_than_20=sessions_attended > 20,
    )


def mean_of(values: Sequence[float]) -> float | None:
    return statistics.fmean(values) if values else None


def sd_of(values: Sequence[float]) -> float | None:
    # The sample SD (n − 1), as trial reports give it; undefined for fewer than two values.
    return statistics.stdev(values) if len(values) >= 2 else None


def _share(count: int, n: int) -> float | None:
    return count / n if n else None


@dataclass(frozen=True)
class ExposureSummary:
    scope: str
    participants: int
    placed_in_group: int
    mean_sessions: float | None
    sd_sessions: float | None
    attended_none: int
    share_none: float | None
    more_than_10: int
    share_more_than_10: float | None
    more_than_20: int
    share_more_than_20: float | None
    categories: dict[str, int] = field(default_factory=dict)
    with_first_session: int = 0
    mean_days_to_first_session: float | None = None
    sd_days_to_first_session: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def one_to_ten(self) -> int:
        return self.categories.get("1-10", 0)


@dataclass(frozen=True)
class Figures:
    """What a summary is made of, as SQL aggregates it (fidelity.selectors.exposure): counts,
    means and sample SDs over one scope's rows, without the rows."""

    participants: int
    placed_in_group: int
    mean_sessions: float | None
    sd_sessions: float | None
    attended_none: int
    one_to_ten: int
    eleven_to_twenty: int
    more_than_20: int
    with_first_session: int
    mean_days_to_first_session: float | None
    sd_days_to_first_session: float | None


def summary_of(scope: str, figures: Figures) -> ExposureSummary:
    """The summary of `figures` (the same as `summarise` of the rows they were taken from)."""
    n = figures.participants
    over_10 = figures.eleven_to_twenty + figures.more_than_20
    return ExposureSummary(
        scope=scope,
        participants=n,
        placed_in_group=figures.placed_in_group,
        mean_sessions=figures.mean_sessions,
        sd_sessions=figures.sd_sessions,
        attended_none=figures.attended_none,
        share_none=_share(figures.attended_none, n),
        more_than_10=over_10,
        share_more_than_10=_share(over_10, n),
        more_than_20=figures.more_than_20,
        share_more_than_20=_share(figures.more_than_20, n),
        categories={
            "0": figures.attended_none,
            "1-10": figures.one_to_ten,
            "11-20": figures.eleven_to_twenty,
            ">20": figures.more_than_20,
        },
        with_first_session=figures.with_first_session,
        mean_days_to_first_session=figures.mean_days_to_first_session,
        sd_days_to_first_session=figures.sd_days_to_first_session,
    )


def summarise(scope: str, rows: Sequence[ExposureRow]) -> ExposureSummary:
    sessions = [row.sessions_attended for row in rows]
    days = [row.days_to_first_session for row in rows if row.days_to_first_session is not None]
    n = len(rows)
    none = sum(1 for s in sessions if s == 0)
    over_10 = sum(1 for s in sessions if s > 10)
    over_20 = sum(1 for s in sessions if s > 20)
    return ExposureSummary(
        scope=scope,
        participants=n,
        placed_in_group=sum(1 for row in rows if row.group_id is not None),
        mean_sessions=mean_of(sessions),
        sd_sessions=sd_of(sessions),
        attended_none=none,
        share_none=_share(none, n),
        more_than_10=over_10,
        share_more_than_10=_share(over_10, n),
        more_than_20=over_20,
        share_more_than_20=_share(over_20, n),
        categories={c: sum(1 for row in rows if row.category == c) for c in CATEGORIES},
        with_first_session=len(days),
        mean_days_to_first_session=mean_of(days),
        sd_days_to_first_session=sd_of(days),
    )
