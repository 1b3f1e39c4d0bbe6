"""Data completeness per site, timepoint and instrument (API.md:
`GET /api/v1/reports/completeness/`).

- expected: baseline forms for everyone whose consent is recorded; post-intervention and
  follow-up forms for everyone randomised whose window has opened and who had not withdrawn,
  died or been lost before it opened;
- entered: a form exists (draft, complete or verified); complete: complete or verified;
  verified: source-data verified;
- missing: expected forms not complete yet (expected − complete, never below 0);
- with_missing_items: complete forms with at least one item missing with a reason.
Arm-free: every count covers both arms together."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from django.db.models import Count, F, Q

from assessments.models import InstrumentResponse, ResponseStatus, Timepoint
from instruments import registry
from participants.models import CLOSED_STATUSES, Participant
from reports.selectors.scope import Scope, randomized_plus_months, today, window_months

DONE = (ResponseStatus.COMPLETE, ResponseStatus.VERIFIED)


@dataclass(frozen=True)
class CompletenessRow:
    site: str
    timepoint: str
    instrument: str
    expected: int
    entered: int
    complete: int
    verified: int
    missing: int
    with_missing_items: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def expected_by_site(scope: Scope) -> dict[tuple[int, str], int]:
    """How many participants each site expects forms of each timepoint from, by today."""
    day = today()
    aggregates: dict[str, Any] = {"baseline": Count("pk", filter=Q(consent_date__isnull=False))}
    annotations = {}
    for timepoint in (Timepoint.POST, Timepoint.FOLLOWUP):
        opens = f"opens_{timepoint}"
        annotations[opens] = randomized_plus_months(window_months(timepoint, "opens"))
        left_before = Q(status__in=CLOSED_STATUSES, status_date__lt=F(opens))
        aggregates[str(timepoint)] = Count(
            "pk",
            filter=Q(randomized_at__isnull=False, **{f"{opens}__lte": day}) & ~left_before,
        )
    rows = (
        Participant.objects.filter(site_id__in=scope.site_ids)
        .annotate(**annotations)
        .values("site_id")
        .annotate(**aggregates)
        .order_by()
    )
    return {(row["site_id"], str(tp)): row[str(tp)] for row in rows for tp in Timepoint.values}


def completeness(scope: Scope, *, timepoint: str = "") -> list[CompletenessRow]:
    """Rows ordered by site number, timepoint (T0, T1, T2), instrument (registry order)."""
    expected = expected_by_site(scope)
    entered: dict[tuple[int, str, str], dict[str, int]] = {}
    responses = InstrumentResponse.objects.filter(participant__site_id__in=scope.site_ids)
    if timepoint:
        responses = responses.filter(timepoint=timepoint)
    for row in (
        responses.values("participant__site_id", "timepoint", "instrument")
        .annotate(
            entered=Count("pk"),
            complete=Count("pk", filter=Q(status__in=DONE)),
            verified=Count("pk", filter=Q(status=ResponseStatus.VERIFIED)),
            with_missing_items=Count("pk", filter=Q(status__in=DONE) & ~Q(missing={})),
        )
        .order_by()
    ):
        key = (row["participant__site_id"], row["timepoint"], row["instrument"])
        entered[key] = row
    rows = []
    timepoints = [timepoint] if timepoint else list(Timepoint.values)
    for site in scope.sites:
        for tp in timepoints:
            for instrument in registry.for_timepoint(tp):
                if not instrument.form_entry:
                    continue
                found = entered.get((site.pk, tp, instrument.code), {})
                n_expected = expected.get((site.pk, tp), 0)
                complete = found.get("complete", 0)
                rows.append(
                    CompletenessRow(
                        site=site.code,
                        timepoint=tp,
                        instrument=instrument.code,
                        expected=n_expected,
                        entered=found.get("entered", 0),
                        complete=complete,
                        verified=found.get("verified", 0),
                        missing=max(n_expected - complete, 0),
                        with_missing_items=found.get("with_missing_items", 0),
                    )
                )
    return rows
