"""Fidelity ratings under the independence rule; scores per group and per site."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db.models import (
    Avg,
    Count,
    Exists,
    FloatField,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    StdDev,
    Value,
)
from django.db.models.fields.json import KT
from django.db.models.functions import Cast
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from fidelity import permissions, scale
from fidelity.models import (
    INDEPENDENT_KINDS,
    FidelityRating,
    FidelityTimepoint,
    ImrGroup,
    RaterKind,
)
from fidelity.selectors.groups import groups_visible_to
from trial import access
from trial.access import Viewer
from trial.errors import NotFound
from trial.models import Site
from trial.paging import Window
from trial.roles import Role


def _independent_exists(kind: str) -> Exists:
    return Exists(
        FidelityRating.objects.filter(
            group_id=OuterRef("group_id"), timepoint=OuterRef("timepoint"), rater_kind=kind
        )
    )


def ratings_visible_to(user: Viewer) -> QuerySet[FidelityRating]:
    """The independence rule: an independent rating (rater 1 or rater 2) is shown only to its
    author until both independent ratings of that group and timepoint are in. A statistician
    who rates nothing sees every rating; one who also holds the fidelity-rater role is held to
    the rule like any rater."""
    if not permissions.may_read_fidelity(user):
        return FidelityRating.objects.none()
    queryset = FidelityRating.objects.filter(group__in=groups_visible_to(user)).select_related(
        "group__site", "rater"
    )
    if access.has_role(user, Role.FIDELITY_RATER):
        queryset = queryset.annotate(
            rater1_in=_independent_exists(RaterKind.RATER1),
            rater2_in=_independent_exists(RaterKind.RATER2),
        ).filter(Q(rater=user) | Q(rater1_in=True, rater2_in=True))
    return queryset


def rating_list(
    *, user: Viewer, group: Any = None, timepoint: str | None = None, rater_kind: str | None = None
) -> QuerySet[FidelityRating]:
    permissions.require_role(user, permissions.FIDELITY_READERS, _("see fidelity ratings"))
    queryset = ratings_visible_to(user)
    if group not in (None, ""):
        try:
            queryset = queryset.filter(group_id=int(group))
        except (TypeError, ValueError):
            return queryset.none()
    if timepoint:
        queryset = queryset.filter(timepoint=timepoint)
    if rater_kind:
        queryset = queryset.filter(rater_kind=rater_kind)
    return queryset.order_by("group__site__number", "group__name", "timepoint", "rater_kind")


def rating_get(*, user: Viewer, pk: Any) -> FidelityRating:
    """404 for a rating the user may not see, including the other rater's before both are in."""
    permissions.require_role(user, permissions.FIDELITY_READERS, _("see fidelity ratings"))
    try:
        return ratings_visible_to(user).get(pk=int(pk))
    except (FidelityRating.DoesNotExist, ValueError, TypeError):
        raise NotFound(permissions.NOT_FOUND) from None


@dataclass(frozen=True)
class Discrepancy:
    item: str
    label: str | Promise
    rater1: int
    rater2: int


@dataclass
class FidelityAssessment:
    """The state of one group's rating at one timepoint, as one user may see it."""

    group: ImrGroup
    timepoint: str
    submitted: dict[str, bool]
    visible: dict[str, FidelityRating | None]
    my_kind: str | None
    discrepancies: list[Discrepancy]
    open_kinds: list[str]  # what this user may still submit

    @property
    def both_in(self) -> bool:
        return self.submitted[RaterKind.RATER1] and self.submitted[RaterKind.RATER2]

    @property
    def consensus(self) -> FidelityRating | None:
        return self.visible.get(RaterKind.CONSENSUS)

    @property
    def timepoint_label(self) -> str:
        return str(FidelityTimepoint(self.timepoint).label)

    @property
    def my_kind_label(self) -> str:
        return str(RaterKind(self.my_kind).label) if self.my_kind else ""


