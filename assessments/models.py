import pghistory
from django.conf import settings
from django.db import models

from imrtrial.audit import refuse_when_locked


class Timepoint(models.TextChoices):
    BASELINE = "baseline", "Baseline (T0)"
    POST = "post", "Post-intervention (T1)"
    FOLLOWUP = "followup", "One-year follow-up (T2)"


class ResponseStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    COMPLETE = "complete", "Complete"
    VERIFIED = "verified", "Verified"


@pghistory.track()
class InstrumentResponse(models.Model):
    """One instrument filled in for one participant at one timepoint. Items hold the scored
    values; a missing item is absent from `items` and has a reason code in `missing`."""

    participant = models.ForeignKey(
        "participants.Participant", on_delete=models.PROTECT, related_name="responses"
    )
    timepoint = models.CharField(max_length=8, choices=Timepoint.choices)
    instrument = models.CharField(max_length=20, help_text="Instrument code (instruments.json)")
    items = models.JSONField(default=dict)
    missing = models.JSONField(default=dict)
    scores = models.JSONField(default=dict)
    status = models.CharField(
        max_length=8, choices=ResponseStatus.choices, default=ResponseStatus.DRAFT
    )
    version = models.PositiveIntegerField(default=1)
    interview_date = models.DateField(null=True, blank=True)
    rater = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    rater_role = models.CharField(max_length=20, blank=True)
    first_completed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["participant", "timepoint", "instrument"],
                name="one_response_per_instrument_and_timepoint",
            )
        ]
        triggers = [refuse_when_locked(during_freeze=True)]

    def __str__(self) -> str:
        return f"{self.participant_id} {self.timepoint} {self.instrument}"
