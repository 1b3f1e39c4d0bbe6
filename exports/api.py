"""HTTP API for the freeze/lock and for exports (API.md, "Locks and exports")."""

from __future__ import annotations

import mimetypes
from typing import Any

from django.http import FileResponse, HttpResponse
from django.templatetags.static import static
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from casebooks import selectors as signature_selectors
from casebooks import services as signature_services
from casebooks.selectors import SignatureState, lock_signatures
from exports import dictionary, selectors, services
from exports.models import ExportFormat, ExportJob, ExportLanguage
from trial.api import role_permission
from trial.models import DatasetLock
from trial.paging import TrialPagination, paginated
from trial.roles import TRIAL_ROLES, Role
from trial.selectors import current_lock, lock_history

LOCK_MANAGERS = role_permission(*selectors.LOCK_MANAGERS)
LOCK_READERS = role_permission(*TRIAL_ROLES)
LOCK_SIGNERS = role_permission(Role.DATA_MANAGER)
EXPORTERS = role_permission(*selectors.EXPORTERS)

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "csv_excel_da": "text/csv; charset=utf-8",
    "xpt": "application/x-sas-xport",
    "rds": "application/octet-stream",
    "syntax": "text/plain; charset=utf-8",
    "sav": "application/x-spss-sav",
    "dta": "application/x-stata-dta",
    "parquet": "application/vnd.apache.parquet",
    "odm": "application/xml",
    "zip": "application/zip",
    "json": "application/json",
}


# --- locks -----------------------------------------------------------------------------


class LockEntrySerializer(serializers.Serializer):
    level = serializers.CharField()
    level_display = serializers.CharField(source="get_level_display")
    reason = serializers.CharField()
    set_by = serializers.CharField(source="set_by.username")
    set_at = serializers.DateTimeField()
    open_queries = serializers.IntegerField(allow_null=True)
    open_queries_override = serializers.BooleanField()


class LockStateSerializer(serializers.Serializer):
    level = serializers.ChoiceField(choices=DatasetLock.Level.choices)
    reason = serializers.CharField(allow_blank=True)
    set_by = serializers.CharField(allow_null=True)
    set_at = serializers.DateTimeField(allow_null=True)
    open_queries_override = serializers.BooleanField()
    open_queries = serializers.IntegerField(help_text="Data queries open now")
    history = LockEntrySerializer(many=True)


class LockRequestSerializer(serializers.Serializer):
    level = serializers.ChoiceField(choices=[DatasetLock.Level.FREEZE, DatasetLock.Level.LOCK])
    reason = serializers.CharField()
    override_open_queries = serializers.BooleanField(
        default=False, help_text="Lock although data queries are open (say why in the reason)"
    )


class UnlockRequestSerializer(serializers.Serializer):
    reason = serializers.CharField()
    to = serializers.ChoiceField(
        choices=[DatasetLock.Level.OPEN, DatasetLock.Level.FREEZE],
        default=DatasetLock.Level.OPEN,
        help_text="'freeze' steps a lock down to a freeze without opening data entry",
    )


def lock_state() -> dict[str, Any]:
    current = current_lock()
    return {
        "level": current.level if current else DatasetLock.Level.OPEN,
        "reason": current.reason if current else "",
        "set_by": current.set_by.get_username() if current else None,
        "set_at": current.set_at if current else None,
        "open_queries_override": current.open_queries_override if current else False,
        "open_queries": selectors.open_query_count(),
        "history": list(lock_history(limit=200)),
    }


class LockView(APIView):
    def get_permissions(self) -> list[Any]:
        return [LOCK_MANAGERS()] if self.request.method == "POST" else [LOCK_READERS()]

    @extend_schema(responses=LockStateSerializer, summary="The database's freeze/lock state")
    def get(self, request: Request) -> Response:
        return Response(LockStateSerializer(lock_state()).data)

    @extend_schema(
        request=LockRequestSerializer,
        responses={
            201: LockStateSerializer,
            400: OpenApiResponse(description="No reason, or an unknown level"),
            403: OpenApiResponse(description="Not a data manager or statistician"),
            409: OpenApiResponse(
                description="Already in that state, locked (unlock first), open queries "
                "without the override, or data being saved at that moment"
            ),
        },
        summary="Freeze or lock the trial database (with a reason)",
    )
    def post(self, request: Request) -> Response:
        payload = LockRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        if data["level"] == DatasetLock.Level.FREEZE:
            services.dataset_freeze(user=request.user, reason=data["reason"])
        else:
            services.dataset_lock(
                user=request.user,
                reason=data["reason"],
                override_open_queries=data["override_open_queries"],
            )
        return Response(LockStateSerializer(lock_state()).data, status=status.HTTP_201_CREATED)


