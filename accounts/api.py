"""`POST /api/v1/auth/token/` (API.md, "Authentication"), revoking a token, and who am I."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate
from django.http import HttpResponse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_post_parameters
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import backoff, lockout, tokens, twofactor
from accounts.authlog import record
from accounts.models import ApiToken, AuthEvent, PasswordChangeDemand
from trial import access
from trial.models import Site
from trial.roles import SITE_SCOPED_ROLES, Role


class TokenRequestSerializer(serializers.Serializer):
    # As long as a username can be (django.contrib.auth); a longer one would reach the lockout
    # log's column and fail there.
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(trim_whitespace=False, style={"input_type": "password"})
    otp = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="The current code of the authenticator app; required for statisticians, "
        "data managers and administrators.",
    )


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Send as `Authorization: Token <token>`.")
    expires_at = serializers.DateTimeField(
        help_text="The latest moment the token works; it also ends after a period without use."
    )


ERROR = inline_serializer("AuthError", {"detail": serializers.CharField()})
OTP_ERROR = inline_serializer(
    "OtpError", {"otp": serializers.ListField(child=serializers.CharField())}
)

# One answer for every failure: wrong username or password, and for the two-factor roles a
# missing or wrong code (or no authenticator enrolled yet: enrol at /accounts/login/).
BAD_CREDENTIALS = _(
    "Unable to log in with the username, password and code given (statisticians, data "
    "managers and administrators also send the current code of their authenticator app as "
    "'otp'; enrol one at /accounts/login/ first)."
)


@method_decorator(sensitive_post_parameters("password", "otp"), name="dispatch")
class TokenView(APIView):
    authentication_classes = [tokens.TrialTokenAuthentication]
    permission_classes = [AllowAny]

    def perform_authentication(self, request: Request) -> None:
        # Asking for a token needs no token: a client still sending an expired one must be
        # able to get a new one.
        if request.method != "POST":
            super().perform_authentication(request)

    @extend_schema(
        request=TokenRequestSerializer,
        responses={
            200: TokenResponseSerializer,
            400: OpenApiResponse(
                description="Wrong username, password or (two-factor roles) code: one "
                "answer for all of them (`detail`), so that a refusal never confirms that a "
                "password was right."
            ),
            429: OpenApiResponse(ERROR, description="Locked out after repeated failures."),
        },
        auth=[],
        summary="Get an API token",
    )
    def post(self, request: Request) -> Response | HttpResponse:
        payload = TokenRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        username = payload.validated_data["username"]
        # The Django request, so that axes sees (and counts) this attempt exactly as it sees
        # the login page's, and can flag a lockout on it.
        django_request = request._request
        wait = backoff.wait_seconds(django_request, username)
        if wait:
            return backoff.refusal(django_request, username, wait)
        user = authenticate(
            request=django_request, username=username, password=payload.validated_data["password"]
        )
        if getattr(django_request, "axes_locked_out", False):
            return lockout.lockout_response(django_request)
        if user is None:
            return Response({"detail": BAD_CREDENTIALS}, status=status.HTTP_400_BAD_REQUEST)

        if access.needs_two_factor(user):
            refusal = self._second_factor(django_request, user, payload.validated_data["otp"])
            if refusal is not None:
                return refusal
        lockout.failures_reset(user.get_username())
        if PasswordChangeDemand.objects.filter(user=user).exists():
            # The administrator knows this password: no token until the user chose their own.
            return Response(
                {
                    "detail": "Your password was set by an administrator: log in at "
                    "/accounts/login/ and choose your own first."
                },
                status=status.HTTP_403_FORBIDDEN,
            )
        key, token = tokens.token_issue(user=user)
        record(
            AuthEvent.Kind.TOKEN_ISSUED,
            username=user.get_username(),
            request=django_request,
            user=user,
            detail=f"token {token.prefix}…, expires {token.expires_at:%Y-%m-%d %H:%M} UTC",
        )
        return Response({"token": key, "expires_at": token.expires_at})

    @staticmethod
    def _second_factor(django_request: Any, user: Any, otp: str) -> Response | HttpResponse | None:
        """None when the code is right. Otherwise the very answer a wrong password gets (the
        same body and status, counted towards the lockout like one): a refusal that named the
        code would tell whoever tries a stolen password that it is right."""
        username = user.get_username()
        device = twofactor.confirmed_device(user)
        code = twofactor.clean_code(otp)
        if device is not None and code and twofactor.code_is_valid(device, code):
            return None
        if device is None:
            why = "no authenticator enrolled"
        elif not code:
            why = "no code given"
        else:
            why = "wrong code"
        # Recorded in the security log (otp_failed) and counted by axes.
        if lockout.second_factor_failed(django_request, username, f"{why} on the token endpoint"):
            return lockout.lockout_response(django_request)
        return Response({"detail": BAD_CREDENTIALS}, status=status.HTTP_400_BAD_REQUEST)

    @extend_schema(
        request=None,
        responses={204: None, 400: ERROR},
        summary="Revoke the token sent with this request",
    )
    def delete(self, request: Request) -> Response:
        if not request.user.is_authenticated:
            raise exceptions.NotAuthenticated()
        token = request.auth
        if not isinstance(token, ApiToken):
            return Response(
                {"detail": _("Send the token to revoke as 'Authorization: Token <token>'.")},
                status=status.HTTP_400_BAD_REQUEST,
            )
        tokens.token_revoke(token=token)
        record(
            AuthEvent.Kind.TOKEN_REVOKED,
            username=request.user.get_username(),
            request=request._request,
            user=request.user,
            detail=f"token {token.prefix}… revoked by its holder",
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class RoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)
    label = serializers.CharField()  # type: ignore[assignment]  # a field called "label" (the stubs see Field.label)
    sites = serializers.ListField(child=serializers.CharField(), help_text="Site codes")


class MeSerializer(serializers.Serializer):
    username = serializers.CharField()
    full_name = serializers.CharField()
    roles = RoleSerializer(many=True)
    may_see_allocation = serializers.BooleanField()
    two_factor_required = serializers.BooleanField()
    two_factor_enrolled = serializers.BooleanField()


class MeView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=MeSerializer, summary="Who you are: roles, sites, blinding")
    def get(self, request: Request) -> Response:
        user = access.signed_in(request.user)
        codes = dict(Site.objects.values_list("id", "code"))
        roles = []
        for role, site_ids in sorted(access.grants(user).sites_by_role.items()):
            ids = site_ids if role in SITE_SCOPED_ROLES else codes.keys()
            roles.append(
                {
                    "role": role,
                    "label": Role(role).label,
                    "sites": sorted(codes[i] for i in ids if i in codes),
                }
            )
        return Response(
            MeSerializer(
                {
                    "username": user.get_username(),
                    "full_name": user.get_full_name(),
                    "roles": roles,
                    "may_see_allocation": access.may_see_allocation(user),
                    "two_factor_required": access.needs_two_factor(user),
                    "two_factor_enrolled": twofactor.has_confirmed_device(user),
                }
            ).data
        )
