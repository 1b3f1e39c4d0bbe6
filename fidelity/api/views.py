"""HTTP API for IMR groups, sessions, attendance, exposure and fidelity ratings.

Every view answers 404 to a blinded user before anything else (UnblindedOnly), then checks the
role (403); selectors and services check the site (404) and the rules."""

from __future__ import annotations

from typing import Any, cast

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, status
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from fidelity import permissions, selectors, services
from fidelity.api import serializers as s
from fidelity.exposure import summarise
from fidelity.models import FidelityTimepoint, GroupSession, ImrGroup
from fidelity.scale import Module
from fidelity.services.groups import UNSET
from trial import access
from trial.api import role_permission
from trial.errors import Invalid
from trial.paging import TrialPagination, paginated


class UnblindedOnly(BasePermission):
    """The app does not exist for users who may not see allocation: 404, as for any unknown
    address (401 first for a caller who is not logged in)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if not access.may_see_allocation(user):
            raise exceptions.NotFound()
        return True


class FidelityAPIView(APIView):
    read_roles: tuple[str, ...] = permissions.GROUP_READERS
    write_roles: tuple[str, ...] = ()

    def get_permissions(self) -> list[Any]:
        roles = self.read_roles if self.request.method in SAFE_METHODS else self.write_roles
        return [UnblindedOnly(), role_permission(*roles)()]


def _given(data: dict[str, Any], key: str) -> Any:
    return data.get(key, UNSET)


SITE_PARAM = OpenApiParameter("site", str, description="Site code (BAL, GLA, FRB)")


# ---------------------------------------------------------------------------- groups


def _group_detail(request: Request, group: ImrGroup, code: int = 200) -> Response:
    fresh = selectors.group_get(user=request.user, pk=group.pk)
    members = (
        selectors.member_rows(fresh)
        if permissions.may_read_members(request.user, fresh.site_id)
        else None
    )
    context = {"members": members, "sessions": selectors.sessions_of(fresh)}
    return Response(s.GroupDetailSerializer(fresh, context=context).data, status=code)


class GroupListView(FidelityAPIView):
    write_roles = permissions.GROUP_MANAGERS
    pagination_class = TrialPagination

    @extend_schema(
        parameters=[SITE_PARAM],
        responses=s.GroupSerializer(many=True),
        summary="IMR groups at your sites",
    )
    def get(self, request: Request) -> Response:
        groups = selectors.group_list(user=request.user, site=request.query_params.get("site"))
        return paginated(
            self, request, groups, lambda page: s.GroupSerializer(page, many=True).data
        )

    @extend_schema(
        request=s.GroupCreateSerializer,
        responses={201: s.GroupDetailSerializer},
        summary="Create an IMR group (coordinator or instructor at the site)",
    )
    def post(self, request: Request) -> Response:
        payload = s.GroupCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        group = services.group_create(
            user=request.user,
            site_code=data["site"],
            name=data["name"],
            start_date=data["start_date"],
            capacity=data.get("capacity"),
            instructors=data.get("instructors", []),
        )
        return _group_detail(request, group, status.HTTP_201_CREATED)


class GroupDetailView(FidelityAPIView):
    write_roles = permissions.GROUP_MANAGERS

    @extend_schema(
        responses=s.GroupDetailSerializer,
        summary="A group with its sessions (and members, for roles that see them)",
    )
    def get(self, request: Request, pk: int) -> Response:
        return _group_detail(request, selectors.group_get(user=request.user, pk=pk))

    @extend_schema(
        request=s.GroupUpdateSerializer,
        responses=s.GroupDetailSerializer,
        summary="Change a group: name, start, capacity, instructors, close or reopen enrolment",
    )
    def patch(self, request: Request, pk: int) -> Response:
        group = selectors.group_get(user=request.user, pk=pk)
        payload = s.GroupUpdateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        services.group_update(
            user=request.user,
            group=group,
            name=_given(data, "name"),
            start_date=_given(data, "start_date"),
            capacity=_given(data, "capacity"),
            enrolment_closed=_given(data, "enrolment_closed"),
            instructors=_given(data, "instructors"),
            reason=data["reason"],
        )
        return _group_detail(request, group)


class MemberListView(FidelityAPIView):
    read_roles = permissions.MEMBER_READERS
    write_roles = permissions.GROUP_MANAGERS

    @extend_schema(responses=s.MemberSerializer(many=True), summary="The group's members")
    def get(self, request: Request, pk: int) -> Response:
        group = selectors.group_get(user=request.user, pk=pk)
        permissions.require_role_at(
            request.user, group.site, permissions.MEMBER_READERS, "see group members"
        )
        return Response(s.MemberSerializer(selectors.member_rows(group), many=True).data)

    @extend_schema(
        request=s.MemberAddSerializer,
        responses={201: s.MemberSerializer},
        summary="Place a participant randomised to IMR at the group's site in the group",
    )
    def post(self, request: Request, pk: int) -> Response:
        group = selectors.group_get(user=request.user, pk=pk)
        payload = s.MemberAddSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        membership = services.membership_add(
            user=request.user, group=group, participant_id=payload.validated_data["participant"]
        )
        row = selectors.MemberRow(membership.participant, membership.joined_on, 0, None)
        return Response(s.MemberSerializer(row).data, status=status.HTTP_201_CREATED)


class MemberDetailView(FidelityAPIView):
    write_roles = permissions.GROUP_MANAGERS

    @extend_schema(
        request=s.MemberRemoveSerializer,
        responses={204: None},
        summary="Undo a placement made in error (only a member who attended no session)",
    )
    def delete(self, request: Request, pk: int, participant_id: int) -> Response:
        group = selectors.group_get(user=request.user, pk=pk)
        reason = request.data.get("reason") if hasattr(request.data, "get") else None
        services.membership_remove(
            user=request.user,
            group=group,
            participant_id=participant_id,
            reason=str(reason or request.query_params.get("reason") or ""),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------------------- sessions


class GroupSessionListView(FidelityAPIView):
    write_roles = permissions.SESSION_PLANNERS
    pagination_class = TrialPagination

    @extend_schema(responses=s.SessionSerializer(many=True), summary="The group's sessions")
    def get(self, request: Request, pk: int) -> Response:
        group = selectors.group_get(user=request.user, pk=pk)
        return paginated(
            self,
            request,
            selectors.sessions_of(group),
            lambda page: s.SessionSerializer(page, many=True).data,
        )

    @extend_schema(
        request=s.SessionCreateSerializer,
        responses={201: s.SessionSerializer},
        summary="Add a session (date and module 1–11)",
    )
    def post(self, request: Request, pk: int) -> Response:
        group = selectors.group_get(user=request.user, pk=pk)
        payload = s.SessionCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        session = services.session_add(
            user=request.user,
            group=group,
            date=data["date"],
            module=data["module"],
            instructors_present=data.get("instructors_present", []),
        )
        return _session(request, session, status.HTTP_201_CREATED)


class ScheduleView(FidelityAPIView):
    write_roles = permissions.SESSION_PLANNERS

    @extend_schema(
        request=s.ScheduleSerializer,
        responses={201: s.SessionSerializer(many=True)},
        summary="Generate the weekly schedule over nine months, modules 1–11 in order",
    )
    def post(self, request: Request, pk: int) -> Response:
        group = selectors.group_get(user=request.user, pk=pk)
        payload = s.ScheduleSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        services.schedule_generate(
            user=request.user,
            group=group,
            first_date=data.get("first_date"),
            weeks=data.get("weeks"),
            replace=data["replace"],
        )
        sessions = selectors.sessions_of(group)
        return Response(s.SessionSerializer(sessions, many=True).data, status=201)


def _session(request: Request, session: GroupSession, code: int = 200) -> Response:
    fresh = selectors.session_get(user=request.user, pk=session.pk)
    return Response(s.SessionSerializer(fresh).data, status=code)


class SessionDetailView(FidelityAPIView):
    write_roles = permissions.SESSION_PLANNERS

    @extend_schema(responses=s.SessionSerializer, summary="A session")
    def get(self, request: Request, pk: int) -> Response:
        return _session(request, selectors.session_get(user=request.user, pk=pk))

    @extend_schema(
        request=s.SessionUpdateSerializer,
        responses=s.SessionSerializer,
        summary="Move a session, change its module, or record who ran it",
    )
    def patch(self, request: Request, pk: int) -> Response:
        session = selectors.session_get(user=request.user, pk=pk)
        payload = s.SessionUpdateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        services.session_update(
            user=request.user,
            session=session,
            date=_given(data, "date"),
            module=_given(data, "module"),
            instructors_present=_given(data, "instructors_present"),
            reason=data["reason"],
        )
        return _session(request, session)


class SessionCancelView(FidelityAPIView):
    write_roles = permissions.SESSION_PLANNERS

    @extend_schema(
        request=s.SessionCancelSerializer,
        responses=s.SessionSerializer,
        summary="Cancel a planned session (it stays in the schedule, marked)",
    )
    def post(self, request: Request, pk: int) -> Response:
        session = selectors.session_get(user=request.user, pk=pk)
        payload = s.SessionCancelSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.session_cancel(
            user=request.user, session=session, reason=payload.validated_data["reason"]
        )
        return _session(request, session)


def _attendance(session: GroupSession) -> dict[str, Any]:
    lines = selectors.attendance_sheet(session)
    return s.AttendanceSerializer(
        {
            "session": session,
            "members": lines,
            "present": [line.participant.pk for line in lines if line.present],
            "corrections": selectors.attendance_history(session),
        }
    ).data


class AttendanceView(FidelityAPIView):
    read_roles = permissions.MEMBER_READERS
    write_roles = permissions.ATTENDANCE_RECORDERS

    def _session(self, request: Request, pk: int) -> GroupSession:
        session = selectors.session_get(user=request.user, pk=pk)
        permissions.require_role_at(
            request.user, session.group.site, permissions.MEMBER_READERS, "see attendance"
        )
        return session

    @extend_schema(
        responses=s.AttendanceSerializer,
        summary="Every member with present/absent for this session, and its corrections",
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(_attendance(self._session(request, pk)))

    @extend_schema(
        request=s.AttendanceWriteSerializer,
        responses=s.AttendanceSerializer,
        summary="Record attendance: listed members came, the other members did not",
    )
    def put(self, request: Request, pk: int) -> Response:
        session = self._session(request, pk)
        payload = s.AttendanceWriteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        services.attendance_record(
            user=request.user,
            session=session,
            present=data["present"],
            reason=data["reason"],
            version=data.get("version"),
            instructors_present=_given(data, "instructors_present"),
        )
        return Response(_attendance(selectors.session_get(user=request.user, pk=pk)))


# ---------------------------------------------------------------------------- exposure


class ExposureView(FidelityAPIView):
    read_roles = permissions.MEMBER_READERS
    pagination_class = TrialPagination

    @extend_schema(
        parameters=[
            SITE_PARAM,
            OpenApiParameter("groups_page", int, description="Page of `groups` (from 1)"),
        ],
        responses=s.ExposurePageSerializer,
        summary="Exposure (ITT: everyone randomised to IMR): overall, per site, per group, "
        "per participant",
    )
    def get(self, request: Request) -> Response:
        report = selectors.exposure_report(user=request.user, site=request.query_params.get("site"))
        # The participants' rows are the page (`results`); the groups' figures a page of
        # their own (`?groups_page=`); the ITT figures cover everyone.
        response = paginated(
            self,
            request,
            report.rows,
            lambda page: s.ExposureRowSerializer(page, many=True).data,
        )
        groups = TrialPagination()
        groups.page_query_param = "groups_page"
        # A Window pages like a queryset (count() and slices), which the stubs do not know.
        page: Any = groups.paginate_queryset(cast(Any, report.groups), request, view=self)
        response.data.update(
            {
                "itt_available": report.itt_available,
                "overall": s.ExposureSummarySerializer(report.overall).data
                if report.overall
                else None,
                "sites": s.ExposureSummarySerializer(report.sites, many=True).data,
                "groups": groups.get_paginated_response(
                    s.ExposureSummarySerializer(page or [], many=True).data
                ).data,
            }
        )
        return response


class GroupExposureView(FidelityAPIView):
    read_roles = permissions.MEMBER_READERS

    @extend_schema(responses=s.GroupExposureSerializer, summary="Exposure of the group's members")
    def get(self, request: Request, pk: int) -> Response:
        group = selectors.group_get(user=request.user, pk=pk)
        permissions.require_role_at(
            request.user, group.site, permissions.MEMBER_READERS, "see attendance"
        )
        rows = selectors.exposure_rows(user=request.user, group=group)
        data = {"summary": summarise(f"{group.site.code} {group.name}", rows), "participants": rows}
        return Response(s.GroupExposureSerializer(data).data)


# ---------------------------------------------------------------------------- fidelity


class RatingListView(FidelityAPIView):
    read_roles = permissions.FIDELITY_READERS
    write_roles = permissions.RATERS
    pagination_class = TrialPagination

    @extend_schema(
        parameters=[
            OpenApiParameter("group", int),
            OpenApiParameter("timepoint", str, enum=FidelityTimepoint.values),
            OpenApiParameter("rater_kind", str),
        ],
        responses=s.RatingSerializer(many=True),
        summary="Fidelity ratings you may see (the other rater's only once both are in)",
    )
    def get(self, request: Request) -> Response:
        ratings = selectors.rating_list(
            user=request.user,
            group=request.query_params.get("group"),
            timepoint=request.query_params.get("timepoint"),
            rater_kind=request.query_params.get("rater_kind"),
        )
        return paginated(
            self, request, ratings, lambda page: s.RatingSerializer(page, many=True).data
        )

    @extend_schema(
        request=s.RatingCreateSerializer,
        responses={201: s.RatingSerializer},
        summary="Submit an IMR Fidelity Scale rating (rater1, rater2, or consensus after both)",
    )
    def post(self, request: Request) -> Response:
        payload = s.RatingCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        group = selectors.groups_visible_to(request.user).filter(pk=data["group"]).first()
        if group is None:
            raise Invalid(_("Unknown group."), fields={"group": [_("No IMR group with this id.")]})
        rating = services.rating_submit(
            user=request.user,
            group=group,
            timepoint=data["timepoint"],
            rater_kind=data["rater_kind"],
            items=data["items"],
            rated_on=data.get("rated_on"),
            notes=data["notes"],
        )
        fresh = selectors.rating_get(user=request.user, pk=rating.pk)
        return Response(s.RatingSerializer(fresh).data, status=status.HTTP_201_CREATED)


class RatingDetailView(FidelityAPIView):
    read_roles = permissions.FIDELITY_READERS
    write_roles = permissions.RATERS

    @extend_schema(responses=s.RatingSerializer, summary="A fidelity rating you may see")
    def get(self, request: Request, pk: int) -> Response:
        return Response(s.RatingSerializer(selectors.rating_get(user=request.user, pk=pk)).data)

    @extend_schema(
        request=s.RatingCorrectSerializer,
        responses=s.RatingSerializer,
        summary="Correct a rating, with a reason",
    )
    def patch(self, request: Request, pk: int) -> Response:
        rating = selectors.rating_get(user=request.user, pk=pk)
        payload = s.RatingCorrectSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        services.rating_correct(
            user=request.user,
            rating=rating,
            items=_given(data, "items"),
            rated_on=_given(data, "rated_on"),
            notes=_given(data, "notes"),
            reason=data["reason"],
        )
        return Response(s.RatingSerializer(selectors.rating_get(user=request.user, pk=pk)).data)


class GroupFidelityView(FidelityAPIView):
    read_roles = permissions.FIDELITY_READERS

    @extend_schema(
        responses=s.GroupFidelitySerializer,
        summary="The group's fidelity assessments: who has submitted, what you may see, "
        "discrepant items once both are in, the consensus score and band",
    )
    def get(self, request: Request, pk: int) -> Response:
        group = selectors.group_get(user=request.user, pk=pk)
        found = selectors.fidelity_assessments(user=request.user, groups=[group])
        assessments = [found[(group.pk, t)] for t in FidelityTimepoint.values]
        return Response(
            s.GroupFidelitySerializer({"group": group.pk, "timepoints": assessments}).data
        )


class FidelitySummaryView(FidelityAPIView):
    read_roles = permissions.FIDELITY_READERS
    pagination_class = TrialPagination

    @extend_schema(
        responses=s.FidelitySummaryPageSerializer,
        summary="Consensus fidelity per group (a page of groups); per site mean and SD at "
        "midway and end (over every group)",
    )
    def get(self, request: Request) -> Response:
        summary = selectors.fidelity_summary(user=request.user)
        response = paginated(
            self,
            request,
            summary.groups,
            lambda page: s.GroupScoresSerializer(page, many=True).data,
        )
        response.data["sites"] = s.SiteFidelitySerializer(summary.sites, many=True).data
        return response


# ---------------------------------------------------------------------------- reference


class InstructorListView(FidelityAPIView):
    read_roles = permissions.GROUP_MANAGERS

    @extend_schema(
        parameters=[SITE_PARAM],
        responses=s.StaffSerializer(many=True),
        summary="Staff who can instruct IMR groups at a site",
    )
    def get(self, request: Request) -> Response:
        code = (request.query_params.get("site") or "").strip().upper()
        sites = selectors.sites_for_groups(request.user, permissions.GROUP_MANAGERS)
        site = next((x for x in sites if x.code == code), None)
        if site is None:
            raise Invalid(
                _("Unknown site."), fields={"site": [_("Give one of your sites' codes.")]}
            )
        return Response(s.StaffSerializer(selectors.instructors_at(site), many=True).data)


class ModuleListView(FidelityAPIView):
    @extend_schema(responses=s.ModuleSerializer(many=True), summary="The eleven IMR modules")
    def get(self, request: Request) -> Response:
        return Response([{"number": m.value, "name": m.label} for m in Module])
