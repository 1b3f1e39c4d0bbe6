"""HTTP API of the reports (API.md, "Reports (trial overview)")."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from assessments.models import Timepoint
from reports import cache, permissions
from reports.selectors import completeness, consort, recruitment
from reports.selectors.scope import parse_timepoint, scope_for
from trial.api import role_permission

READERS = role_permission(*permissions.READERS)


class RowsPagination(PageNumberPagination):
    """API.md's collections rule: `?page=`, `?page_size=` (at most 100, default 50)."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 100


SITE = OpenApiParameter(
    "site", str, description="A site code (BAL, GLA, FRB); only the caller's sites"
)
TIMEPOINT = OpenApiParameter("timepoint", str, enum=list(Timepoint.values))
PAGE = OpenApiParameter("page", int)
PAGE_SIZE = OpenApiParameter("page_size", int, description="At most 100 (default 50)")


def _counts(name: str, fields: tuple[str, ...]) -> serializers.Serializer:
    return inline_serializer(name, {f: serializers.IntegerField() for f in fields})


FOLLOWUP_FIELDS = ("assessed", "lost", "withdrawn", "deceased", "missing", "not_yet_due")
StageSerializer = inline_serializer(
    "ConsortFollowup",
    {
        "post": _counts("ConsortFollowupPost", FOLLOWUP_FIELDS),
        "followup": _counts("ConsortFollowupYear", FOLLOWUP_FIELDS),
    },
)
ArmSerializer = inline_serializer(
    "ConsortArm",
    {
        "allocated": serializers.IntegerField(),
        "received": serializers.IntegerField(),
        "not_received": serializers.IntegerField(),
        "followup": StageSerializer,
        "analysed": serializers.IntegerField(),
    },
)
ConsortSerializer = inline_serializer(
    "Consort",
    {
        "assessed": serializers.IntegerField(),
        "excluded": inline_serializer(
            "ConsortExcluded",
            {
                "total": serializers.IntegerField(),
                "not_eligible": serializers.IntegerField(),
                "declined": serializers.IntegerField(),
                "other": serializers.IntegerField(),
                "reasons": serializers.DictField(child=serializers.IntegerField()),
            },
        ),
        "pending": serializers.IntegerField(),
        "randomised": serializers.IntegerField(),
        "followup": StageSerializer,
        "analysed": serializers.IntegerField(),
        "sites": serializers.ListField(child=serializers.CharField()),
        # Only for callers who may see allocation, and only after lock (API.md).
        "arms": inline_serializer(
            "ConsortArms", {"IMR": ArmSerializer, "TAU": ArmSerializer}, required=False
        ),
    },
)


class RecruitmentRowSerializer(serializers.Serializer):
    month = serializers.CharField(help_text="YYYY-MM")
    site = serializers.CharField()
    screened = serializers.IntegerField()
    consented = serializers.IntegerField()
    randomised = serializers.IntegerField()
    cumulative_randomised = serializers.IntegerField()


class CompletenessRowSerializer(serializers.Serializer):
    site = serializers.CharField()
    timepoint = serializers.ChoiceField(choices=Timepoint.choices)
    instrument = serializers.CharField()
    expected = serializers.IntegerField()
    entered = serializers.IntegerField()
    complete = serializers.IntegerField()
    verified = serializers.IntegerField()
    missing = serializers.IntegerField()
    with_missing_items = serializers.IntegerField()


def paginated(name: str, row: type[serializers.Serializer]) -> serializers.Serializer:
    return inline_serializer(
        name,
        {
            "count": serializers.IntegerField(),
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": row(many=True),
        },
    )


class ConsortView(APIView):
    permission_classes = [READERS]

    @extend_schema(
        parameters=[SITE],
        responses=ConsortSerializer,
        summary="The CONSORT flow (per arm only after lock, for users who may see allocation)",
    )
    def get(self, request: Request) -> Response:
        scope = scope_for(request.user, site=request.query_params.get("site", ""), holder=request)
        return Response(cache.remember("consort", scope, lambda: consort.consort(scope)))


class RowsView(APIView):
    """A paginated list of report rows."""

    permission_classes = [READERS]

    def rows(self, request: Request) -> list[dict[str, Any]]:
        raise NotImplementedError

    def get(self, request: Request) -> Response:
        paginator = RowsPagination()
        rows = self.rows(request)
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(page)


class RecruitmentView(RowsView):
    @extend_schema(
        parameters=[SITE, PAGE, PAGE_SIZE],
        responses=paginated("PaginatedRecruitment", RecruitmentRowSerializer),
        summary="Screened, consented and randomised by month and site",
    )
    def get(self, request: Request) -> Response:
        return super().get(request)

    def rows(self, request: Request) -> list[dict[str, Any]]:
        scope = scope_for(request.user, site=request.query_params.get("site", ""), holder=request)
        return cache.remember(
            "recruitment",
            scope,
            lambda: [row.as_dict() for row in recruitment.recruitment(scope)],
        )


class CompletenessView(RowsView):
    @extend_schema(
        parameters=[SITE, TIMEPOINT, PAGE, PAGE_SIZE],
        responses=paginated("PaginatedCompleteness", CompletenessRowSerializer),
        summary="Forms expected, entered, complete, verified and missing per site and timepoint",
    )
    def get(self, request: Request) -> Response:
        return super().get(request)

    def rows(self, request: Request) -> list[dict[str, Any]]:
        timepoint = parse_timepoint(
            request.query_params.get("timepoint", ""), list(Timepoint.values)
        )
        scope = scope_for(request.user, site=request.query_params.get("site", ""), holder=request)
        return cache.remember(
            f"completeness:{timepoint}",
            scope,
            lambda: [
                row.as_dict() for row in completeness.completeness(scope, timepoint=timepoint)
            ],
        )