class CredentialsSerializer(serializers.Serializer):
    password = serializers.CharField(trim_whitespace=False, style={"input_type": "password"})
    otp = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="for two-factor roles"
    )


class LockSignatureSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    subject = serializers.ChoiceField(choices=["lock", "masking_key"])
    lock = serializers.IntegerField(help_text="the lock (history entry) signed under")
    signer = serializers.CharField()
    signer_name = serializers.CharField()
    signer_role = serializers.CharField()
    meaning = serializers.CharField()
    meaning_label = serializers.CharField()
    signed_at = serializers.DateTimeField()
    sha256 = serializers.CharField()
    status = serializers.CharField(help_text="intact or broken")


def lock_signature_data(state: SignatureState) -> dict[str, Any]:
    signature = state.signature
    return {
        "id": signature.pk,
        "subject": signature.subject,
        "lock": signature.dataset_lock_id,
        "signer": signature.signer.get_username(),
        "signer_name": signature.signer_name,
        "signer_role": signature.signer_role,
        "meaning": signature.meaning,
        "meaning_label": str(signature.get_meaning_display()),
        "signed_at": signature.signed_at,
        "sha256": signature.content_sha256,
        "status": state.status,
    }


@method_decorator(sensitive_post_parameters("password", "otp"), name="dispatch")
class LockSignaturesView(APIView):
    """The data manager's signature of the lock (a step after `POST /api/v1/locks/`, which is
    unchanged) and the list of the lock's and the masking key's signatures."""

    def get_permissions(self) -> list[Any]:
        return [LOCK_SIGNERS()] if self.request.method == "POST" else [LOCK_READERS()]

    @extend_schema(
        responses=LockSignatureSerializer(many=True),
        summary="Signatures of the locks and of the masking key's releases",
    )
    def get(self, request: Request) -> Response:
        states = [signature_selectors.lock_signature_state(s) for s in lock_signatures()]
        return Response([lock_signature_data(state) for state in states])

    @extend_schema(
        request=CredentialsSerializer,
        responses={
            201: LockSignatureSerializer,
            400: OpenApiResponse(description="Wrong password or code (counted by the lockout)"),
            403: OpenApiResponse(description="Not a data manager"),
            409: OpenApiResponse(description="Not locked, or this lock is signed already"),
            429: OpenApiResponse(description="Locked out after repeated failures"),
        },
        summary="Sign the current lock (data manager; password and code again)",
    )
    def post(self, request: Request) -> Response:
        payload = CredentialsSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        signature = signature_services.lock_sign(
            request=request._request,
            user=request.user,
            password=payload.validated_data["password"],
            otp=payload.validated_data["otp"],
        )
        state = signature_selectors.lock_signature_state(signature)
        return Response(lock_signature_data(state), status=status.HTTP_201_CREATED)


class UnlockView(APIView):
    permission_classes = [LOCK_MANAGERS]

    @extend_schema(
        request=UnlockRequestSerializer,
        responses={
            200: LockStateSerializer,
            400: OpenApiResponse(description="No reason"),
            403: OpenApiResponse(description="Not a data manager or statistician"),
            409: OpenApiResponse(description="Neither frozen nor locked"),
        },
        summary="Lift the freeze or the lock (with a reason)",
    )
    def post(self, request: Request) -> Response:
        payload = UnlockRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.dataset_unlock(
            user=request.user,
            reason=payload.validated_data["reason"],
            to=payload.validated_data["to"],
        )
        return Response(LockStateSerializer(lock_state()).data)


# --- exports ---------------------------------------------------------------------------


class ExportRequestSerializer(serializers.Serializer):
    formats = serializers.ListField(
        child=serializers.ChoiceField(choices=ExportFormat.choices),
        allow_empty=False,
        default=list(ExportFormat.values),
    )
    blinded = serializers.BooleanField(default=True)
    language = serializers.ChoiceField(
        choices=ExportLanguage.choices,
        default=ExportLanguage.ENGLISH,
        help_text="Language of the labels in the codebook and the data files",
    )
    odm_audit_records = serializers.BooleanField(
        default=False, help_text="ODM: an AuditRecord (who, when, why) with every item value"
    )


class ExportCreatedSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.CharField()
    url = serializers.URLField()


