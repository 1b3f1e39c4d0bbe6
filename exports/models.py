"""Export jobs, their downloads, and the sealed key of the masked group codes used in blinded
exports. (The freeze/lock log they refer to is trial.models.DatasetLock.)"""

from __future__ import annotations

import uuid

import pghistory
import pgtrigger
from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from trial.models import DatasetLock


def append_only() -> pgtrigger.Protect:
    return pgtrigger.Protect(name="append_only", operation=pgtrigger.Update | pgtrigger.Delete)


class ExportFormat(models.TextChoices):
    CSV = "csv", _("CSV (UTF-8), with SPSS, Stata and R syntax that reads it")
    CSV_EXCEL_DA = "csv_excel_da", _("CSV for Excel (Danish): semicolons, decimal commas")
    SAV = "sav", _("SPSS (.sav)")
    DTA = "dta", _("Stata (.dta)")
    XPT = "xpt", _("SAS transport (.xpt), with a SAS program for formats and labels")
    RDS = "rds", _("R (.rds), with factors for labelled variables")
    PARQUET = "parquet", _("Parquet")
    ODM = "odm", _("CDISC ODM 1.3.2 XML, with a stand-alone define file")


class ExportLanguage(models.TextChoices):
    """The language of the labels in the codebook and the data files' metadata."""

    ENGLISH = "en", _("English")
    DANISH = "da", _("Danish")


# Progress ticks and heartbeats change many times a second while a job runs; only the
# changes people care about (status, files, error, snapshot) become audit events.
@pghistory.track(exclude=["progress", "heartbeat_at"])
class ExportJob(models.Model):
    """One request for analysis datasets, built by a Celery task from one database snapshot.
    Not trial data: it is never refused by the freeze or the lock (exports happen after it)."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="export_jobs"
    )
    formats = models.JSONField(default=list, help_text="Requested data formats (ExportFormat)")
    blinded = models.BooleanField(default=True, help_text="Arms replaced by masked group codes")
    options = models.JSONField(
        default=dict,
        blank=True,
        help_text="language (en|da) of the labels; odm_audit_records (bool)",
    )
    status = models.CharField(
        max_length=8, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    progress = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0, help_text="Times a worker started it")
    task_id = models.CharField(max_length=64, blank=True)
    requested_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    snapshot_at = models.DateTimeField(
        null=True, blank=True, help_text="Start of the database snapshot the files come from"
    )
    data_as_of = models.DateTimeField(
        null=True, blank=True, help_text="Time of the last change to the exported data"
    )
    lock_level = models.CharField(
        max_length=6, choices=DatasetLock.Level.choices, blank=True, help_text="At the snapshot"
    )
    lock = models.ForeignKey(
        DatasetLock,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The freeze/lock log row in force at the snapshot",
    )
    files = models.JSONField(default=list, help_text="Published files: name, format, bytes...")
    manifest = models.JSONField(default=dict, blank=True)
    directory = models.CharField(max_length=100, blank=True, help_text="Under EXPORT_ROOT")

    class Meta:
        ordering = ["-requested_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(progress__lte=100), name="export_progress_at_most_100"
            ),
            # A failed job offers nothing; a finished one is complete.
            models.CheckConstraint(
                condition=~models.Q(status="failed") | models.Q(files=[]),
                name="failed_export_has_no_files",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="done") | models.Q(progress=100),
                name="done_export_is_complete",
            ),
        ]

    def __str__(self) -> str:
        return f"Export {self.pk} ({self.get_status_display().lower()})"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)


class ExportDownload(models.Model):
    """Who downloaded which file of which export, when and from where. Append-only."""

    job = models.ForeignKey(ExportJob, on_delete=models.PROTECT, related_name="downloads")
    file_name = models.CharField(max_length=200)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(auto_now_add=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        triggers = [append_only()]

    def __str__(self) -> str:
        return f"{self.file_name} of {self.job_id} by {self.user_id}"


class MaskingKey(models.Model):
    """The trial-wide key from the masked group codes of blinded exports to the arms, sealed
    (trial.sealing). One key for the whole trial, so every blinded export codes the groups
    the same way and two exports of the same data are identical. Never changed or deleted."""

    singleton = models.BooleanField(default=True, unique=True, editable=False)
    sealed_mapping = models.TextField(help_text="Sealed JSON: arm -> masked group letter")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        triggers = [append_only()]
        constraints = [
            models.CheckConstraint(condition=models.Q(singleton=True), name="one_masking_key")
        ]

    def __str__(self) -> str:
        return f"Masking key of {self.created_at:%Y-%m-%d}"


class MaskingKeyRelease(models.Model):
    """Each time the masking key was shown to a statistician after the lock. Append-only."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(auto_now_add=True)
    lock = models.ForeignKey(DatasetLock, on_delete=models.PROTECT, related_name="+")
    channel = models.CharField(max_length=8, default="web")  # web | api
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        triggers = [append_only()]

    def __str__(self) -> str:
        return f"Masking key shown to {self.user_id} at {self.at:%Y-%m-%d %H:%M}"