def fidelity_assessments(
    *, user: Viewer, groups: Iterable[ImrGroup]
) -> dict[tuple[int, str], FidelityAssessment]:
    """Per group and timepoint: which ratings exist (existence only: a rater needs to know
    whether the other slot is taken), the ones this user may see, and the discrepant items
    once both are in. Two queries however many groups."""
    permissions.require_role(user, permissions.FIDELITY_READERS, _("see fidelity ratings"))
    groups = list(groups)
    existing: dict[tuple[int, str], dict[str, FidelityRating]] = {}
    for rating in FidelityRating.objects.filter(group__in=groups):
        existing.setdefault((rating.group_id, rating.timepoint), {})[rating.rater_kind] = rating
    visible_ids = set(
        ratings_visible_to(user).filter(group__in=groups).values_list("pk", flat=True)
    )
    may_rate = permissions.may_rate(user)
    result = {}
    for group in groups:
        for timepoint in FidelityTimepoint.values:
            found = existing.get((group.pk, timepoint), {})
            result[(group.pk, timepoint)] = _assessment(
                user, group, timepoint, found, visible_ids, may_rate
            )
    return result


def _assessment(
    user: Viewer,
    group: ImrGroup,
    timepoint: str,
    existing: dict[str, FidelityRating],
    visible_ids: set[int],
    may_rate: bool,
) -> FidelityAssessment:
    visible = {
        kind: (existing[kind] if kind in existing and existing[kind].pk in visible_ids else None)
        for kind in RaterKind.values
    }
    submitted = {kind: kind in existing for kind in RaterKind.values}
    my_kind = next(
        (k for k in INDEPENDENT_KINDS if k in existing and existing[k].rater_id == user.pk), None
    )
    discrepancies: list[Discrepancy] = []
    first, second = visible[RaterKind.RATER1], visible[RaterKind.RATER2]
    if first is not None and second is not None:
        discrepancies = [
            Discrepancy(item.code, item.label, first.items[item.code], second.items[item.code])
            for item in scale.ITEMS
            if first.items[item.code] != second.items[item.code]
        ]
    open_kinds: list[str] = []
    if may_rate:
        if my_kind is None:
            open_kinds = [k for k in INDEPENDENT_KINDS if k not in existing]
        if all(submitted[k] for k in INDEPENDENT_KINDS) and not submitted[RaterKind.CONSENSUS]:
            open_kinds.append(RaterKind.CONSENSUS)
    return FidelityAssessment(
        group=group,
        timepoint=timepoint,
        submitted=submitted,
        visible=visible,
        my_kind=my_kind,
        discrepancies=discrepancies,
        open_kinds=open_kinds,
    )


def fidelity_assessment(*, user: Viewer, group: ImrGroup, timepoint: str) -> FidelityAssessment:
    return fidelity_assessments(user=user, groups=[group])[(group.pk, timepoint)]


@dataclass(frozen=True)
class FidelityRow:
    """One rating (export row). FID_MEAN is the programme fidelity score; analyses use the
    consensus rows, the two independent rows allow inter-rater agreement."""

    group_id: int
    group_name: str
    site: str
    group_start_date: date
    timepoint: str
    rater_kind: str
    rated_on: date
    items: dict[str, int]
    fid_total: int | None
    fid_mean: float | None
    fid_band: str | None

    def as_dict(self) -> dict[str, Any]:
        """Flat: the 13 items become FID_1..FID_13 columns, in scale order."""
        data: dict[str, Any] = {
            "group_id": self.group_id,
            "group_name": self.group_name,
            "site": self.site,
            "group_start_date": self.group_start_date,
            "timepoint": self.timepoint,
            "rater_kind": self.rater_kind,
            "rated_on": self.rated_on,
        }
        data.update({code: self.items.get(code) for code in scale.ITEM_CODES})
        data.update(FID_TOTAL=self.fid_total, FID_MEAN=self.fid_mean, FID_BAND=self.fid_band)
        return data