class ExportFileSerializer(serializers.Serializer):
    name = serializers.CharField()
    format = serializers.CharField(
        help_text="csv, csv_excel_da, sav, dta, xpt, rds, parquet, odm, syntax, codebook or zip"
    )
    kind = serializers.CharField(help_text="data, metadata, syntax, codebook or archive")
    dataset = serializers.CharField(allow_blank=True)
    rows = serializers.IntegerField()
    bytes = serializers.IntegerField()
    sha256 = serializers.CharField()
    url = serializers.URLField()


class ExportJobSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    url = serializers.URLField()
    status = serializers.ChoiceField(choices=ExportJob.Status.choices)
    progress = serializers.IntegerField(min_value=0, max_value=100)
    blinded = serializers.BooleanField()
    formats = serializers.ListField(child=serializers.CharField())
    options = serializers.DictField(help_text="language, odm_audit_records")
    requested_by = serializers.CharField()
    requested_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    attempts = serializers.IntegerField()
    error = serializers.CharField(allow_blank=True)
    snapshot_at = serializers.DateTimeField(allow_null=True)
    data_as_of = serializers.DateTimeField(allow_null=True)
    lock_level = serializers.CharField(allow_blank=True)
    files = ExportFileSerializer(many=True)
    manifest_url = serializers.URLField(allow_null=True)


def file_url(request: Request, job: ExportJob, name: str) -> str:
    return request.build_absolute_uri(
        reverse("api-export-file", kwargs={"pk": job.pk, "name": name})
    )


def job_data(request: Request, job: ExportJob) -> dict[str, Any]:
    done = job.status == ExportJob.Status.DONE
    return {
        "id": job.pk,
        "url": request.build_absolute_uri(reverse("api-export", kwargs={"pk": job.pk})),
        "status": job.status,
        "progress": job.progress,
        "blinded": job.blinded,
        "formats": job.formats,
        "options": job.options,
        "requested_by": job.requested_by.get_username(),
        "requested_at": job.requested_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "attempts": job.attempts,
        "error": job.error,
        "snapshot_at": job.snapshot_at,
        "data_as_of": job.data_as_of,
        "lock_level": job.lock_level,
        "files": [
            entry | {"url": file_url(request, job, entry["name"])}
            for entry in (job.files if done else [])
        ],
        "manifest_url": file_url(request, job, "manifest.json") if done else None,
    }


class ExportListView(APIView):
    permission_classes = [EXPORTERS]
    pagination_class = TrialPagination

    @extend_schema(responses=ExportJobSerializer(many=True), summary="Exports you may see")
    def get(self, request: Request) -> Response:
        jobs = selectors.export_jobs_visible_to(request.user)
        return paginated(
            self,
            request,
            jobs,
            lambda page: ExportJobSerializer([job_data(request, j) for j in page], many=True).data,
        )

    @extend_schema(
        request=ExportRequestSerializer,
        responses={
            202: ExportCreatedSerializer,
            400: OpenApiResponse(description="Unknown or no formats"),
            403: OpenApiResponse(
                description="Not a data manager or statistician; or unblinded without being "
                "an unblinded statistician"
            ),
            409: OpenApiResponse(description="Unblinded while the database is not locked"),
        },
        description="Accepted also while Redis (the task queue) is down: the job stays "
        "`queued` and its build waits in the outbox until Redis is back.",
        summary="Start an export job (blinded: data managers and statisticians; unblinded: "
        "the statistician after lock)",
    )
    def post(self, request: Request) -> Response:
        payload = ExportRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        job = services.export_request(
            user=request.user,
            formats=payload.validated_data["formats"],
            blinded=payload.validated_data["blinded"],
            language=payload.validated_data["language"],
            odm_audit_records=payload.validated_data["odm_audit_records"],
        )
        url = request.build_absolute_uri(reverse("api-export", kwargs={"pk": job.pk}))
        return Response(
            {"id": job.pk, "status": job.status, "url": url},
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": url},
        )


class ExportDetailView(APIView):
    permission_classes = [EXPORTERS]

    @extend_schema(
        responses={200: ExportJobSerializer, 404: OpenApiResponse(description="No such export")},
        summary="An export's status, progress and files",
    )
    def get(self, request: Request, pk: str) -> Response:
        job = selectors.export_job_get(user=request.user, pk=pk)
        return Response(ExportJobSerializer(job_data(request, job)).data)


