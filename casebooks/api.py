"""`GET/POST /api/v1/participants/{id}/signatures/`: a participant's visit signatures, and the
investigator's signing of a visit with the password (and code) typed again."""

from __future__ import annotations

from typing import Any

from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from casebooks import permissions, selectors, services
from casebooks.models import Meaning
from casebooks.selectors import SignatureState
from trial.api import role_permission


class SignRequestSerializer(serializers.Serializer):
    timepoint = serializers.CharField(help_text="baseline, post or followup (T0/T1/T2 too)")
    meaning = serializers.ChoiceField(
        choices=[Meaning.REVIEWED.value], required=False, default=Meaning.REVIEWED.value
    )
    password = serializers.CharField(trim_whitespace=False, style={"input_type": "password"})
    otp = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="for two-factor roles"
    )


class SignatureChangeSerializer(serializers.Serializer):
    instrument = serializers.CharField()
    signed_version = serializers.IntegerField(allow_null=True)
    current_version = serializers.IntegerField(allow_null=True)
    at = serializers.DateTimeField(allow_null=True)
    user = serializers.CharField()
    reason = serializers.CharField()


class SignatureSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    timepoint = serializers.CharField()
    signer = serializers.CharField(help_text="username")
    signer_name = serializers.CharField()
    signer_role = serializers.CharField()
    meaning = serializers.CharField()
    meaning_label = serializers.CharField()
    signed_at = serializers.DateTimeField()
    sha256 = serializers.CharField()
    status = serializers.CharField(help_text="intact or broken")
    broken_by = SignatureChangeSerializer(many=True)


def present(state: SignatureState) -> dict[str, Any]:
    signature = state.signature
    return {
        "id": signature.pk,
        "timepoint": signature.timepoint,
        "signer": signature.signer.get_username(),
        "signer_name": signature.signer_name,
        "signer_role": signature.signer_role,
        "meaning": signature.meaning,
        "meaning_label": str(signature.get_meaning_display()),
        "signed_at": signature.signed_at,
        "sha256": signature.content_sha256,
        "status": state.status,
        "broken_by": [
            {
                "instrument": c.instrument,
                "signed_version": c.signed_version,
                "current_version": c.current_version,
                "at": c.at,
                "user": c.user,
                "reason": c.reason,
            }
            for c in state.changes
        ],
    }


@method_decorator(sensitive_post_parameters("password", "otp"), name="dispatch")
class ParticipantSignaturesView(APIView):
    permission_classes = [role_permission(*permissions.SIGNATURE_READERS)]

    @extend_schema(
        responses={200: SignatureSerializer(many=True)},
        summary="A participant's visit signatures, each intact or broken (and by which change)",
    )
    def get(self, request: Request, pk: int) -> Response:
        participant = selectors.participant_get(user=request.user, pk=pk)
        states = selectors.signatures_for(request.user, participant)
        rows = [present(s) for timepoint in states for s in states[timepoint]]
        rows.sort(key=lambda r: (r["signed_at"], r["id"]))
        return Response(rows)

    @extend_schema(
        request=SignRequestSerializer,
        responses={
            201: SignatureSerializer,
            400: OpenApiResponse(description="Wrong password or code (counted by the lockout)"),
            403: OpenApiResponse(description="Not the investigator of the participant's site"),
            409: OpenApiResponse(
                description="The visit is not complete, is signed and unchanged, or locked"
            ),
            429: OpenApiResponse(description="Locked out after repeated failures"),
        },
        summary="Sign a visit (the site's principal investigator; credentials again)",
    )
    def post(self, request: Request, pk: int) -> Response:
        participant = selectors.participant_get(user=request.user, pk=pk)
        payload = SignRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        signature = services.visit_sign(
            request=request._request,
            user=request.user,
            participant=participant,
            timepoint=data["timepoint"],
            meaning=data["meaning"],
            password=data["password"],
            otp=data["otp"],
        )
        state = SignatureState(signature, True)
        return Response(present(state), status=status.HTTP_201_CREATED)
