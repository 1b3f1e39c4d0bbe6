"""The CONSORT 2010 flow from live data (API.md, "Reports").

Counting rules (docs/reports.md says the same in words):
- assessed for eligibility: everyone screened at least once; a re-screened person counts once,
  by the latest screening;
- excluded: not randomised and either not eligible at the latest screening (each reason of
  that screening counted), declined (withdrew before consenting) or other (withdrew after
  consent, died or was lost before randomisation); people still on the way (eligible or
  consented, not randomised yet) are `pending`, not excluded;
- randomised: everyone with a randomisation, whatever happened later (intention to treat,
  which is also `analysed`);
- at each follow-up timepoint: `assessed` = at least one form of that timepoint complete or
  verified; otherwise `withdrawn`/`lost`/`deceased` by the participant's closing status when
  it came before the timepoint's window closed, `missing` when the window closed without a
  form, `not_yet_due` while the window is still open or to come;
- per arm (only after lock, only for users who may see allocation): the same, plus
  `received` = attended at least one IMR session (IMR arm); everyone in the TAU arm received
  treatment as usual.
"""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery

from assessments.models import InstrumentResponse, ResponseStatus, Timepoint
from fidelity.models import Attendance
from participants.models import CLOSED_STATUSES, EligibilityScreening, Participant, Status
from randomization.models import Allocation, Arm
from reports.selectors.scope import Scope, randomized_plus_months, today, window_months

FOLLOWUP_TIMEPOINTS = (Timepoint.POST, Timepoint.FOLLOWUP)
DONE = (ResponseStatus.COMPLETE, ResponseStatus.VERIFIED)
CLOSED_KEYS = {
    Status.WITHDRAWN: "withdrawn",
    Status.LOST_TO_FOLLOW_UP: "lost",
    Status.DECEASED: "deceased",
}


def _latest_screening() -> QuerySet[EligibilityScreening]:
    return EligibilityScreening.objects.filter(participant=OuterRef("pk")).order_by(
        "-screened_at", "-id"
    )


def _enrolment(scope: Scope) -> dict[str, int]:
    screened = Exists(EligibilityScreening.objects.filter(participant=OuterRef("pk")))
    not_randomized = Q(screened=True, randomized_at__isnull=True)
    eligible = not_randomized & Q(latest_eligible=True)
    return (
        Participant.objects.filter(site_id__in=scope.site_ids)
        .annotate(
            screened=screened, latest_eligible=Subquery(_latest_screening().values("eligible")[:1])
        )
        .aggregate(
            assessed=Count("pk", filter=Q(screened=True)),
            randomised=Count("pk", filter=Q(randomized_at__isnull=False)),
            not_eligible=Count("pk", filter=not_randomized & Q(latest_eligible=False)),
            declined=Count(
                "pk",
                filter=eligible & Q(status=Status.WITHDRAWN, consent_date__isnull=True),
            ),
            other=Count(
                "pk",
                filter=eligible
                & Q(status__in=CLOSED_STATUSES)
                & ~Q(status=Status.WITHDRAWN, consent_date__isnull=True),
            ),
            pending=Count("pk", filter=eligible & ~Q(status__in=CLOSED_STATUSES)),
        )
    )


def _exclusion_reasons(scope: Scope) -> dict[str, int]:
    """Each reason of the latest screening of those excluded as not eligible, counted once per
    person; ordered by count, then by wording (so the same data gives the same order)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT reason, count(*) FROM participants_participant p
            CROSS JOIN LATERAL (
                SELECT s.eligible, s.reasons FROM participants_eligibilityscreening s
                WHERE s.participant_id = p.id ORDER BY s.screened_at DESC, s.id DESC LIMIT 1
            ) latest
            CROSS JOIN LATERAL jsonb_array_elements_text(latest.reasons) AS reason
            WHERE p.site_id = ANY(%s) AND p.randomized_at IS NULL AND NOT latest.eligible
            GROUP BY reason ORDER BY count(*) DESC, reason
            """,
            [scope.site_ids],
        )
        return {reason: count for reason, count in cursor.fetchall()}