def download_response(request: Any, *, job: ExportJob, name: str, channel: str) -> FileResponse:
    """The file, after recording the download (shared by the API and the pages)."""
    path, entry = services.export_file_for_download(
        user=request.user,
        job=job,
        name=name,
        channel=channel,
        ip=request.META.get("REMOTE_ADDR"),
        request_id=getattr(request, "audit_request_id", ""),
    )
    content_type = CONTENT_TYPES.get(entry.get("format", ""))
    if content_type is None:
        guessed = mimetypes.guess_type(name)[0] or "application/octet-stream"
        content_type = guessed + ("; charset=utf-8" if guessed.startswith("text/") else "")
    response = FileResponse(
        open(path, "rb"),  # noqa: SIM115 (FileResponse closes it)
        as_attachment=True,
        filename=name,
        content_type=content_type,
    )
    if entry.get("sha256"):
        response["X-Content-SHA256"] = entry["sha256"]
    response["Cache-Control"] = "private, no-store"
    return response


class ExportFileView(APIView):
    permission_classes = [EXPORTERS]

    @extend_schema(
        responses={
            (200, "application/octet-stream"): OpenApiTypes.BINARY,
            404: OpenApiResponse(description="No such export or file"),
        },
        summary="Download one file of a finished export (each download is recorded)",
    )
    def get(self, request: Request, pk: str, name: str) -> FileResponse:
        job = selectors.export_job_get(user=request.user, pk=pk)
        return download_response(request, job=job, name=name, channel="api")


class DataDictionaryView(APIView):
    permission_classes = [EXPORTERS]

    @extend_schema(
        parameters=[
            OpenApiParameter("as", str, enum=list(dictionary.FORMATS), description="csv or html"),
            OpenApiParameter("language", str, enum=list(ExportLanguage.values)),
        ],
        responses={
            (200, "text/csv"): OpenApiTypes.BINARY,
            (200, "text/html"): OpenApiTypes.BINARY,
            400: OpenApiResponse(description="Unknown format or language"),
            403: OpenApiResponse(description="Not a data manager or statistician"),
        },
        summary="The data dictionary (codebook) of the analysis datasets, without data; "
        "blinded for blinded users",
    )
    def get(self, request: Request) -> HttpResponse:
        return dictionary_response(request, attachment=True)


def dictionary_response(request: Any, *, attachment: bool) -> HttpResponse:
    """The data dictionary as a file (shared by the API and the page)."""
    found = dictionary.data_dictionary(
        user=request.user,
        kind=request.GET.get("as", "html"),
        language=request.GET.get("language", ExportLanguage.ENGLISH),
        # Shown in the browser under the site's CSP: a stylesheet, never inline style.
        stylesheet=None if attachment else static("css/codebook.css"),
    )
    response = HttpResponse(found.content, content_type=found.content_type)
    disposition = "attachment" if attachment or found.filename.endswith(".csv") else "inline"
    response["Content-Disposition"] = f'{disposition}; filename="{found.filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


class MaskingGroupSerializer(serializers.Serializer):
    group = serializers.CharField()
    code = serializers.IntegerField()
    arm = serializers.CharField()
    arm_label = serializers.CharField()


class MaskingKeySerializer(serializers.Serializer):
    groups = MaskingGroupSerializer(many=True)
    released_at = serializers.DateTimeField()
    key_created_at = serializers.DateTimeField()


@method_decorator(sensitive_post_parameters("password", "otp"), name="dispatch")
class MaskingKeyView(APIView):
    @extend_schema(
        request=CredentialsSerializer,
        responses={
            201: MaskingKeySerializer,
            400: OpenApiResponse(description="Wrong password or code (counted by the lockout)"),
            403: OpenApiResponse(description="Not the statistician"),
            404: OpenApiResponse(description="No key yet (or a blinded caller)"),
            409: OpenApiResponse(description="The database is not locked"),
        },
        summary="Sign the masking key's release and receive the key (statistician, after lock)",
    )
    def post(self, request: Request) -> Response:
        payload = CredentialsSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        released = services.masking_key_release_sign(
            request=request._request,
            user=request.user,
            password=payload.validated_data["password"],
            otp=payload.validated_data["otp"],
            channel="api",
            ip=request.META.get("REMOTE_ADDR"),
            request_id=getattr(request, "audit_request_id", ""),
        )
        return Response(MaskingKeySerializer(released).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        responses={
            200: MaskingKeySerializer,
            403: OpenApiResponse(description="Not the statistician"),
            404: OpenApiResponse(description="No key yet (or a blinded caller)"),
            409: OpenApiResponse(
                description="The database is not locked, or the release is not signed yet"
            ),
        },
        summary="The masking key of blinded exports: statistician, after lock and a signed "
        "release (recorded)",
    )
    def get(self, request: Request) -> Response:
        released = services.masking_key_release(
            user=request.user,
            channel="api",
            ip=request.META.get("REMOTE_ADDR"),
            request_id=getattr(request, "audit_request_id", ""),
        )
        return Response(MaskingKeySerializer(released).data)