def fidelity_rows(*, user: Viewer) -> list[FidelityRow]:
    """Every rating the user may see, ordered by site, group, timepoint and kind."""
    ratings = rating_list(user=user)
    timepoint_order = {value: i for i, value in enumerate(FidelityTimepoint.values)}
    kind_order = {value: i for i, value in enumerate(RaterKind.values)}
    ordered = sorted(
        ratings,
        key=lambda r: (
            r.group.site.number,
            r.group.name,
            r.group_id,
            timepoint_order[r.timepoint],
            kind_order[r.rater_kind],
        ),
    )
    return [
        FidelityRow(
            group_id=r.group_id,
            group_name=r.group.name,
            site=r.group.site.code,
            group_start_date=r.group.start_date,
            timepoint=r.timepoint,
            rater_kind=r.rater_kind,
            rated_on=r.rated_on,
            items={code: r.items[code] for code in scale.ITEM_CODES},
            fid_total=r.total,
            fid_mean=r.score,
            fid_band=r.band,
        )
        for r in ordered
    ]


@dataclass(frozen=True)
class SiteFidelity:
    site: str
    site_name: str
    timepoint: str
    groups: int
    mean: float | None
    sd: float | None
    band: str | None

    @property
    def timepoint_label(self) -> str:
        return str(FidelityTimepoint(self.timepoint).label)


@dataclass(frozen=True)
class GroupFidelity:
    group: ImrGroup
    scores: dict[str, FidelityRating | None]


@dataclass(frozen=True)
class FidelitySummary:
    """`groups` is fetched a page at a time when sliced (Django's paginator,
    `trial.paging`); `sites` covers every group."""

    groups: Window
    sites: list[SiteFidelity]


def _consensus_score() -> Any:
    """FID_MEAN of a rating in SQL: the mean of its 13 items (the table's check constraint
    holds every rating to all 13, each 1–5)."""
    total: Any = Value(0)
    for code in scale.ITEM_CODES:
        total = total + Cast(KT(f"items__{code}"), IntegerField())
    return Cast(total, FloatField()) / Value(float(len(scale.ITEM_CODES)))


def site_fidelity(*, user: Viewer) -> list[SiteFidelity]:
    """Per site (of the user's groups) and timepoint, the mean and SD (n − 1) of its groups'
    consensus scores (paper: "CMHC 1: 4.3 (SD 0.9)"), aggregated in SQL."""
    score = _consensus_score()
    found: dict[tuple[int, str], dict[str, Any]] = {
        (row["group__site_id"], row["timepoint"]): dict(row)
        for row in ratings_visible_to(user)
        .filter(rater_kind=RaterKind.CONSENSUS)
        .order_by()
        .values("group__site_id", "timepoint")
        .annotate(
            n=Count("id"),
            mean=Avg(score, output_field=FloatField()),
            sd=StdDev(score, sample=True, output_field=FloatField()),
        )
    }
    sites: list[SiteFidelity] = []
    visible = groups_visible_to(user).order_by().values("site_id")
    for site in Site.objects.filter(pk__in=visible).order_by("number"):
        for timepoint in FidelityTimepoint.values:
            row = found.get((site.pk, timepoint), {})
            mean = row.get("mean")
            band = scale.band_of_mean(mean)
            sites.append(
                SiteFidelity(
                    site=site.code,
                    site_name=site.name,
                    timepoint=timepoint,
                    groups=row.get("n", 0),
                    mean=mean,
                    # stddev_samp of one score is NULL, as exposure.sd_of says.
                    sd=row.get("sd"),
                    band=band.value if band else None,
                )
            )
    return sites


def fidelity_summary(*, user: Viewer) -> FidelitySummary:
    """Consensus scores per group and timepoint (a page of groups at a time), and per site the
    mean and SD of its groups' scores."""
    permissions.require_role(user, permissions.FIDELITY_READERS, _("see fidelity scores"))
    groups = groups_visible_to(user)

    def group_page(offset: int, limit: int) -> list[GroupFidelity]:
        page = list(groups[offset : offset + limit])
        consensus = {
            (r.group_id, r.timepoint): r
            for r in ratings_visible_to(user).filter(rater_kind=RaterKind.CONSENSUS, group__in=page)
        }
        return [
            GroupFidelity(g, {t: consensus.get((g.pk, t)) for t in FidelityTimepoint.values})
            for g in page
        ]

    return FidelitySummary(
        groups=Window([], count=groups.count(), offset=-1, fetch=group_page),
        sites=site_fidelity(user=user),
    )
