"""What each role's home page shows (one section per role held). Every figure is scoped to
the sites where the user holds that role and is arm-free unless noted; the few figures that
reveal the IMR arm (this week's IMR sessions) are given only to users who may see
allocation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy

from assessments import selectors as assessment_selectors
from assessments.models import (
    UNRESOLVED_QUERY_STATUSES,
    InstrumentResponse,
    ResponseStatus,
    visit_name,
)
from exports.models import ExportJob
from exports.selectors import export_jobs_visible_to
from fidelity.models import GroupSession, SessionStatus
from instruments import registry
from participants.models import EligibilityScreening, Participant
from randomization.models import Allocation, AllocationList
from randomization.services.lists import is_list_custodian
from reports.selectors import consort, recruitment
from reports.selectors.scope import Scope, today
from trial import access
from trial.models import Site
from trial.roles import Role
from trial.selectors import current_lock

# --- coordinator ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Projection:
    target: int
    randomised: int
    last_90_days: int
    completion: date | None  # None: no recruitment in the last 90 days, or target reached

    @property
    def reached(self) -> bool:
        return self.randomised >= self.target


def target_for(scope: Scope, site_count: int) -> int:
    """The trial's target of 198, shared evenly between the sites when a user sees only some."""
    if len(scope.sites) >= site_count:
        return recruitment.TARGET
    return round(recruitment.TARGET * len(scope.sites) / site_count)


def projection(scope: Scope, *, site_count: int) -> Projection:
    """Projected completion from the last 90 days' randomisation rate."""
    day = today()
    since = timezone.make_aware(datetime.combine(day - timedelta(days=90), time.min))
    counts = Participant.objects.filter(site_id__in=scope.site_ids).aggregate(
        randomised=Count("pk", filter=Q(randomized_at__isnull=False)),
        recent=Count("pk", filter=Q(randomized_at__gte=since)),
    )
    target = target_for(scope, site_count)
    completion = None
    if counts["recent"] and counts["randomised"] < target:
        days = (target - counts["randomised"]) * 90 / counts["recent"]
        completion = day + timedelta(days=round(days))
    return Projection(target, counts["randomised"], counts["recent"], completion)


def funnel(scope: Scope) -> list[tuple[str, int]]:
    """Registered → screened → eligible (at any screening) → consented → randomised."""
    eligible_once = EligibilityScreening.objects.filter(
        participant__site_id__in=scope.site_ids, eligible=True
    ).values("participant_id")
    screened = EligibilityScreening.objects.filter(participant__site_id__in=scope.site_ids).values(
        "participant_id"
    )
    counts = Participant.objects.filter(site_id__in=scope.site_ids).aggregate(
        registered=Count("pk"),
        screened=Count("pk", filter=Q(pk__in=screened)),
        eligible=Count("pk", filter=Q(pk__in=eligible_once)),
        consented=Count("pk", filter=Q(consent_date__isnull=False)),
        randomised=Count("pk", filter=Q(randomized_at__isnull=False)),
    )
    return list(counts.items())


def waiting(scope: Scope, status: str, *, limit: int = 10) -> tuple[int, list[Participant]]:
    queryset = (
        Participant.objects.filter(site_id__in=scope.site_ids, status=status)
        .select_related("site")
        .order_by("registered_at", "id")
    )
    return queryset.count(), list(queryset[:limit])


def sessions_this_week(user: Any, scope: Scope) -> list[GroupSession]:
    """This week's IMR sessions (Monday to Sunday) at the user's sites: unblinded users only."""
    if not access.may_see_allocation(user):
        return []
    day = today()
    monday = day - timedelta(days=day.weekday())
    return list(
        GroupSession.objects.filter(
            group__site_id__in=scope.site_ids, date__range=(monday, monday + timedelta(days=6))
        )
        .exclude(status=SessionStatus.CANCELLED)
        .select_related("group", "group__site")
        .order_by("date", "group__name")[:50]
    )


# --- assessor and clinician ------------------------------------------------------------------


@dataclass(frozen=True)
class FormsDue:
    rows: list[Any]  # assessments.selectors.WorklistRow, most urgent first
    total: int
    overdue: int
    this_week: int
    next_week: int


def forms_due(user: Any, *, limit: int = 25) -> FormsDue:
    """The first `limit` visits of the user's worklist that still need forms (most urgent
    first: the window that ends first, overdue ones leading), how many there are and how
    many are overdue, and how many windows end this and next week."""
    day = today()
    monday = day - timedelta(days=day.weekday())
    found = assessment_selectors.worklist_page(
        user=user, states=assessment_selectors.WORKLIST_ACTIVE_STATES, limit=limit, today=day
    )
    this_week, next_week = assessment_selectors.worklist_closing_counts(
        user=user, weeks=[monday, monday + timedelta(days=7)]
    )
    return FormsDue(
        rows=found.rows,
        total=found.count,
        overdue=found.counts["overdue"],
        this_week=this_week,
        next_week=next_week,
    )


# --- data manager --------------------------------------------------------------------------


@dataclass(frozen=True)
class CompletenessSummary:
    site: str
    timepoint: str
    expected: int
    entered: int
    complete: int
    verified: int
    missing: int
    with_missing_items: int

    @property
    def visit(self) -> str:
        """The visit's one name, with its timing (assessments.models.visit_name)."""
        return visit_name(self.timepoint)


