"""`GET`/`PUT /api/v1/participants/{id}/assessments/{timepoint}/{instrument}/` (API.md), the
participant's list of forms, source-data verification and the version history."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from assessments import permissions, selectors, services
from assessments.models import InstrumentResponse, Timepoint
from instruments import psp, registry
from instruments.base import Instrument
from participants.models import Participant
from trial.api import role_permission
from trial.errors import Forbidden, NotFound

READERS = role_permission(*permissions.READERS)

PATH_PARAMETERS = [
    OpenApiParameter("id", int, OpenApiParameter.PATH, description="Participant id"),
    OpenApiParameter(
        "timepoint",
        str,
        OpenApiParameter.PATH,
        enum=Timepoint.values,
        description="baseline, post or followup (T0, T1, T2 accepted)",
    ),
    OpenApiParameter(
        "instrument", str, OpenApiParameter.PATH, description="Instrument code, e.g. PANSS"
    ),
]


class ResponseWriteSerializer(serializers.Serializer):
    items = serializers.DictField(
        child=serializers.JSONField(), required=False, help_text="Item code → scored value"
    )
    missing = serializers.DictField(
        child=serializers.JSONField(),
        required=False,
        help_text="Item code → missing-data reason (not_answered, refused, not_assessed, "
        "insufficient_information, not_applicable)",
    )
    comments = serializers.DictField(
        child=serializers.JSONField(),
        required=False,
        help_text='Item code → free text ("other (specify)", the reason for a PSP total '
        "outside its interval)",
    )
    status = serializers.ChoiceField(choices=["draft", "complete"], default="draft")
    version = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="The version you read; leave out or 0 to create the form",
    )
    reason = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="Required once a form was completed"
    )
    interview_date = serializers.DateField(
        required=False, allow_null=True, help_text="Defaults to today for a new form"
    )


UNBLINDING_FLAG_HELP = (
    "True when the rater had reported being unblinded (an unblinding report) on or before the "
    "day of this assessment. Only for data managers and statisticians; holds no arm."
)


class QueryBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    item = serializers.CharField()
    status = serializers.CharField()
    kind = serializers.CharField()
    message = serializers.CharField()


class ResponseReadSerializer(serializers.Serializer):
    participant = serializers.IntegerField()
    study_id = serializers.CharField()
    timepoint = serializers.CharField()
    instrument = serializers.CharField()
    items = serializers.DictField(child=serializers.JSONField())
    missing = serializers.DictField(child=serializers.CharField())
    comments = serializers.DictField(child=serializers.CharField())
    scores = serializers.DictField(child=serializers.FloatField(allow_null=True))
    status = serializers.CharField()
    version = serializers.IntegerField()
    interview_date = serializers.DateField(allow_null=True)
    rater = serializers.CharField(allow_null=True)
    rater_role = serializers.CharField()
    first_completed_at = serializers.DateTimeField(allow_null=True)
    verified_by = serializers.CharField(allow_null=True)
    verified_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    derived = serializers.DictField(
        child=serializers.JSONField(),
        help_text="Derived items (DEMOG: SITE, SEX, AGE) and the PSP interval",
    )
    queries = QueryBriefSerializer(many=True, required=False)
    queries_opened = serializers.ListField(child=serializers.CharField(), required=False)
    unblinding_flag = serializers.BooleanField(required=False, help_text=UNBLINDING_FLAG_HELP)


class VerifySerializer(serializers.Serializer):
    version = serializers.IntegerField(help_text="The version you checked against the source")


class HistoryEntrySerializer(serializers.Serializer):
    version = serializers.IntegerField()
    label = serializers.CharField()  # type: ignore[assignment]  # a field called "label" (the stubs see Field.label)
    at = serializers.DateTimeField()
    status = serializers.CharField()
    user = serializers.CharField()
    reason = serializers.CharField()


class FormStatusSerializer(serializers.Serializer):
    timepoint = serializers.CharField()
    instrument = serializers.CharField()
    status = serializers.CharField()
    version = serializers.IntegerField(allow_null=True)
    interview_date = serializers.DateField(allow_null=True)
    may_read = serializers.BooleanField()
    may_enter = serializers.BooleanField()
    unblinding_flag = serializers.BooleanField(required=False, help_text=UNBLINDING_FLAG_HELP)


def derived_values(response: InstrumentResponse, instrument: Instrument) -> dict[str, Any]:
    derived: dict[str, Any] = {}
    if instrument.derive is not None:
        derived.update(
            {
                code: value
                for code, value in instrument.derive(response.participant).items()
                if instrument.item(code).exported
            }
        )
    if instrument.code == "PSP":
        found = psp.interval(response.items)
        derived["PSP_INTERVAL"] = list(found) if found else None
    return derived


def present(
    response: InstrumentResponse,
    instrument: Instrument,
    *,
    queries: bool = False,
    opened: list[str] | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "participant": response.participant_id,
        "study_id": response.participant.study_id,
        "timepoint": response.timepoint,
        "instrument": response.instrument,
        "items": response.items,
        "missing": response.missing,
        "comments": response.comments,
        "scores": response.scores,
        "status": response.status,
        "version": response.version,
        "interview_date": response.interview_date,
        "rater": response.rater.get_username() if response.rater else None,
        "rater_role": response.rater_role,
        "first_completed_at": response.first_completed_at,
        "verified_by": response.verified_by.get_username() if response.verified_by else None,
        "verified_at": response.verified_at,
        "created_at": response.created_at,
        "updated_at": response.updated_at,
        "derived": derived_values(response, instrument),
    }
    if queries:
        data["queries"] = [
            {"id": q.pk, "item": q.item, "status": q.status, "kind": q.kind, "message": q.message}
            for q in response.queries.order_by("raised_at", "id")
        ]
    if opened is not None:
        data["queries_opened"] = opened
    return data


def with_flag(request: Request, data: dict[str, Any], response: InstrumentResponse) -> Any:
    """Add the unblinding flag for the roles that see it."""
    if permissions.may_see_unblinding_flag(request.user):
        data["unblinding_flag"] = selectors.unblinding_flags([response])[response.pk]
    return data


def _participant(request: Request, pk: Any) -> Participant:
    return selectors.participant_get(user=request.user, pk=pk)


def _readable(
    request: Request, participant: Participant, timepoint: str, code: str
) -> tuple[str, Instrument]:
    timepoint = selectors.parse_timepoint(timepoint)
    instrument = selectors.form_instrument(code, timepoint)
    if not permissions.may_read_values(request.user, participant.site_id, instrument):
        raise Forbidden(
            _(
                "{code} is rated by the participant's own clinician, who is not blinded; "
                "blinded staff cannot read it."
            ).format(
                code=instrument.code,
            )
        )
    return timepoint, instrument


class ResponseView(APIView):
    """Read or save one form. Roles and sites are checked in the selectors and services."""

    permission_classes = [role_permission(*permissions.READERS, *permissions.ENTERING_ROLES)]

    @extend_schema(
        parameters=PATH_PARAMETERS,
        responses={200: ResponseReadSerializer},
        summary="The saved form (404 when nothing is saved yet)",
    )
    def get(self, request: Request, pk: int, timepoint: str, instrument: str) -> Response:
        participant = _participant(request, pk)
        timepoint, form = _readable(request, participant, timepoint, instrument)
        response = selectors.response_find(participant, timepoint, form.code)
        if response is None:
            raise NotFound(
                _("No {code} is saved at {timepoint} for this participant.").format(
                    code=form.code,
                    timepoint=timepoint,
                )
            )
        return Response(with_flag(request, present(response, form, queries=True), response))

    @extend_schema(
        parameters=PATH_PARAMETERS,
        request=ResponseWriteSerializer,
        responses={200: ResponseReadSerializer, 201: ResponseReadSerializer},
        summary="Create (201) or change (200) a form; 400 per bad item, 409 stale or locked",
    )
    def put(self, request: Request, pk: int, timepoint: str, instrument: str) -> Response:
        participant = _participant(request, pk)
        timepoint = selectors.parse_timepoint(timepoint)
        payload = ResponseWriteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        raw: dict[str, Any] = request.data if isinstance(request.data, dict) else {}
        result = services.response_save(
            user=request.user,
            participant=participant,
            timepoint=timepoint,
            code=instrument,
            items=raw.get("items"),
            missing=raw.get("missing"),
            comments=raw.get("comments"),
            status=data["status"],
            version=data.get("version"),
            reason=data["reason"],
            interview_date=data.get("interview_date"),
        )
        form = registry.get(result.response.instrument)
        return Response(
            present(result.response, form, opened=[f.message for f in result.queries_opened]),
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )


class VerifyView(APIView):
    permission_classes = [role_permission(*permissions.VERIFIERS)]

    @extend_schema(
        parameters=PATH_PARAMETERS,
        request=VerifySerializer,
        responses={200: ResponseReadSerializer},
        summary="Source-data verification of a complete form (monitor, data manager)",
    )
    def post(self, request: Request, pk: int, timepoint: str, instrument: str) -> Response:
        participant = _participant(request, pk)
        timepoint, form = _readable(request, participant, timepoint, instrument)
        payload = VerifySerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        response = selectors.response_find(participant, timepoint, form.code)
        if response is None:
            raise NotFound(_("Nothing is saved to verify."))
        verified = services.response_verify(
            user=request.user, response=response, version=payload.validated_data["version"]
        )
        return Response(with_flag(request, present(verified, form), verified))


class HistoryView(APIView):
    permission_classes = [READERS]

    @extend_schema(
        parameters=PATH_PARAMETERS,
        responses=HistoryEntrySerializer(many=True),
        summary="Every saved version of the form: who, when, why",
    )
    def get(self, request: Request, pk: int, timepoint: str, instrument: str) -> Response:
        participant = _participant(request, pk)
        timepoint, form = _readable(request, participant, timepoint, instrument)
        response = selectors.response_find(participant, timepoint, form.code)
        if response is None:
            raise NotFound(_("Nothing is saved yet."))
        return Response(selectors.response_history(response))


class ParticipantFormsView(APIView):
    permission_classes = [READERS]

    @extend_schema(
        parameters=[
            OpenApiParameter("id", int, OpenApiParameter.PATH, description="Participant id")
        ],
        responses=FormStatusSerializer(many=True),
        summary="The participant's forms at every timepoint, with their status",
    )
    def get(self, request: Request, pk: int) -> Response:
        participant = _participant(request, pk)
        saved = selectors.responses_of(participant)
        flags = (
            selectors.unblinding_flags(saved.values())
            if permissions.may_see_unblinding_flag(request.user)
            else None
        )
        rows = []
        for timepoint in Timepoint.values:
            for instrument in registry.for_timepoint(timepoint):
                response = saved.get((timepoint, instrument.code))
                rows.append(
                    {
                        "timepoint": timepoint,
                        "instrument": instrument.code,
                        "status": response.status if response else "not_started",
                        "version": response.version if response else None,
                        "interview_date": response.interview_date if response else None,
                        "may_read": permissions.may_read_values(
                            request.user, participant.site_id, instrument
                        ),
                        "may_enter": permissions.may_enter(
                            request.user, participant.site_id, instrument
                        ),
                    }
                )
                if flags is not None:
                    rows[-1]["unblinding_flag"] = bool(response and flags[response.pk])
        return Response(rows)
