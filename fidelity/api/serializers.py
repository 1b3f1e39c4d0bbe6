"""Request and response shapes of the IMR delivery API (API.md, "Fidelity and attendance")."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from fidelity import scale
from fidelity.exposure import CATEGORIES
from fidelity.models import (
    MAX_CAPACITY,
    FidelityRating,
    FidelityTimepoint,
    GroupSession,
    ImrGroup,
    RaterKind,
    SessionStatus,
)
from fidelity.services.sessions import MAX_WEEKS, months_after


class UserRefField(serializers.CharField):
    """A staff user by id (5) or username ("anna")."""


@extend_schema_field(
    {
        "type": "object",
        "description": "The 13 IMR Fidelity Scale items FID_1..FID_13 (or 1..13), each 1–5.",
        "properties": {
            code: {"type": "integer", "minimum": 1, "maximum": 5} for code in scale.ITEM_CODES
        },
    }
)
class ItemsField(serializers.Field):
    """Passed through as given: the scale validates all 13 items at once, so a rater sees
    every problem in one answer (fidelity.scale.clean_items)."""

    def to_internal_value(self, data: Any) -> Any:
        return data

    def to_representation(self, value: Any) -> Any:
        return {code: value.get(code) for code in scale.ITEM_CODES}


# ---------------------------------------------------------------------------- people


class StaffSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.SerializerMethodField()

    def get_name(self, obj: Any) -> str:
        return obj.get_full_name() or obj.get_username()


class ModuleSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    name = serializers.CharField()


# ---------------------------------------------------------------------------- groups


class GroupCreateSerializer(serializers.Serializer):
    site = serializers.CharField()
    name = serializers.CharField(max_length=100)
    start_date = serializers.DateField()
    capacity = serializers.IntegerField(required=False, min_value=1, max_value=MAX_CAPACITY)
    instructors = serializers.ListField(
        child=UserRefField(),
        required=False,
        help_text="Two or three instructors (ids or usernames)",
    )


class GroupUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    start_date = serializers.DateField(required=False)
    capacity = serializers.IntegerField(required=False, min_value=1, max_value=MAX_CAPACITY)
    enrolment_closed = serializers.BooleanField(required=False)
    instructors = serializers.ListField(child=UserRefField(), required=False)
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class GroupSerializer(serializers.ModelSerializer):
    site = serializers.CharField(source="site.code")
    site_name = serializers.CharField(source="site.name")
    instructors = StaffSerializer(many=True)
    planned_end_date = serializers.SerializerMethodField()
    member_count = serializers.IntegerField()
    session_count = serializers.IntegerField(help_text="Sessions not cancelled")
    sessions_held = serializers.IntegerField()

    class Meta:
        model = ImrGroup
        fields = [
            "id",
            "site",
            "site_name",
            "name",
            "start_date",
            "planned_end_date",
            "capacity",
            "enrolment_closed",
            "instructors",
            "member_count",
            "session_count",
            "sessions_held",
            "created_at",
        ]

    def get_planned_end_date(self, obj: ImrGroup) -> Any:
        return months_after(obj.start_date, 9)


class MemberSerializer(serializers.Serializer):
    participant = serializers.IntegerField(source="participant.pk")
    study_id = serializers.CharField(source="participant.study_id")
    status = serializers.CharField(source="participant.status")
    joined_on = serializers.DateField()
    sessions_attended = serializers.IntegerField()
    first_session_on = serializers.DateField(allow_null=True)


@extend_schema_field({"oneOf": [{"type": "integer"}, {"type": "string"}]})
class ParticipantRefField(serializers.CharField):
    """A participant by id (5) or by study ID ("BAL-007-K")."""


class MemberAddSerializer(serializers.Serializer):
    participant = ParticipantRefField(help_text="The participant's id (or study ID)")


class MemberRemoveSerializer(serializers.Serializer):
    reason = serializers.CharField()


class SessionSerializer(serializers.ModelSerializer):
    group_name = serializers.CharField(source="group.name")
    site = serializers.CharField(source="group.site.code")
    module_name = serializers.CharField()
    instructors_present = StaffSerializer(many=True)
    present_count = serializers.SerializerMethodField()

    class Meta:
        model = GroupSession
        fields = [
            "id",
            "group",
            "group_name",
            "site",
            "date",
            "module",
            "module_name",
            "status",
            "cancel_reason",
            "instructors_present",
            "present_count",
            "attendance_version",
            "attendance_recorded_at",
        ]

    def get_present_count(self, obj: GroupSession) -> int | None:
        """How many came to a held session (a head count, no names: fidelity raters need it
        for item 1 of the scale, the number of people in a session)."""
        if obj.status != SessionStatus.HELD:
            return None
        cached = getattr(obj, "present_count", None)
        return cached if cached is not None else obj.attendance.filter(present=True).count()


class GroupDetailSerializer(GroupSerializer):
    members = serializers.SerializerMethodField()
    sessions = serializers.SerializerMethodField()

    class Meta(GroupSerializer.Meta):
        fields = [*GroupSerializer.Meta.fields, "members", "sessions"]

    @extend_schema_field(MemberSerializer(many=True, allow_null=True))
    def get_members(self, obj: ImrGroup) -> Any:
        members = self.context.get("members")
        return None if members is None else MemberSerializer(members, many=True).data

    @extend_schema_field(SessionSerializer(many=True))
    def get_sessions(self, obj: ImrGroup) -> Any:
        return SessionSerializer(self.context["sessions"], many=True).data


# ---------------------------------------------------------------------------- sessions


class SessionCreateSerializer(serializers.Serializer):
    date = serializers.DateField()
    module = serializers.IntegerField(min_value=1, max_value=len(scale.Module))
    instructors_present = serializers.ListField(child=UserRefField(), required=False)


class SessionUpdateSerializer(serializers.Serializer):
    date = serializers.DateField(required=False)
    module = serializers.IntegerField(required=False, min_value=1, max_value=len(scale.Module))
    instructors_present = serializers.ListField(child=UserRefField(), required=False)
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class SessionCancelSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class ScheduleSerializer(serializers.Serializer):
    first_date = serializers.DateField(required=False, help_text="Default: the group's start")
    weeks = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_WEEKS, help_text="Default: nine months"
    )
    replace = serializers.BooleanField(
        required=False, default=False, help_text="Replace a schedule none of which is held"
    )


class AttendanceWriteSerializer(serializers.Serializer):
    present = serializers.ListField(
        child=serializers.IntegerField(), allow_empty=True, help_text="Ids of members who came"
    )
    reason = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="Why a recorded list changes"
    )
    version = serializers.IntegerField(
        required=False, help_text="attendance_version as read; a stale one gives 409"
    )
    instructors_present = serializers.ListField(child=UserRefField(), required=False)


class AttendanceLineSerializer(serializers.Serializer):
    participant = serializers.IntegerField(source="participant.pk")
    study_id = serializers.CharField(source="participant.study_id")
    present = serializers.BooleanField(allow_null=True, help_text="null: not recorded yet")
    warning = serializers.CharField()


class AttendanceCorrectionSerializer(serializers.Serializer):
    participant = serializers.IntegerField()
    study_id = serializers.CharField()
    to = serializers.BooleanField()
    at = serializers.DateTimeField()
    by = serializers.CharField()
    reason = serializers.CharField()

    def to_representation(self, instance: Any) -> Any:
        data = super().to_representation(instance)
        data["from"] = instance["from"]
        return data


class AttendanceSerializer(serializers.Serializer):
    session = SessionSerializer()
    members = AttendanceLineSerializer(many=True)
    present = serializers.ListField(child=serializers.IntegerField())
    corrections = AttendanceCorrectionSerializer(many=True)


# ---------------------------------------------------------------------------- exposure


class ExposureRowSerializer(serializers.Serializer):
    participant_id = serializers.IntegerField()
    study_id = serializers.CharField()
    site = serializers.CharField()
    status = serializers.CharField()
    randomized_on = serializers.DateField()
    group_id = serializers.IntegerField(allow_null=True)
    group_name = serializers.CharField()
    sessions_attended = serializers.IntegerField()
    first_session_on = serializers.DateField(allow_null=True)
    days_to_first_session = serializers.IntegerField(allow_null=True)
    category = serializers.ChoiceField(choices=CATEGORIES)
    more_than_10 = serializers.BooleanField()
    more_than_20 = serializers.BooleanField()


class ExposureSummarySerializer(serializers.Serializer):
    scope = serializers.CharField()
    participants = serializers.IntegerField()
    placed_in_group = serializers.IntegerField()
    mean_sessions = serializers.FloatField(allow_null=True)
    sd_sessions = serializers.FloatField(allow_null=True)
    attended_none = serializers.IntegerField()
    share_none = serializers.FloatField(allow_null=True)
    more_than_10 = serializers.IntegerField()
    share_more_than_10 = serializers.FloatField(allow_null=True)
    more_than_20 = serializers.IntegerField()
    share_more_than_20 = serializers.FloatField(allow_null=True)
    categories = serializers.DictField(child=serializers.IntegerField())
    with_first_session = serializers.IntegerField()
    mean_days_to_first_session = serializers.FloatField(allow_null=True)
    sd_days_to_first_session = serializers.FloatField(allow_null=True)


class ExposureGroupsPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = ExposureSummarySerializer(many=True)


class ExposurePageSerializer(serializers.Serializer):
    """The schema of GET /api/v1/exposure/: a page of participants' rows (`?page=`) with the
    figures of everyone, and a page of the groups' figures (`?groups_page=`)."""

    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = ExposureRowSerializer(
        many=True, help_text="Everyone randomised to IMR after the lock; before it, group members"
    )
    itt_available = serializers.BooleanField(
        help_text="False before the database lock: no per-site counts by arm until then"
    )
    overall = ExposureSummarySerializer(allow_null=True, help_text="ITT, after the lock")
    sites = ExposureSummarySerializer(many=True, help_text="ITT per site, after the lock")
    groups = ExposureGroupsPageSerializer(help_text="A page of the groups' figures")