def completeness_summary(rows: list[Any]) -> list[CompletenessSummary]:
    """Forms summed over the instruments of each site and timepoint."""
    summed: dict[tuple[str, str], dict[str, int]] = {}
    fields = ("expected", "entered", "complete", "verified", "missing", "with_missing_items")
    for row in rows:
        target = summed.setdefault((row["site"], row["timepoint"]), dict.fromkeys(fields, 0))
        for name in fields:
            target[name] += row[name]
    return [
        CompletenessSummary(site=site, timepoint=timepoint, **values)
        for (site, timepoint), values in summed.items()
    ]


AGE_BANDS = (
    (gettext_lazy("0–7 days"), 0, 7),
    (gettext_lazy("8–30 days"), 8, 30),
    (gettext_lazy("> 30 days"), 31, None),
)


def queries_by_age(user: Any, scope: Scope) -> list[dict[str, Any]]:
    """Unresolved queries per site by age: 0–7, 8–30 and more than 30 days."""
    now = timezone.now()
    aggregates = {}
    for index, (_label, low, high) in enumerate(AGE_BANDS):
        condition = Q(raised_at__lte=now - timedelta(days=low))
        if high is not None:
            condition &= Q(raised_at__gt=now - timedelta(days=high + 1))
        aggregates[f"band{index}"] = Count("pk", filter=condition)
    rows = (
        assessment_selectors.queries_visible_to(user)
        .filter(
            status__in=UNRESOLVED_QUERY_STATUSES,
            response__participant__site_id__in=scope.site_ids,
        )
        .values("response__participant__site__code", "response__participant__site__number")
        .annotate(total=Count("pk"), **aggregates)
        .order_by("response__participant__site__number")
    )
    by_code: dict[str, dict[str, Any]] = {
        row["response__participant__site__code"]: dict(row) for row in rows
    }
    return [
        {
            "site": site.code,
            "bands": [by_code.get(site.code, {}).get(f"band{i}", 0) for i in range(len(AGE_BANDS))],
            "total": by_code.get(site.code, {}).get("total", 0),
        }
        for site in scope.sites
    ]


@dataclass(frozen=True)
class Retention:
    timepoint: str
    assessed: int
    due: int  # randomised minus those whose window has not closed and who were not assessed

    @property
    def percent(self) -> float | None:
        return round(100 * self.assessed / self.due, 1) if self.due else None


def retention(scope: Scope) -> list[Retention]:
    """Share of the randomised whose timepoint has come (assessed, or its window closed or the
    participant left before it) who were assessed: the paper retained 69% at one year."""
    flow = consort.consort(Scope(sites=scope.sites, arms=False, blinded=True))
    found = []
    for timepoint in consort.FOLLOWUP_TIMEPOINTS:
        figures = flow["followup"][str(timepoint)]
        due = flow["randomised"] - figures["not_yet_due"]
        found.append(Retention(str(timepoint), figures["assessed"], due))
    return found


# --- monitor ---------------------------------------------------------------------------------


def awaiting_verification(user: Any, scope: Scope, *, limit: int = 50) -> tuple[list[Any], Any]:
    """Complete forms not yet source-verified, oldest first, and the count per site. Forms a
    blinded monitor may not read (IMRS_C) are left out."""
    hidden = [i.code for i in registry.all() if not i.blinded_readable]
    queryset = InstrumentResponse.objects.filter(
        participant__site_id__in=scope.site_ids, status=ResponseStatus.COMPLETE
    )
    if access.is_blinded(user):
        queryset = queryset.exclude(instrument__in=hidden)
    per_site = dict(
        queryset.values("participant__site__code")
        .annotate(n=Count("pk"))
        .values_list("participant__site__code", "n")
    )
    oldest = list(
        queryset.select_related("participant", "participant__site").order_by(
            "first_completed_at", "id"
        )[:limit]
    )
    return oldest, [(site.code, per_site.get(site.code, 0)) for site in scope.sites]


# --- statistician ---------------------------------------------------------------------------


def list_capacity(user: Any) -> list[dict[str, Any]] | None:
    """Allocations used and left per site, for the list custodian only (never what comes
    next: no position, block or arm)."""
    if not is_list_custodian(user):
        return None
    slots = dict(
        AllocationList.objects.values("site_id")
        .annotate(n=Sum("length"))
        .values_list("site_id", "n")
    )
    used = dict(
        Allocation.objects.values("slot__site_id")
        .annotate(n=Count("pk"))
        .values_list("slot__site_id", "n")
    )
    return [
        {
            "site": site,
            "slots": slots.get(site.pk, 0) or 0,
            "used": used.get(site.pk, 0),
            "left": max((slots.get(site.pk, 0) or 0) - used.get(site.pk, 0), 0),
        }
        for site in Site.objects.order_by("number")
    ]


def recent_exports(user: Any, *, limit: int = 5) -> list[ExportJob]:
    return list(export_jobs_visible_to(user).order_by("-requested_at")[:limit])


def lock_state() -> Any:
    return current_lock()


# --- who gets which section --------------------------------------------------------------------

SECTION_ROLES = (
    Role.COORDINATOR,
    Role.ASSESSOR,
    Role.CLINICIAN,
    Role.INSTRUCTOR,
    Role.FIDELITY_RATER,
    Role.DATA_MANAGER,
    Role.MONITOR,
    Role.STATISTICIAN,
    Role.INVESTIGATOR,
)


def sections_for(user: Any) -> list[str]:
    held = access.roles_of(user)
    return [str(role) for role in SECTION_ROLES if role in held]
