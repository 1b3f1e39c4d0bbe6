"""`GET /api/v1/instruments/`: the instrument modules as JSON (code, name, rater, timepoints,
items with label and allowed values, scores), for clients and for building forms."""

from __future__ import annotations

import functools
from typing import Any

from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from instruments import registry
from instruments.metadata import instrument_metadata
from trial import access
from trial.access import Viewer
from trial.errors import NotFound


class OptionSerializer(serializers.Serializer):
    value = serializers.FloatField()
    label = serializers.CharField()  # type: ignore[assignment]  # a field called "label" (the stubs see Field.label)


class ItemMetadataSerializer(serializers.Serializer):
    code = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # a field called "label" (the stubs see Field.label)
    type = serializers.ChoiceField(choices=["integer", "decimal", "text", "date"])
    min = serializers.FloatField(allow_null=True)
    max = serializers.FloatField(allow_null=True)
    step = serializers.FloatField(allow_null=True)
    allowed_values = serializers.ListField(child=serializers.FloatField(), allow_null=True)
    allowed = serializers.CharField(help_text="The allowed values in words")
    options = OptionSerializer(many=True)
    anchors = serializers.ListField(child=serializers.FloatField())
    group = serializers.CharField()
    help = serializers.CharField()
    not_applicable_is_structural = serializers.BooleanField()
    conditional = serializers.CharField()
    derived = serializers.BooleanField()
    derivation = serializers.CharField()
    pattern = serializers.CharField()
    layout_highest_first = serializers.BooleanField()
    comment_required_for = serializers.ListField(child=serializers.FloatField())
    exported = serializers.BooleanField()
    unit = serializers.CharField()


class ScoreMetadataSerializer(serializers.Serializer):
    code = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # a field called "label" (the stubs see Field.label)
    items = serializers.ListField(child=serializers.CharField())
    method = serializers.CharField()
    type = serializers.ChoiceField(choices=["integer", "decimal"])
    decimals = serializers.IntegerField()
    min = serializers.FloatField(allow_null=True)
    max = serializers.FloatField(allow_null=True)
    higher_is = serializers.CharField()
    sensitivity = serializers.BooleanField()
    derivation = serializers.CharField()
    options = OptionSerializer(many=True)


class MissingReasonSerializer(serializers.Serializer):
    code = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # a field called "label" (the stubs see Field.label)
    numeric = serializers.IntegerField(help_text="User-missing code in SPSS/Stata exports")


class InstrumentMetadataSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    short_name = serializers.CharField()
    rater = serializers.CharField(help_text="The role that enters the instrument")
    entered_by = serializers.ListField(child=serializers.CharField())
    mode = serializers.CharField()
    rater_description = serializers.CharField()
    reference_period = serializers.CharField()
    blinded_readable = serializers.BooleanField()
    form_entry = serializers.BooleanField()
    timepoints = serializers.ListField(child=serializers.CharField())
    windows = serializers.ListField(child=serializers.CharField())
    items = ItemMetadataSerializer(many=True)
    scores = ScoreMetadataSerializer(many=True)
    missing_reasons = MissingReasonSerializer(many=True)
    missing_rule = serializers.CharField()
    notes = serializers.ListField(child=serializers.CharField())


def reference_instruments(user: Viewer) -> tuple[Any, ...]:
    """The reference instruments of the apps above (registry.reference_instruments): the IMR
    Fidelity Scale belongs to IMR delivery, which blinded users find no trace of (issue #5)."""
    return tuple(registry.reference_instruments) if access.may_see_allocation(user) else ()


class InstrumentListView(APIView):
    @extend_schema(
        responses=InstrumentMetadataSerializer(many=True),
        summary="Every instrument: items, allowed values, scores, rater and timepoints",
    )
    def get(self, request: Request) -> Response:
        return Response(
            _all_metadata(get_language() or "", access.may_see_allocation(request.user))
        )


@functools.cache
def _all_metadata(language: str, with_reference: bool) -> list[dict[str, Any]]:
    """The instruments are code, not data: their metadata in one language is the same on
    every request, so it is built once per language (and whether the IMR Fidelity Scale is
    listed) rather than from ~1,500 lazy translations per request. `language` is the active
    one, which the strings are translated into."""
    listed = (*registry.all(), *(registry.reference_instruments if with_reference else ()))
    return [instrument_metadata(i) for i in listed]


class InstrumentDetailView(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("code", str, OpenApiParameter.PATH)],
        responses=InstrumentMetadataSerializer,
        summary="One instrument",
    )
    def get(self, request: Request, code: str) -> Response:
        code = code.upper()
        instrument = registry.find(code) or next(
            (i for i in reference_instruments(request.user) if i.code == code), None
        )
        if instrument is None:
            raise NotFound(_("Unknown instrument {code!r}.").format(code=code))
        return Response(instrument_metadata(instrument))
