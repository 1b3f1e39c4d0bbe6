"""Queries, the worklist and register imports over the API."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, OpenApiTypes, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import BaseParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from assessments import permissions, selectors, services
from assessments import worklist as worklist_module
from assessments.api.responses import PATH_PARAMETERS, _participant
from assessments.models import Query, QueryStatus, RegisterImport
from trial.api import role_permission
from trial.errors import Invalid
from trial.inputs import digits
from trial.paging import TrialPagination, Window, api_page_request, paginated


class QueryMessageSerializer(serializers.Serializer):
    action = serializers.CharField()
    text = serializers.CharField()
    author = serializers.CharField(allow_null=True)
    author_role = serializers.CharField()
    at = serializers.DateTimeField()


class QuerySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    participant = serializers.IntegerField()
    study_id = serializers.CharField()
    site = serializers.CharField()
    timepoint = serializers.CharField()
    instrument = serializers.CharField()
    item = serializers.CharField()
    kind = serializers.CharField()
    edit_check = serializers.CharField()
    status = serializers.CharField()
    message = serializers.CharField()
    raised_by = serializers.CharField(allow_null=True)
    raised_at = serializers.DateTimeField()
    answered_at = serializers.DateTimeField(allow_null=True)
    closed_at = serializers.DateTimeField(allow_null=True)
    messages = QueryMessageSerializer(many=True, required=False)


class RaiseQuerySerializer(serializers.Serializer):
    item = serializers.CharField(
        allow_blank=True, default="", help_text="Item code, 'interview_date', or empty"
    )
    message = serializers.CharField(allow_blank=True)


class QueryTextSerializer(serializers.Serializer):
    text = serializers.CharField(allow_blank=True, default="")


def present_query(query: Query, *, messages: bool = False) -> dict[str, Any]:
    response = query.response
    data: dict[str, Any] = {
        "id": query.pk,
        "participant": response.participant_id,
        "study_id": response.participant.study_id,
        "site": response.participant.site.code,
        "timepoint": response.timepoint,
        "instrument": response.instrument,
        "item": query.item,
        "kind": query.kind,
        "edit_check": query.edit_check,
        "status": query.status,
        "message": query.message,
        "raised_by": query.raised_by.get_username() if query.raised_by else None,
        "raised_at": query.raised_at,
        "answered_at": query.answered_at,
        "closed_at": query.closed_at,
    }
    if messages:
        data["messages"] = [
            {
                "action": m.action,
                "text": m.text,
                "author": m.author.get_username() if m.author else None,
                "author_role": m.author_role,
                "at": m.at,
            }
            for m in query.messages.all()
        ]
    return data


QUERY_READERS = role_permission(*permissions.QUERY_READERS)


class QueryListView(APIView):
    permission_classes = [QUERY_READERS]
    pagination_class = TrialPagination

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=QueryStatus.values),
            OpenApiParameter("site", str),
            OpenApiParameter("participant", int),
            OpenApiParameter("unresolved", bool, description="open or answered"),
        ],
        responses=QuerySerializer(many=True),
        summary="Queries you may see (?status=, ?site=, ?participant=, ?unresolved=true)",
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        participant = params.get("participant") or None
        if participant is not None and not digits(participant):
            raise Invalid(
                _("Bad participant."), fields={"participant": [_("Give the participant's id.")]}
            )
        queryset = selectors.query_list(
            user=request.user,
            status=params.get("status", ""),
            site=params.get("site", ""),
            participant=participant,
            unresolved=params.get("unresolved", "").lower() in ("1", "true", "yes"),
        )
        return paginated(
            self,
            request,
            queryset,
            lambda page: [present_query(q) for q in page],
        )


class QueryDetailView(APIView):
    permission_classes = [QUERY_READERS]

    @extend_schema(
        parameters=[OpenApiParameter("query_id", int, OpenApiParameter.PATH)],
        responses=QuerySerializer,
        summary="One query with its conversation",
    )
    def get(self, request: Request, query_id: int) -> Response:
        return Response(
            present_query(selectors.query_get(user=request.user, pk=query_id), messages=True)
        )


class RaiseQueryView(APIView):
    permission_classes = [role_permission(*permissions.QUERY_MANAGERS)]

    @extend_schema(
        parameters=PATH_PARAMETERS,
        request=RaiseQuerySerializer,
        responses={201: QuerySerializer},
        summary="Raise a query on a field of a saved form (data manager)",
    )
    def post(self, request: Request, pk: int, timepoint: str, instrument: str) -> Response:
        participant = _participant(request, pk)
        timepoint = selectors.parse_timepoint(timepoint)
        form = selectors.form_instrument(instrument, timepoint)
        payload = RaiseQuerySerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        response = services.response_for_query(
            participant=participant, timepoint=timepoint, code=form.code
        )
        query = services.query_raise(
            user=request.user,
            response=response,
            item=payload.validated_data["item"],
            message=payload.validated_data["message"],
        )
        query = selectors.query_get(user=request.user, pk=query.pk)
        return Response(present_query(query, messages=True), status=status.HTTP_201_CREATED)


def _query_action(action: str, summary: str) -> type[APIView]:
    class QueryActionView(APIView):
        permission_classes = [QUERY_READERS]

        @extend_schema(
            parameters=[OpenApiParameter("query_id", int, OpenApiParameter.PATH)],
            request=QueryTextSerializer,
            responses=QuerySerializer,
            summary=summary,
        )
        def post(self, request: Request, query_id: int) -> Response:
            query = selectors.query_get(user=request.user, pk=query_id)
            payload = QueryTextSerializer(data=request.data)
            payload.is_valid(raise_exception=True)
            text = payload.validated_data["text"]
            if action == "answer":
                services.query_answer(user=request.user, query=query, text=text)
            elif action == "close":
                services.query_close(user=request.user, query=query, text=text)
            else:
                services.query_reopen(user=request.user, query=query, text=text)
            fresh = selectors.query_get(user=request.user, pk=query_id)
            return Response(present_query(fresh, messages=True))

    QueryActionView.__name__ = f"Query{action.capitalize()}View"
    return QueryActionView


QueryAnswerView = _query_action("answer", "Answer a query (site staff)")
QueryCloseView = _query_action("close", "Close a query (data manager)")
QueryReopenView = _query_action("reopen", "Re-open a query (data manager)")


# -- the worklist --------------------------------------------------------------------------------
class WorklistFormSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    status = serializers.CharField()


class WorklistRowSerializer(serializers.Serializer):
    participant = serializers.IntegerField(source="participant_id")
    study_id = serializers.CharField()
    site = serializers.CharField()
    timepoint = serializers.CharField()
    due = serializers.DateField()
    window_opens = serializers.DateField(source="opens", allow_null=True)
    window_closes = serializers.DateField(source="closes", allow_null=True)
    state = serializers.ChoiceField(choices=["due", "open", "overdue", "completed"])
    forms = WorklistFormSerializer(many=True)


class WorklistView(APIView):
    permission_classes = [role_permission(*permissions.ENTERING_ROLES)]
    pagination_class = TrialPagination

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "state",
                str,
                description="due, open, overdue or completed; several separated by commas; "
                "`active` for due, open and overdue; empty or `all` for every state",
            ),
            OpenApiParameter("site", str),
        ],
        responses=WorklistRowSerializer(many=True),
        summary="Your assessments across your sites, the window that closes first first "
        "(no allocation)",
    )
    def get(self, request: Request) -> Response:
        states = worklist_module.parse_states(request.query_params.get("state", ""))
        site = request.query_params.get("site", "")

        def fetch(offset: int, limit: int) -> worklist_module.Worklist:
            # No counts per state: the API gives the number of rows only.
            return selectors.worklist_page(
                user=request.user,
                states=states,
                site=site,
                offset=offset,
                limit=limit,
                counts=False,
            )

        offset, limit = api_page_request(request)
        found = fetch(offset, limit)
        rows = Window(
            found.rows,
            count=found.count,
            offset=offset,
            fetch=lambda start, size: fetch(start, size).rows,
        )
        return paginated(
            self, request, rows, lambda page: WorklistRowSerializer(page, many=True).data
        )


# -- register data -------------------------------------------------------------------------------
class CsvParser(BaseParser):
    """The register file as raw bytes: it is read in memory and never written to disk."""

    media_type = "text/csv"

    # DRF hands whatever a parser returns to the view as request.data; the stubs expect a
    # mapping, as the form and JSON parsers return.
    def parse(  # type: ignore[override]
        self, stream: Any, media_type: str | None = None, parser_context: Any = None
    ) -> bytes:
        # One byte past the limit is enough for services.register_import to refuse the file;
        # a larger upload is never held in memory whole.
        return stream.read(settings.REGISTER_IMPORT_MAX_BYTES + 1) if stream is not None else b""


class RegisterImportSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    imported_at = serializers.DateTimeField()
    imported_by = serializers.CharField()
    file_sha256 = serializers.CharField()
    lines = serializers.IntegerField()
    participants = serializers.IntegerField()
    note = serializers.CharField()
    current = serializers.BooleanField()


def present_import(record: RegisterImport) -> dict[str, Any]:
    return {
        "id": record.pk,
        "imported_at": record.imported_at,
        "imported_by": record.imported_by.get_username(),
        "file_sha256": record.file_sha256,
        "lines": record.lines,
        "participants": record.participants,
        "note": record.note,
        "current": record.superseded_by_id is None,
    }


class RegisterImportView(APIView):
    permission_classes = [role_permission(*permissions.REGISTER_IMPORTERS)]
    pagination_class = TrialPagination
    parser_classes = [CsvParser]

    @extend_schema(
        responses=RegisterImportSerializer(many=True), summary="Register imports, newest first"
    )
    def get(self, request: Request) -> Response:
        records = RegisterImport.objects.select_related("imported_by")
        return paginated(self, request, records, lambda page: [present_import(r) for r in page])

    @extend_schema(
        request={"text/csv": OpenApiTypes.BINARY},
        parameters=[OpenApiParameter("note", str, description="Why this import (audit)")],
        responses={201: RegisterImportSerializer},
        summary="Import a service-use file (text/csv); replaces the previous import",
    )
    def post(self, request: Request) -> Response:
        content = request.data
        if not isinstance(content, bytes):
            raise Invalid(
                _("Send the file as text/csv."), fields={"file": [_("Send the file as text/csv.")]}
            )
        record = services.register_import(
            user=request.user, content=content, note=request.query_params.get("note", "")
        )
        return Response(present_import(record), status=status.HTTP_201_CREATED)


__all__ = [
    "QueryAnswerView",
    "QueryCloseView",
    "QueryDetailView",
    "QueryListView",
    "QueryReopenView",
    "RaiseQueryView",
    "RegisterImportView",
    "WorklistView",
]
