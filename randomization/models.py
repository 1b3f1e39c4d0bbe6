"""Concealed allocation. An allocation list is a sequence of slots per site (the stratum);
the arm of a slot is sealed until the slot is bound to a participant. The binding (an
Allocation) can never be changed or deleted: PostgreSQL refuses it."""

import pghistory
import pgtrigger
from django.conf import settings
from django.db import models

from imrtrial.audit import refuse_when_locked
from imrtrial.errors import IMMUTABLE_SQLSTATE


class Arm(models.TextChoices):
    IMR = "IMR", "IMR + treatment as usual"
    TAU = "TAU", "Treatment as usual"


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
        GENERATED = "generated", "Generated in the EDC"
        IMPORTED = "imported", "Imported from a file"
        EXTENSION = "extension", "Blocks appended after exhaustion"

    site = models.ForeignKey("participants.Site", on_delete=models.PROTECT, related_name="+")
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
        triggers = [refuse_change("An allocation list")]

    def __str__(self) -> str:
        return f"Allocation list {self.site_id} v{self.version}"


class AllocationSlot(models.Model):
    """One position of a site's list. Deliberately not tracked by pghistory: an event row
    would copy the sealed arm into a table more people can read."""

    allocation_list = models.ForeignKey(
        AllocationList, on_delete=models.PROTECT, related_name="slots"
    )
    site = models.ForeignKey("participants.Site", on_delete=models.PROTECT, related_name="+")
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
        triggers = [refuse_change("An allocation slot")]

    def __str__(self) -> str:
        return f"Slot {self.site_id}/{self.sequence}"


class SiteSequence(models.Model):
    """The next unused position of each site's list. Randomisation takes this row's lock, which
    serialises randomisations within a site (RANDOMISATION.md §4)."""

    site = models.OneToOneField(
        "participants.Site", on_delete=models.PROTECT, related_name="+", primary_key=True
    )
    next_sequence = models.PositiveIntegerField(default=1)

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
        triggers = [refuse_change("A randomisation"), refuse_when_locked(during_freeze=True)]

    def __str__(self) -> str:
        return f"Allocation {self.randomization_code}"
