"""HTTP API of randomisation and blinding (API.md, "Sites and participants", plus the
statistician's list endpoints, unblinding reports and blinding guesses)."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpResponse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import permissions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from participants import selectors as participant_selectors
from participants.models import Participant
from randomization import selectors, services
from randomization.models import (
    AllocationList,
    BlindingGuess,
    Guess,
    IncidentHow,
    RandomizationLogEntry,
    UnblindingIncident,
)
from randomization.services.blinding import resolve_person
from randomization.services.lists import is_list_custodian
from trial import access
from trial.api import role_permission
from trial.errors import Invalid
from trial.paging import TrialPagination, paginated
from trial.roles import Role

NO_STORE = "no-store, private"


class StatisticianOnly(permissions.BasePermission):
    """The list custodian (services.lists.is_list_custodian). Blinded users get 404, exactly
    as for something that does not exist (DEVELOPERS.md, "The few rules that matter"); other
    roles get 403."""

    message = "Only a statistician can do this."

    def has_permission(self, request: Any, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if is_list_custodian(user):
            return True
        if access.is_blinded(user):
            raise Http404
        return False


def _participant(request: Request, pk: Any) -> Participant:
    return participant_selectors.participant_get(user=request.user, pk=pk)


# --- randomise ---------------------------------------------------------------------------


class RandomizationSerializer(serializers.Serializer):
    participant = serializers.IntegerField(source="participant_id")
    study_id = serializers.CharField(source="participant.study_id")
    arm = serializers.ChoiceField(choices=["IMR", "TAU"])
    randomization_code = serializers.CharField()
    randomized_at = serializers.DateTimeField()


class RandomizeRequestSerializer(serializers.Serializer):
    """The request body is an empty object: everything the randomisation needs is already
    recorded for the participant."""


class RandomizeView(APIView):
    permission_classes = [role_permission(Role.COORDINATOR)]

    @extend_schema(
        request=RandomizeRequestSerializer,
        responses={
            201: RandomizationSerializer,
            400: OpenApiTypes.OBJECT,
            403: OpenApiTypes.OBJECT,
            404: OpenApiTypes.OBJECT,
            409: OpenApiTypes.OBJECT,
            503: OpenApiTypes.OBJECT,
        },
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                required=False,
                description="Repeat a request with the same key (e.g. after a timeout) to get "
                "the same allocation back instead of 409.",
            )
        ],
        summary="Randomise a participant (irreversible; coordinators at the participant's site)",
    )
    def post(self, request: Request, pk: int) -> Response:
        participant = _participant(request, pk)
        if not isinstance(request.data, dict):
            raise Invalid(_("Send an empty JSON object: {}."))
        outcome = services.randomize(
            participant=participant,
            user=request.user,
            idempotency_key=request.headers.get("Idempotency-Key"),
            channel="api",
        )
        response = Response(
            RandomizationSerializer(outcome.allocation).data, status=status.HTTP_201_CREATED
        )
        if not outcome.created:
            response["Idempotent-Replayed"] = "true"
        response["Cache-Control"] = NO_STORE
        return response


# --- blinding guesses --------------------------------------------------------------------


class BlindingGuessSerializer(serializers.ModelSerializer):
    participant = serializers.IntegerField(source="participant_id")
    study_id = serializers.CharField(source="participant.study_id")
    assessor = serializers.CharField(source="assessor.username")

    class Meta:
        model = BlindingGuess
        fields = ["participant", "study_id", "timepoint", "guess", "assessor", "recorded_at"]


class BlindingGuessRequestSerializer(serializers.Serializer):
    guess = serializers.ChoiceField(choices=Guess.choices)
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class BlindingGuessView(APIView):
    permission_classes = [role_permission(*selectors.GUESS_READERS)]

    def get_permissions(self) -> list[Any]:
        if self.request.method == "PUT":
            return [role_permission(Role.ASSESSOR)()]
        return list(super().get_permissions())

    @extend_schema(responses=BlindingGuessSerializer, summary="The recorded blinding guess")
    def get(self, request: Request, pk: int, timepoint: str) -> Response:
        participant = _participant(request, pk)
        guess = selectors.blinding_guess_get(
            user=request.user, participant=participant, timepoint=timepoint
        )
        return Response(BlindingGuessSerializer(guess).data)

    @extend_schema(
        request=BlindingGuessRequestSerializer,
        responses={200: BlindingGuessSerializer, 201: BlindingGuessSerializer},
        summary="Record the assessor's guess of the arm (post / followup)",
    )
    def put(self, request: Request, pk: int, timepoint: str) -> Response:
        participant = _participant(request, pk)
        payload = BlindingGuessRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        guess, created = services.blinding_guess_record(
            user=request.user,
            participant=participant,
            timepoint=timepoint,
            guess=payload.validated_data["guess"],
            reason=payload.validated_data["reason"],
        )
        return Response(
            BlindingGuessSerializer(guess).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


# --- unblinding incidents ----------------------------------------------------------------


class IncidentSerializer(serializers.ModelSerializer):
    person = serializers.CharField(source="person.username")
    reported_by = serializers.CharField(source="reported_by.username")
    participant = serializers.IntegerField(source="participant_id", allow_null=True)
    study_id = serializers.SerializerMethodField()

    class Meta:
        model = UnblindingIncident
        fields = [
            "id",
            "person",
            "participant",
            "study_id",
            "learned_on",
            "how",
            "description",
            "reported_by",
            "reported_at",
        ]

    def get_study_id(self, obj: UnblindingIncident) -> str | None:
        return obj.participant.study_id if obj.participant else None


class IncidentRequestSerializer(serializers.Serializer):
    learned_on = serializers.DateField()
    how = serializers.ChoiceField(choices=IncidentHow.choices)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    participant = serializers.IntegerField(required=False, allow_null=True, default=None)
    person = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="Username of the unblinded person (trial managers reporting for someone)",
    )


class IncidentListView(APIView):
    pagination_class = TrialPagination

    @extend_schema(
        responses=IncidentSerializer(many=True),
        summary="Unblinding reports (trial managers: all; blinded staff: their own)",
    )
    def get(self, request: Request) -> Response:
        incidents = selectors.incidents_visible_to(request.user)
        return paginated(
            self, request, incidents, lambda page: IncidentSerializer(page, many=True).data
        )

    @extend_schema(
        request=IncidentRequestSerializer,
        responses={201: IncidentSerializer},
        summary="Report that a blinded person learned an allocation",
    )
    def post(self, request: Request) -> Response:
        payload = IncidentRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        participant = _participant(request, data["participant"]) if data["participant"] else None
        incident = services.unblinding_incident_report(
            user=request.user,
            learned_on=data["learned_on"],
            how=data["how"],
            description=data["description"],
            participant=participant,
            person=resolve_person(data["person"]),
        )
        return Response(IncidentSerializer(incident).data, status=status.HTTP_201_CREATED)


# --- allocation lists (statisticians) ----------------------------------------------------


class AllocationListSerializer(serializers.ModelSerializer):
    site = serializers.CharField(source="site.code")
    created_by = serializers.SerializerMethodField()
    has_seed = serializers.SerializerMethodField()

    class Meta:
        model = AllocationList
        fields = [
            "id",
            "site",
            "version",
            "source",
            "first_sequence",
            "length",
            "sha256",
            "has_seed",
            "parameters",
            "created_by",
            "created_at",
        ]

    def get_created_by(self, obj: AllocationList) -> str:
        if obj.created_by:
            return obj.created_by.get_username()
        return str(obj.parameters.get("generated_by") or obj.parameters.get("imported_by") or "")

    def get_has_seed(self, obj: AllocationList) -> bool:
        return bool(obj.seed_sealed)


class ListFileSerializer(serializers.Serializer):
    csv = serializers.CharField(
        trim_whitespace=False, allow_blank=True, help_text="The list file's text (CSV)"
    )
    filename = serializers.CharField(required=False, allow_blank=True, default="")


class ImportSerializer(ListFileSerializer):
    extend = serializers.BooleanField(
        required=False, default=False, help_text="Append complete blocks to existing lists"
    )
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class VerificationSerializer(serializers.Serializer):
    matches = serializers.BooleanField()
    errors = serializers.ListField(child=serializers.CharField())  # type: ignore[assignment]  # a field called "errors" (the stubs see Serializer.errors)
    versions = serializers.ListField(child=serializers.DictField())


class SeedSerializer(serializers.Serializer):
    site = serializers.CharField()
    version = serializers.IntegerField()
    seed = serializers.CharField()
    seed_commitment = serializers.CharField()
    algorithm = serializers.CharField()


def _file_response(data: bytes, *, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(data, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = NO_STORE
    return response


class AllocationListListView(APIView):
    permission_classes = [StatisticianOnly]

    @extend_schema(
        responses=AllocationListSerializer(many=True),
        summary="Allocation list versions: metadata and SHA-256 (never the list itself)",
    )
    def get(self, request: Request) -> Response:
        lists = selectors.allocation_lists(user=request.user)
        return Response(AllocationListSerializer(lists, many=True).data)


class AllocationListCsvView(APIView):
    permission_classes = [StatisticianOnly]

    @extend_schema(
        responses={(200, "text/csv"): OpenApiTypes.STR},
        summary="Download a list version in canonical CSV (audited)",
    )
    def get(self, request: Request, pk: int) -> HttpResponse:
        allocation_list = services.allocation_list_get(user=request.user, pk=pk, channel="api")
        data = services.allocation_list_csv(
            allocation_list=allocation_list, user=request.user, channel="api"
        )
        response = _file_response(
            data,
            content_type="text/csv; charset=utf-8",
            filename=f"allocation_{allocation_list.site.code}_v{allocation_list.version}.csv",
        )
        response["X-Content-SHA256"] = allocation_list.sha256
        return response


class AllocationListSeedView(APIView):
    permission_classes = [StatisticianOnly]

    @extend_schema(responses=SeedSerializer, summary="The seed of a generated list (audited)")
    def get(self, request: Request, pk: int) -> Response:
        allocation_list = services.allocation_list_get(user=request.user, pk=pk, channel="api")
        seed = services.allocation_list_seed(
            allocation_list=allocation_list, user=request.user, channel="api"
        )
        response = Response(
            {
                "site": allocation_list.site.code,
                "version": allocation_list.version,
                "seed": seed,
                "seed_commitment": allocation_list.parameters.get("seed_commitment", ""),
                "algorithm": allocation_list.parameters.get("algorithm", ""),
            }
        )
        response["Cache-Control"] = NO_STORE
        return response


class TrialMasterFileView(APIView):
    permission_classes = [StatisticianOnly]

    @extend_schema(
        responses={(200, "application/zip"): OpenApiTypes.BINARY},
        summary="Every list version, the seeds and a manifest as one zip (audited)",
    )
    def get(self, request: Request) -> HttpResponse:
        data = services.trial_master_file_package(user=request.user, channel="api")
        return _file_response(
            data, content_type="application/zip", filename="imr_allocation_lists.zip"
        )


class AllocationListImportView(APIView):
    permission_classes = [StatisticianOnly]

    @extend_schema(
        request=ImportSerializer,
        responses={201: AllocationListSerializer(many=True)},
        summary="Import an externally generated list, or append blocks (all or nothing)",
    )
    def post(self, request: Request) -> Response:
        payload = ImportSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        created = services.allocation_list_import(
            data=payload.validated_data["csv"],
            user=request.user,
            extend=payload.validated_data["extend"],
            reason=payload.validated_data["reason"],
            channel="api",
            filename=payload.validated_data["filename"],
        )
        return Response(
            AllocationListSerializer(created, many=True).data, status=status.HTTP_201_CREATED
        )


class AllocationListVerifyView(APIView):
    permission_classes = [StatisticianOnly]

    @extend_schema(
        request=ListFileSerializer,
        responses=VerificationSerializer,
        summary="Verify the stored list against a file (audited)",
    )
    def post(self, request: Request) -> Response:
        payload = ListFileSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        result = services.allocation_list_verify(
            data=payload.validated_data["csv"],
            user=request.user,
            channel="api",
            filename=payload.validated_data["filename"],
        )
        return Response(result.as_dict())


class LogEntrySerializer(serializers.ModelSerializer):
    site = serializers.CharField(source="site.code", allow_null=True, default=None)
    participant = serializers.CharField(
        source="participant.study_id", allow_null=True, default=None
    )

    class Meta:
        model = RandomizationLogEntry
        fields = [
            "id",
            "at",
            "kind",
            "username",
            "channel",
            "site",
            "participant",
            "allocation_list",
            "message",
            "detail",
            "request_id",
        ]


class RandomizationLogView(APIView):
    permission_classes = [StatisticianOnly]
    pagination_class = TrialPagination

    @extend_schema(
        responses=LogEntrySerializer(many=True),
        parameters=[
            OpenApiParameter("kind", str, required=False),
            OpenApiParameter("site", str, required=False),
        ],
        summary="The randomisation log (newest first)",
    )
    def get(self, request: Request) -> Response:
        entries = selectors.randomization_log(
            user=request.user,
            kind=request.query_params.get("kind"),
            site=request.query_params.get("site"),
        )
        return paginated(
            self, request, entries, lambda page: LogEntrySerializer(page, many=True).data
        )


_estimate = inline_serializer(
    "IndexEstimate",
    {
        "estimate": serializers.FloatField(allow_null=True),
        "se": serializers.FloatField(allow_null=True),
        "lower": serializers.FloatField(allow_null=True),
        "upper": serializers.FloatField(allow_null=True),
    },
)


class BlindingIndexView(APIView):
    permission_classes = [StatisticianOnly]

    @extend_schema(
        responses=inline_serializer(
            "BlindingIndexReport",
            {
                "timepoints": inline_serializer(
                    "BlindingIndexTimepoint",
                    {
                        "timepoint": serializers.CharField(),
                        "label": serializers.CharField(),
                        "n": serializers.IntegerField(),
                        "table": serializers.DictField(child=serializers.DictField()),
                        "bang": serializers.DictField(child=_estimate),
                        "james": _estimate,
                    },
                    many=True,
                )
            },
        ),
        summary="Bang's and James' blinding indices (statisticians, after lock; audited)",
    )
    def get(self, request: Request) -> Response:
        return Response(selectors.blinding_index_report(user=request.user, channel="api"))
