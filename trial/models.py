"""The ground floor of the trial: its sites, who holds which role where, and the freeze/lock
log that every trial-data table's trigger reads (trial.lock.refuse_when_locked)."""

from __future__ import annotations

import pghistory
import pgtrigger
from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from trial.roles import Role


@pghistory.track()
class Site(models.Model):
    """A community mental health centre: the randomisation stratum."""

    code = models.CharField(max_length=3, unique=True)
    name = models.CharField(max_length=100)
    number = models.PositiveSmallIntegerField(unique=True, help_text="SITE code in datasets")
    # The next participant number at this site; taken under a row lock at registration.
    next_participant_number = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["number"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


@pghistory.track()
class RoleAssignment(models.Model):
    """A role held by a user, at one site or (site empty) at every site."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="role_assignments"
    )
    role = models.CharField(max_length=20, choices=Role.choices)
    site = models.ForeignKey(
        Site, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    granted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "role", "site"],
                name="one_assignment_per_role_and_site",
                nulls_distinct=False,
            )
        ]
        ordering = ["user_id", "role", "site_id"]

    def __str__(self) -> str:
        where = self.site.code if self.site else "all sites"
        return f"{self.user} — {self.get_role_display()} ({where})"


# The insert event gives every freeze, lock and unlock the request context (URL, IP, request
# id) on top of the row's own who/why/when.
@pghistory.track(pghistory.InsertEvent())
class DatasetLock(models.Model):
    """The freeze/lock log. The newest row is the database's state; rows are never changed or
    deleted, so the log is its own audit trail. The trigger of trial.lock.refuse_when_locked
    reads this table before every change of trial data."""

    class Level(models.TextChoices):
        OPEN = "open", _("Open")
        FREEZE = "freeze", _("Frozen")
        LOCK = "lock", _("Locked")

    level = models.CharField(max_length=6, choices=Level.choices)
    reason = models.TextField()
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    set_at = models.DateTimeField(auto_now_add=True)
    open_queries_override = models.BooleanField(
        default=False, help_text="Locked although queries were open (with the reason above)"
    )
    open_queries = models.PositiveIntegerField(
        null=True, blank=True, help_text="Queries still open when the state was set"
    )

    class Meta:
        ordering = ["-id"]
        get_latest_by = "id"
        triggers = [
            pgtrigger.Protect(name="append_only", operation=pgtrigger.Update | pgtrigger.Delete)
        ]

    def __str__(self) -> str:
        return f"{self.get_level_display()} since {self.set_at:%Y-%m-%d %H:%M}"
