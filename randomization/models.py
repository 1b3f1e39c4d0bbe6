"""Concealed allocation. An allocation list is a sequence of slots per site (the stratum);
the arm of a slot is sealed until the slot is bound to a participant. The binding (an
Allocation) can never be changed or deleted: PostgreSQL refuses it."""

import pghistory
import pgtrigger
from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from assessments.models import visit_label
from trial.errors import IMMUTABLE_SQLSTATE
from trial.lock import refuse_when_locked


class Arm(models.TextChoices):
    IMR = "IMR", _("IMR + treatment as usual")
    TAU = "TAU", _("Treatment as usual")


def refuse_change(what: str) -> pgtrigger.Trigger:
    return pgtrigger.Trigger(
        name="immutable",
        when=pgtrigger.Before,
        operation=pgtrigger.Update | pgtrigger.Delete,
        func=f"RAISE EXCEPTION '{what} can never be changed or deleted.' "
        f"USING ERRCODE = '{IMMUTABLE_SQLSTATE}';",
    )


@pghistory.track()
class AllocationList(models.Model):
    """One version of a site's list: the first list, or complete blocks appended later."""

    class Source(models.TextChoices):
        GENERATED = "generated", _("Generated in the EDC")
        IMPORTED = "imported", _("Imported from a file")
        EXTENSION = "extension", _("Blocks appended after exhaustion")

    site = models.ForeignKey("trial.Site", on_delete=models.PROTECT, related_name="+")
    version = models.PositiveIntegerField()
    source = models.CharField(max_length=10, choices=Source.choices)
    first_sequence = models.PositiveIntegerField()
    length = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64, help_text="SHA-256 of the list in canonical CSV")
    seed_sealed = models.TextField(blank=True, help_text="The generator seed, sealed")
    parameters = models.JSONField(default=dict, help_text="Generator, version, block sizes...")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["site", "version"], name="one_list_version_per_site")
        ]
        triggers = [refuse_change("An allocation list"), refuse_when_locked(during_freeze=True)]

    def __str__(self) -> str:
        return f"Allocation list {self.site_id} v{self.version}"


class AllocationSlot(models.Model):
    """One position of a site's list. Deliberately not tracked by pghistory: an event row
    would copy the sealed arm into a table more people can read."""

    allocation_list = models.ForeignKey(
        AllocationList, on_delete=models.PROTECT, related_name="slots"
    )
    site = models.ForeignKey("trial.Site", on_delete=models.PROTECT, related_name="+")
    sequence = models.PositiveIntegerField(help_text="Position in the site's list, from 1")
    block = models.PositiveIntegerField()
    block_size = models.PositiveSmallIntegerField()
    arm_sealed = models.TextField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["site", "sequence"], name="one_slot_per_position"),
            models.CheckConstraint(
                condition=models.Q(block_size__in=[6, 8, 10]), name="block_size_6_8_or_10"
            ),
        ]
        triggers = [refuse_change("An allocation slot"), refuse_when_locked(during_freeze=True)]

    def __str__(self) -> str:
        return f"Slot {self.site_id}/{self.sequence}"


class SiteSequence(models.Model):
    """The next unused position of each site's list. Randomisation takes this row's lock, which
    serialises randomisations within a site (RANDOMISATION.md §4)."""

    site = models.OneToOneField(
        "trial.Site", on_delete=models.PROTECT, related_name="+", primary_key=True
    )
    next_sequence = models.PositiveIntegerField(default=1)

    class Meta:
        # The position moves forward by exactly one per allocation: a rewind would hand out a
        # used slot again, a skip would leave one unused (and reveal the block structure).
        triggers = [
            pgtrigger.Trigger(
                name="forward_by_one",
                when=pgtrigger.Before,
                operation=pgtrigger.Insert | pgtrigger.Update | pgtrigger.Delete,
                func=f"""
                    IF TG_OP = 'DELETE' THEN
                        RAISE EXCEPTION 'A site''s allocation position can never be deleted.'
                            USING ERRCODE = '{IMMUTABLE_SQLSTATE}';
                    END IF;
                    IF TG_OP = 'INSERT' AND NEW.next_sequence <> 1 THEN
                        RAISE EXCEPTION 'A site''s allocation position starts at 1.'
                            USING ERRCODE = '{IMMUTABLE_SQLSTATE}';
                    END IF;
                    IF TG_OP = 'UPDATE' AND (NEW.site_id <> OLD.site_id
                            OR NEW.next_sequence <> OLD.next_sequence + 1) THEN
                        RAISE EXCEPTION 'A site''s allocation position moves forward by one '
                            'per randomisation (% to % refused).',
                            OLD.next_sequence, NEW.next_sequence
                            USING ERRCODE = '{IMMUTABLE_SQLSTATE}';
                    END IF;
                    RETURN NEW;
                """,
            )
        ]

    def __str__(self) -> str:
        return f"Next position at site {self.site_id}"


