"""HTTP API for sites and participants (API.md, "Sites and participants")."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from participants import contributions, eligibility, selectors, services
from participants import cpr as cpr_module
from participants.models import Diagnosis, Participant, Sex, Status
from trial.api import role_permission
from trial.models import Site
from trial.paging import TrialPagination, paginated
from trial.roles import Role


class SiteSerializer(serializers.ModelSerializer):
    class Meta:
        model = Site
        fields = ["code", "name"]


class ScreeningSerializer(serializers.Serializer):
    diagnosis = serializers.ChoiceField(choices=Diagnosis.choices)
    pse_confirmed = serializers.BooleanField()
    age_18_or_over = serializers.BooleanField()
    danish_fluent = serializers.BooleanField()
    guardian_or_forensic = serializers.BooleanField()
    dementia_or_intellectual_disability = serializers.BooleanField()
    active_substance_use_disorder = serializers.BooleanField()
    community_residential_home = serializers.BooleanField()
    in_psychoeducation_course = serializers.BooleanField()


class EligibilityResultSerializer(serializers.Serializer):
    eligible = serializers.BooleanField()
    reasons = serializers.ListField(child=serializers.CharField())
    status = serializers.CharField()
    screened_at = serializers.DateTimeField()


class ParticipantSerializer(serializers.ModelSerializer):
    site = serializers.CharField(source="site.code")
    cpr_masked = serializers.CharField()
    eligible = serializers.SerializerMethodField()
    eligibility_reasons = serializers.SerializerMethodField()
    screenings = serializers.SerializerMethodField()

    class Meta:
        model = Participant
        fields = [
            "id",
            "study_id",
            "site",
            "sex",
            "status",
            "cpr_masked",
            "registered_at",
            "eligible",
            "eligibility_reasons",
            "screenings",
            "consent_date",
            "status_date",
            "status_reason",
        ]

    def _latest(self, obj: Participant) -> Any:
        screenings = list(obj.screenings.all())
        return screenings[-1] if screenings else None

    def get_eligible(self, obj: Participant) -> bool | None:
        latest = self._latest(obj)
        return latest.eligible if latest else None

    def get_eligibility_reasons(self, obj: Participant) -> list[str]:
        latest = self._latest(obj)
        return list(latest.reasons) if latest else []

    def get_screenings(self, obj: Participant) -> int:
        return len(obj.screenings.all())

    def to_representation(self, instance: Participant) -> dict[str, Any]:
        data = super().to_representation(instance)
        # Allocation details are added only for users who may see allocation.
        data.update(contributions.fields_for(instance, self.context["request"].user))
        return data


class RegistrationSerializer(serializers.Serializer):
    """Every field is checked here, so that one answer names every bad field (the service
    checks them again)."""

    site = serializers.CharField()
    cpr = serializers.CharField(write_only=True, trim_whitespace=True)
    sex = serializers.ChoiceField(choices=Sex.choices)

    def validate_site(self, value: str) -> str:
        if not Site.objects.filter(code=value.strip().upper()).exists():
            raise serializers.ValidationError(
                _("Unknown site {value!r}; use BAL, GLA or FRB.").format(
                    value=value,
                )
            )
        return value

    @sensitive_variables("value")
    def validate_cpr(self, value: str) -> str:
        try:
            cpr_module.parse_cpr(value)
        except cpr_module.InvalidCpr as exc:
            raise serializers.ValidationError(str(exc)) from None
        return value


class ConsentSerializer(serializers.Serializer):
    consent_date = serializers.DateField()
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class CloseSerializer(serializers.Serializer):
    reason = serializers.CharField()
    date = serializers.DateField()


class StatusChangeSerializer(CloseSerializer):
    status = serializers.ChoiceField(
        choices=[Status.WITHDRAWN, Status.LOST_TO_FOLLOW_UP, Status.DECEASED]
    )


READERS = role_permission(*selectors.PARTICIPANT_READERS)
COORDINATORS = role_permission(Role.COORDINATOR)


def _participant(request: Request, pk: Any) -> Participant:
    return selectors.participant_get(user=request.user, pk=pk)


def _present(request: Request, participant: Participant, code: int = 200) -> Response:
    fresh = (
        selectors.participants_visible_to(request.user)
        .prefetch_related("screenings")
        .get(pk=participant.pk)
    )
    return Response(ParticipantSerializer(fresh, context={"request": request}).data, status=code)


class SiteListView(APIView):
    @extend_schema(responses=SiteSerializer(many=True), summary="The sites you work at")
    def get(self, request: Request) -> Response:
        return Response(SiteSerializer(selectors.sites_visible_to(request.user), many=True).data)


class ParticipantListView(APIView):
    pagination_class = TrialPagination

    def get_permissions(self) -> list[Any]:
        return [COORDINATORS()] if self.request.method == "POST" else [READERS()]

    @extend_schema(
        responses=ParticipantSerializer(many=True),
        parameters=[
            OpenApiParameter("site", str, description="Site code: BAL, GLA or FRB"),
            OpenApiParameter("status", str, enum=Status.values),
            OpenApiParameter(
                "search",
                str,
                description="A study ID, or part of one. A complete ID with a wrong check "
                "character is refused (400).",
            ),
        ],
        summary="Participants at your sites",
    )
    def get(self, request: Request) -> Response:
        queryset = selectors.participant_list(
            user=request.user,
            site=request.query_params.get("site"),
            status=request.query_params.get("status"),
            search=request.query_params.get("search") or request.query_params.get("study_id"),
        )
        # One query for the page's screenings, and what the apps above show this user (the
        # allocation, for those who may see it) selected with the page: no query per row.
        queryset = queryset.select_related(
            *contributions.related_for(request.user)
        ).prefetch_related("screenings")
        return paginated(
            self,
            request,
            queryset,
            lambda page: ParticipantSerializer(page, many=True, context={"request": request}).data,
        )

    @extend_schema(
        request=RegistrationSerializer,
        responses={201: ParticipantSerializer},
        summary="Register a person (CPR number stored encrypted)",
    )
    def post(self, request: Request) -> Response:
        payload = RegistrationSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        participant = services.participant_register(
            user=request.user,
            site_code=payload.validated_data["site"],
            cpr=payload.validated_data["cpr"],
            sex=payload.validated_data["sex"],
        )
        return _present(request, participant, status.HTTP_201_CREATED)


class ParticipantDetailView(APIView):
    permission_classes = [READERS]

    @extend_schema(responses=ParticipantSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return _present(request, _participant(request, pk))


class EligibilityView(APIView):
    permission_classes = [COORDINATORS]

    @extend_schema(
        request=ScreeningSerializer,
        responses=EligibilityResultSerializer,
        summary="Screen eligibility (every screening is kept)",
    )
    def post(self, request: Request, pk: int) -> Response:
        participant = _participant(request, pk)
        payload = ScreeningSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        screening = services.participant_screen(
            user=request.user, participant=participant, answers=dict(payload.validated_data)
        )
        participant.refresh_from_db()
        return Response(
            {
                "eligible": screening.eligible,
                "reasons": screening.reasons,
                "status": participant.status,
                "screened_at": screening.screened_at,
            }
        )


class ConsentView(APIView):
    permission_classes = [COORDINATORS]

    @extend_schema(
        request=ConsentSerializer,
        responses=ParticipantSerializer,
        summary="Record written informed consent",
    )
    def post(self, request: Request, pk: int) -> Response:
        participant = _participant(request, pk)
        payload = ConsentSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.participant_record_consent(
            user=request.user,
            participant=participant,
            consent_date=payload.validated_data["consent_date"],
            reason=payload.validated_data["reason"],
        )
        return _present(request, participant)


class WithdrawView(APIView):
    permission_classes = [COORDINATORS]

    @extend_schema(
        request=CloseSerializer,
        responses=ParticipantSerializer,
        summary="Withdraw a participant (any allocation is kept)",
    )
    def post(self, request: Request, pk: int) -> Response:
        participant = _participant(request, pk)
        payload = CloseSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.participant_close(
            user=request.user,
            participant=participant,
            status=Status.WITHDRAWN,
            on=payload.validated_data["date"],
            reason=payload.validated_data["reason"],
        )
        return _present(request, participant)


class StatusChangeView(APIView):
    permission_classes = [role_permission(Role.COORDINATOR, Role.DATA_MANAGER)]

    @extend_schema(
        request=StatusChangeSerializer,
        responses=ParticipantSerializer,
        summary="Record withdrawal, loss to follow-up or death",
    )
    def post(self, request: Request, pk: int) -> Response:
        participant = _participant(request, pk)
        payload = StatusChangeSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.participant_close(
            user=request.user,
            participant=participant,
            status=payload.validated_data["status"],
            on=payload.validated_data["date"],
            reason=payload.validated_data["reason"],
        )
        return _present(request, participant)


class EligibilityCriteriaView(APIView):
    @extend_schema(
        responses=inline_serializer(
            "Criterion",
            {
                "field": serializers.CharField(),
                "question": serializers.CharField(),
                "required_answer": serializers.BooleanField(),
            },
            many=True,
        ),
        summary="The eligibility questions and the answer each criterion needs",
    )
    def get(self, request: Request) -> Response:
        return Response(
            [
                {"field": c.field, "question": c.question, "required_answer": c.required_answer}
                for c in eligibility.CRITERIA
            ]
        )


class ChangeSerializer(serializers.Serializer):
    field = serializers.CharField()
    old = serializers.CharField()
    new = serializers.CharField()


class AuditEntrySerializer(serializers.Serializer):
    at = serializers.DateTimeField(help_text="UTC")
    at_local = serializers.CharField(source="local_text", help_text="Copenhagen time")
    who = serializers.CharField()
    record = serializers.CharField()
    action = serializers.CharField()
    changes = ChangeSerializer(many=True)
    reason = serializers.CharField()
    via = serializers.CharField()


class AuditTrailView(APIView):
    """The participant's audit history (data managers and monitors; blinded: nothing that
    could reveal an arm is included)."""

    @extend_schema(responses=AuditEntrySerializer(many=True), summary="Audit history, newest first")
    def get(self, request: Request, pk: int) -> Response:
        _participant, entries = selectors.participant_audit_trail(user=request.user, pk=pk)
        return Response(AuditEntrySerializer(entries, many=True).data)