class GroupExposureSerializer(serializers.Serializer):
    summary = ExposureSummarySerializer()
    participants = ExposureRowSerializer(many=True)


# ---------------------------------------------------------------------------- fidelity


class RatingCreateSerializer(serializers.Serializer):
    group = serializers.IntegerField()
    timepoint = serializers.ChoiceField(choices=FidelityTimepoint.choices)
    rater_kind = serializers.ChoiceField(choices=RaterKind.choices)
    items = ItemsField()
    rated_on = serializers.DateField(required=False, help_text="Default: today")
    notes = serializers.CharField(required=False, allow_blank=True, default="")


class RatingCorrectSerializer(serializers.Serializer):
    items = ItemsField(required=False)
    rated_on = serializers.DateField(required=False)
    notes = serializers.CharField(required=False, allow_blank=True)
    reason = serializers.CharField()


class RatingSerializer(serializers.ModelSerializer):
    group_name = serializers.CharField(source="group.name")
    site = serializers.CharField(source="group.site.code")
    rater = serializers.CharField(source="rater.username")
    items = ItemsField()
    total = serializers.IntegerField(allow_null=True, help_text="FID_TOTAL 13–65")
    score = serializers.FloatField(allow_null=True, help_text="FID_MEAN: mean of the 13 items")
    band = serializers.ChoiceField(choices=scale.Band.choices, allow_null=True)

    class Meta:
        model = FidelityRating
        fields = [
            "id",
            "group",
            "group_name",
            "site",
            "timepoint",
            "rater_kind",
            "rater",
            "items",
            "total",
            "score",
            "band",
            "rated_on",
            "notes",
            "submitted_at",
            "updated_at",
        ]