@pghistory.track()
class Allocation(models.Model):
    """The irreversible binding of a participant to a slot, and so to an arm."""

    participant = models.OneToOneField(
        "participants.Participant", on_delete=models.PROTECT, related_name="allocation"
    )
    slot = models.OneToOneField(AllocationSlot, on_delete=models.PROTECT, related_name="+")
    arm = models.CharField(max_length=3, choices=Arm.choices)
    randomization_code = models.CharField(max_length=12, unique=True)
    randomized_at = models.DateTimeField()
    randomized_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    idempotency_key = models.CharField(max_length=100, blank=True)

    class Meta:
        constraints = [
            # A key identifies one request of one user: reusing it for another participant
            # is refused instead of silently returning someone else's allocation.
            models.UniqueConstraint(
                fields=["randomized_by", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="one_allocation_per_idempotency_key",
            )
        ]
        triggers = [refuse_change("A randomisation"), refuse_when_locked(during_freeze=True)]

    def __str__(self) -> str:
        return f"Allocation {self.randomization_code}"


class RandomizationLogEntry(models.Model):
    """The randomisation audit log (RANDOMISATION.md §4, "Audit"): list generation, import,
    extension and every read of a list; each randomisation and each refusal. Append-only in
    PostgreSQL. Not lock-aware on purpose: reading a list after lock is still recorded.
    Shown to statisticians only, since entries name slots and arms."""

    class Kind(models.TextChoices):
        LIST_GENERATED = "list_generated", _("List generated")
        LIST_IMPORTED = "list_imported", _("List imported")
        LIST_EXTENDED = "list_extended", _("List extended")
        LIST_REFUSED = "list_refused", _("List generation or import refused")
        LIST_DOWNLOADED = "list_downloaded", _("List read (download)")
        SEED_DOWNLOADED = "seed_downloaded", _("Seed read")
        PACKAGE_DOWNLOADED = "package_downloaded", _("Trial master file package read")
        LIST_VERIFIED = "list_verified", _("List verified against a file")
        RANDOMIZED = "randomized", _("Randomised")
        REPLAYED = "replayed", _("Repeated request answered with the existing allocation")
        REFUSED_NOT_ALLOWED = "refused_not_allowed", _("Refused: role or site")
        REFUSED_INELIGIBLE = "refused_ineligible", _("Refused: not eligible")
        REFUSED_NOT_CONSENTED = "refused_not_consented", _("Refused: no consent")
        REFUSED_BASELINE = "refused_baseline", _("Refused: baseline incomplete")
        REFUSED_DUPLICATE = "refused_duplicate", _("Refused: already randomised")
        REFUSED_CLOSED = "refused_closed", _("Refused: participation ended")
        REFUSED_EXHAUSTED = "refused_exhausted", _("Refused: list exhausted")
        REFUSED_LOCKED = "refused_locked", _("Refused: database frozen or locked")
        REFUSED_INVALID = "refused_invalid", _("Refused: invalid request")
        EXHAUSTION_ALERT = "exhaustion_alert", _("Statisticians alerted: list exhausted")
        CONFIRMATION_SENT = "confirmation_sent", _("Confirmation e-mail sent")
        REPORT_VIEWED = "report_viewed", _("Unblinded report viewed")

    kind = models.CharField(max_length=24, choices=Kind.choices, db_index=True)
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    username = models.CharField(max_length=150, blank=True)
    channel = models.CharField(max_length=8, default="web")  # web | api | cli | task
    site = models.ForeignKey(
        "trial.Site", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    participant = models.ForeignKey(
        "participants.Participant",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    allocation_list = models.ForeignKey(
        AllocationList, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    message = models.TextField(blank=True)
    detail = models.JSONField(default=dict, blank=True)
    request_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        triggers = [
            pgtrigger.Protect(name="append_only", operation=pgtrigger.Update | pgtrigger.Delete)
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.kind}"


class IncidentHow(models.TextChoices):
    PARTICIPANT_TOLD = "participant_told", _("The participant mentioned it")
    STAFF_TOLD = "staff_told", _("A member of staff mentioned it")
    RECORD_SEEN = "record_seen", _("Saw it in a record, letter or e-mail")
    GROUP_CONTACT = "group_contact", _("Saw or heard about IMR group activity")
    OTHER = "other", _("Other")


@pghistory.track()
class UnblindingIncident(models.Model):
    """A blinded person learned (or may have learned) a participant's allocation. Assessments
    that person makes from `learned_on` on are flagged (randomization.selectors)."""

    person = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="unblinding_incidents"
    )
    participant = models.ForeignKey(
        "participants.Participant",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="unblinding_incidents",
        help_text="Whose allocation was learned, if known",
    )
    learned_on = models.DateField()
    how = models.CharField(max_length=20, choices=IncidentHow.choices)
    description = models.TextField(blank=True)
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    reported_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-reported_at", "-id"]
        # Reports stay possible while the database is frozen (like answering queries).
        triggers = [refuse_when_locked(during_freeze=False)]

    def __str__(self) -> str:
        return f"Unblinding of {self.person} on {self.learned_on}"


class GuessTimepoint(models.TextChoices):
    # The visits' one name (assessments.models.visit_name).
    POST = "post", visit_label("post")
    FOLLOWUP = "followup", visit_label("followup")


class Guess(models.TextChoices):
    IMR = "IMR", _("IMR + treatment as usual")
    TAU = "TAU", _("Treatment as usual")
    DONT_KNOW = "dont_know", _("Don't know")


@pghistory.track()
class BlindingGuess(models.Model):
    """The assessor's guess of the arm at a post-intervention or follow-up assessment, for the
    blinding index computed after lock. Holds no arm: only the guess."""

    participant = models.ForeignKey(
        "participants.Participant", on_delete=models.PROTECT, related_name="blinding_guesses"
    )
    timepoint = models.CharField(max_length=8, choices=GuessTimepoint.choices)
    assessor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    guess = models.CharField(max_length=9, choices=Guess.choices)
    recorded_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["participant", "timepoint"], name="one_blinding_guess_per_timepoint"
            )
        ]
        ordering = ["participant_id", "timepoint"]
        triggers = [refuse_when_locked(during_freeze=True)]

    def __str__(self) -> str:
        return f"Blinding guess {self.participant_id} {self.timepoint}"