def _flow_counts(scope: Scope, *, by_arm: bool) -> dict[str, dict[str, int]]:
    """Follow-up figures of the randomised participants: one row (key "all") or one per arm."""
    day = today()
    annotations: dict[str, Any] = {}
    aggregates: dict[str, Any] = {"allocated": Count("pk")}
    for timepoint in FOLLOWUP_TIMEPOINTS:
        done = f"done_{timepoint}"
        closes = f"closes_{timepoint}"
        annotations[done] = Exists(
            InstrumentResponse.objects.filter(
                participant=OuterRef("pk"), timepoint=timepoint, status__in=DONE
            )
        )
        annotations[closes] = randomized_plus_months(window_months(timepoint, "closes"))
        not_done = Q(**{done: False})
        left_before = Q(status__in=CLOSED_STATUSES, status_date__lte=F(closes))
        aggregates[f"{timepoint}__assessed"] = Count("pk", filter=Q(**{done: True}))
        for status, key in CLOSED_KEYS.items():
            aggregates[f"{timepoint}__{key}"] = Count(
                "pk", filter=not_done & left_before & Q(status=status)
            )
        still = not_done & ~left_before
        aggregates[f"{timepoint}__missing"] = Count(
            "pk", filter=still & Q(**{f"{closes}__lt": day})
        )
        aggregates[f"{timepoint}__not_yet_due"] = Count(
            "pk", filter=still & Q(**{f"{closes}__gte": day})
        )
    queryset = Participant.objects.filter(
        site_id__in=scope.site_ids, randomized_at__isnull=False
    ).annotate(**annotations)
    if not by_arm:
        return {"all": queryset.aggregate(**aggregates)}
    received = Exists(Attendance.objects.filter(participant=OuterRef("pk"), present=True))
    aggregates["received"] = Count("pk", filter=Q(received=True))
    rows = (
        queryset.annotate(
            arm=Subquery(Allocation.objects.filter(participant=OuterRef("pk")).values("arm")[:1]),
            received=received,
        )
        .values("arm")
        .annotate(**aggregates)
        .order_by("arm")
    )
    return {row.pop("arm"): row for row in rows}


def _shape(row: dict[str, int]) -> dict[str, Any]:
    followup = {
        str(tp): {
            key: row.get(f"{tp}__{key}", 0)
            for key in ("assessed", "lost", "withdrawn", "deceased", "missing", "not_yet_due")
        }
        for tp in FOLLOWUP_TIMEPOINTS
    }
    return {"followup": followup}


def consort(scope: Scope) -> dict[str, Any]:
    """The flow as API.md gives it; `arms` only when the scope may show arms."""
    enrolment = _enrolment(scope)
    excluded_total = enrolment["not_eligible"] + enrolment["declined"] + enrolment["other"]
    pooled = _flow_counts(scope, by_arm=False)["all"]
    result: dict[str, Any] = {
        "assessed": enrolment["assessed"],
        "excluded": {
            "total": excluded_total,
            "not_eligible": enrolment["not_eligible"],
            "declined": enrolment["declined"],
            "other": enrolment["other"],
            "reasons": _exclusion_reasons(scope),
        },
        "pending": enrolment["pending"],
        "randomised": enrolment["randomised"],
        **_shape(pooled),
        "analysed": enrolment["randomised"],
        "sites": [site.code for site in scope.sites],
    }
    if scope.arms:
        per_arm = _flow_counts(scope, by_arm=True)
        arms = {}
        for arm in Arm.values:
            row = per_arm.get(arm, {})
            allocated = row.get("allocated", 0)
            # IMR is received by attending at least one session; treatment as usual by all.
            received = row.get("received", 0) if arm == Arm.IMR else allocated
            arms[arm] = {
                "allocated": allocated,
                "received": received,
                "not_received": allocated - received,
                **_shape(row),
                "analysed": allocated,
            }
        result["arms"] = arms
    return result