class DiscrepancySerializer(serializers.Serializer):
    item = serializers.CharField()
    # DRF moves declared fields off the class, so this does not shadow Field.label.
    label = serializers.CharField()  # type: ignore[assignment]
    rater1 = serializers.IntegerField()
    rater2 = serializers.IntegerField()


class SubmittedSerializer(serializers.Serializer):
    rater1 = serializers.BooleanField()
    rater2 = serializers.BooleanField()
    consensus = serializers.BooleanField()


class VisibleRatingsSerializer(serializers.Serializer):
    rater1 = RatingSerializer(allow_null=True)
    rater2 = RatingSerializer(allow_null=True)
    consensus = RatingSerializer(allow_null=True)


class AssessmentSerializer(serializers.Serializer):
    timepoint = serializers.CharField()
    submitted = SubmittedSerializer(help_text="Which ratings exist (never their values)")
    ratings = VisibleRatingsSerializer(source="visible", help_text="Those you may see")
    my_kind = serializers.CharField(allow_null=True)
    open_kinds = serializers.ListField(child=serializers.CharField())
    discrepancies = DiscrepancySerializer(many=True)
    score = serializers.SerializerMethodField()
    band = serializers.SerializerMethodField()

    def get_score(self, obj: Any) -> float | None:
        return obj.consensus.score if obj.consensus else None

    def get_band(self, obj: Any) -> str | None:
        return obj.consensus.band if obj.consensus else None


class GroupFidelitySerializer(serializers.Serializer):
    group = serializers.IntegerField()
    timepoints = AssessmentSerializer(many=True)


class ScoreSerializer(serializers.Serializer):
    score = serializers.FloatField(allow_null=True)
    total = serializers.IntegerField(allow_null=True)
    band = serializers.CharField(allow_null=True)
    rated_on = serializers.DateField()


class GroupScoresSerializer(serializers.Serializer):
    group = serializers.IntegerField(source="group.pk")
    name = serializers.CharField(source="group.name")
    site = serializers.CharField(source="group.site.code")
    midway = serializers.SerializerMethodField()
    end = serializers.SerializerMethodField()

    def _score(self, rating: Any) -> Any:
        return ScoreSerializer(rating).data if rating is not None else None

    @extend_schema_field(ScoreSerializer(allow_null=True))
    def get_midway(self, obj: Any) -> Any:
        return self._score(obj.scores.get(FidelityTimepoint.MIDWAY))

    @extend_schema_field(ScoreSerializer(allow_null=True))
    def get_end(self, obj: Any) -> Any:
        return self._score(obj.scores.get(FidelityTimepoint.END))


class SiteFidelitySerializer(serializers.Serializer):
    site = serializers.CharField()
    site_name = serializers.CharField()
    timepoint = serializers.CharField()
    groups = serializers.IntegerField(help_text="Groups with a consensus score")
    mean = serializers.FloatField(allow_null=True)
    sd = serializers.FloatField(allow_null=True, help_text="Sample SD (n − 1) over groups")
    band = serializers.CharField(allow_null=True)


class FidelitySummaryPageSerializer(serializers.Serializer):
    """The schema of GET /api/v1/fidelity-summary/: a page of groups (`results`) and the
    per-site figures over every group."""

    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = GroupScoresSerializer(many=True)
    sites = SiteFidelitySerializer(many=True, help_text="Over every group, whatever the page")
