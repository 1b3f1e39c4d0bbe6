from datetime import date, datetime

import pghistory
from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from trial.lock import refuse_when_locked
from trial.models import Site


class Status(models.TextChoices):
    REGISTERED = "registered", _("Registered")
    ELIGIBLE = "eligible", _("Eligible")
    INELIGIBLE = "ineligible", _("Not eligible")
    CONSENTED = "consented", _("Consented")
    RANDOMIZED = "randomized", _("Randomised")
    WITHDRAWN = "withdrawn", _("Withdrawn")
    LOST_TO_FOLLOW_UP = "lost_to_follow_up", _("Lost to follow-up")
    DECEASED = "deceased", _("Deceased")


# Statuses after which screening, consent and randomisation are over.
CLOSED_STATUSES = frozenset({Status.WITHDRAWN, Status.LOST_TO_FOLLOW_UP, Status.DECEASED})


class Sex(models.TextChoices):
    FEMALE = "female", _("Female")
    MALE = "male", _("Male")


def randomization_day(randomized_at: datetime | None) -> date | None:
    """The randomisation date (Copenhagen) of a randomisation time, None before it: what
    `Participant.randomized_on` gives, for code that reads the bare column."""
    return timezone.localdate(randomized_at) if randomized_at else None


@pghistory.track()
class Participant(models.Model):
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="participants")
    number = models.PositiveIntegerField(help_text="Registration number within the site")
    study_id = models.CharField(max_length=16, unique=True)
    cpr_ciphertext = models.TextField(help_text="Fernet token; never shown")
    cpr_hash = models.CharField(max_length=64, unique=True, help_text="Keyed HMAC-SHA256")
    date_of_birth = models.DateField()
    sex = models.CharField(max_length=6, choices=Sex.choices)
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.REGISTERED, db_index=True
    )
    registered_at = models.DateTimeField(default=timezone.now)
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    consent_date = models.DateField(null=True, blank=True)
    consent_recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # When the participant was randomised (written with the allocation, in its transaction,
    # by participants.services.participant_mark_randomized). Arm-free: visit windows run from
    # it, and every app reads it here rather than from the randomization app above.
    randomized_at = models.DateTimeField(null=True, blank=True)
    # Withdrawal, loss to follow-up or death: when and why.
    status_date = models.DateField(null=True, blank=True)
    status_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["site__number", "number"]
        constraints = [
            models.UniqueConstraint(fields=["site", "number"], name="one_number_per_site"),
        ]
        triggers = [refuse_when_locked(during_freeze=True)]

    def __str__(self) -> str:
        return self.study_id

    @property
    def cpr_masked(self) -> str:
        return f"{self.date_of_birth:%d%m%y}-XXXX"

    @property
    def randomized_on(self) -> date | None:
        """The randomisation date (Copenhagen), or None before randomisation."""
        return randomization_day(self.randomized_at)

    @property
    def registered_on(self) -> date:
        return timezone.localdate(self.registered_at)


class Diagnosis(models.TextChoices):
    F20 = "F20", _("Schizophrenia (F20)")
    F31 = "F31", _("Bipolar disorder (F31)")
    OTHER = "other", _("Other")


@pghistory.track()
class EligibilityScreening(models.Model):
    """One eligibility screening. Every screening is kept: together they are the CONSORT
    record of who was screened, who was excluded and why."""

    participant = models.ForeignKey(
        Participant, on_delete=models.PROTECT, related_name="screenings"
    )
    diagnosis = models.CharField(max_length=5, choices=Diagnosis.choices)
    pse_confirmed = models.BooleanField()
    age_18_or_over = models.BooleanField()
    danish_fluent = models.BooleanField()
    guardian_or_forensic = models.BooleanField()
    dementia_or_intellectual_disability = models.BooleanField()
    active_substance_use_disorder = models.BooleanField()
    community_residential_home = models.BooleanField()
    in_psychoeducation_course = models.BooleanField()
    eligible = models.BooleanField()
    reasons = models.JSONField(default=list, help_text="Why not eligible, in words")
    screened_at = models.DateTimeField(default=timezone.now)
    screened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["participant_id", "screened_at", "id"]
        triggers = [refuse_when_locked(during_freeze=True)]

    def __str__(self) -> str:
        return f"{self.participant} screened {self.screened_at:%Y-%m-%d}: {self.eligible}"
