"""Recruitment by month and site (API.md: `GET /api/v1/reports/recruitment/`).

A person counts as screened in the month of their first screening (re-screening does not
count twice), consented in the month of the recorded consent date and randomised in the month
of randomisation (Copenhagen). Every month from the first with any of these in the caller's
sites up to the current month has a row per site, so the cumulative line has no gaps."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from django.conf import settings
from django.db import connection

from reports.selectors.scope import Scope, today

# The trial's recruitment target (the paper: 198 participants).
TARGET = 198

_MONTHLY = """
    SELECT site_id, month, kind, count(*) FROM (
        SELECT p.site_id, to_char(min(s.screened_at) AT TIME ZONE %(tz)s, 'YYYY-MM') AS month,
               'screened' AS kind
        FROM participants_participant p
        JOIN participants_eligibilityscreening s ON s.participant_id = p.id
        WHERE p.site_id = ANY(%(sites)s)
        GROUP BY p.id, p.site_id
        UNION ALL
        SELECT site_id, to_char(consent_date, 'YYYY-MM'), 'consented'
        FROM participants_participant
        WHERE site_id = ANY(%(sites)s) AND consent_date IS NOT NULL
        UNION ALL
        SELECT site_id, to_char(randomized_at AT TIME ZONE %(tz)s, 'YYYY-MM'), 'randomised'
        FROM participants_participant
        WHERE site_id = ANY(%(sites)s) AND randomized_at IS NOT NULL
    ) events
    GROUP BY site_id, month, kind
"""


@dataclass(frozen=True)
class RecruitmentRow:
    month: str  # YYYY-MM
    site: str
    screened: int
    consented: int
    randomised: int
    cumulative_randomised: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def months_between(first: str, last: str) -> list[str]:
    year, month = int(first[:4]), int(first[5:7])
    found = []
    while f"{year:04d}-{month:02d}" <= last:
        found.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return found


def recruitment(scope: Scope, *, until: date | None = None) -> list[RecruitmentRow]:
    """Rows ordered by month, then site number."""
    with connection.cursor() as cursor:
        cursor.execute(_MONTHLY, {"tz": settings.TIME_ZONE, "sites": scope.site_ids})
        counts: dict[tuple[int, str], dict[str, int]] = {}
        for site_id, month, kind, n in cursor.fetchall():
            counts.setdefault((site_id, month), {})[kind] = n
    if not counts:
        return []
    last = max(f"{(until or today()):%Y-%m}", max(month for _site, month in counts))
    months = months_between(min(month for _site, month in counts), last)
    rows = []
    running = {site.pk: 0 for site in scope.sites}
    for month in months:
        for site in scope.sites:
            found = counts.get((site.pk, month), {})
            running[site.pk] += found.get("randomised", 0)
            rows.append(
                RecruitmentRow(
                    month=month,
                    site=site.code,
                    screened=found.get("screened", 0),
                    consented=found.get("consented", 0),
                    randomised=found.get("randomised", 0),
                    cumulative_randomised=running[site.pk],
                )
            )
    return rows
