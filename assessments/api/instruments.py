"""`GET /api/v1/instruments/`: the instrument modules as JSON (code, name, rater, timepoints,
items with label and allowed values, scores), for clients and for building forms."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from assessments.instruments import registry
from assessments.instruments.base import Instrument, Item, MissingReason, Option, Score
from imrtrial.errors import NotFound


def _options(options: tuple[Option, ...]) -> list[dict[str, Any]]:
    return [{"value": o.value, "label": str(o.label)} for o in options]


def item_metadata(item: Item) -> dict[str, Any]:
    return {
        "code": item.code,
        "label": str(item.label),
        "type": item.type,
        "min": item.min,
        "max": item.max,
        "step": item.step,
        "allowed_values": item.allowed_values(),
        "allowed": item.allowed_text(),
        "options": _options(item.options),
        "anchors": list(item.anchors),
        "group": str(item.group),
        "help": str(item.help_text),
        "not_applicable_is_structural": item.na_structural,
        "conditional": str(item.relevance_text) if item.relevant else "",
        "derived": item.derived,
        "derivation": str(item.derivation),
        "pattern": item.pattern,
        "layout_highest_first": item.layout_descending,
        "comment_required_for": list(item.comment_required_for),
        "exported": item.exported,
        "unit": item.unit,
    }


def score_metadata(score: Score) -> dict[str, Any]:
    return {
        "code": score.code,
        "label": str(score.label),
        "items": list(score.items),
        "method": score.method,
        "type": score.type,
        "decimals": score.decimals,
        "min": score.min,
        "max": score.max,
        "higher_is": score.higher_is,
        "sensitivity": score.sensitivity,
        "derivation": str(score.derivation),
        "options": _options(score.options),
    }


def instrument_metadata(instrument: Instrument) -> dict[str, Any]:
    return {
        "code": instrument.code,
        "name": str(instrument.name),
        "short_name": str(instrument.short_name),
        "rater": instrument.rater,
        "entered_by": list(instrument.entered_by),
        "mode": instrument.mode,
        "rater_description": str(instrument.rater_description),
        "reference_period": str(instrument.reference_period),
        "blinded_readable": instrument.blinded_readable,
        "form_entry": instrument.form_entry,
        "timepoints": list(instrument.timepoints),
        "windows": list(instrument.windows),
        "items": [item_metadata(item) for item in instrument.items],
        "scores": [score_metadata(score) for score in instrument.scores],
        "missing_reasons": [{"code": c, "label": str(label)} for c, label in MissingReason.choices],
        "missing_rule": str(instrument.missing_rule),
        "notes": [str(note) for note in instrument.notes],
    }


class OptionSerializer(serializers.Serializer):
    value = serializers.FloatField()
    label = serializers.CharField()


class ItemMetadataSerializer(serializers.Serializer):
    code = serializers.CharField()
    label = serializers.CharField()
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
    label = serializers.CharField()
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
    label = serializers.CharField()


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


class InstrumentListView(APIView):
    @extend_schema(
        responses=InstrumentMetadataSerializer(many=True),
        summary="Every instrument: items, allowed values, scores, rater and timepoints",
    )
    def get(self, request: Request) -> Response:
        return Response([instrument_metadata(i) for i in registry.all()])


class InstrumentDetailView(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("code", str, OpenApiParameter.PATH)],
        responses=InstrumentMetadataSerializer,
        summary="One instrument",
    )
    def get(self, request: Request, code: str) -> Response:
        instrument = registry.find(code.upper())
        if instrument is None:
            raise NotFound(f"Unknown instrument {code!r}.")
        return Response(instrument_metadata(instrument))
