"""The ground floor of the trial: its sites, who holds which role where, the freeze/lock
log that every trial-data table's trigger reads (trial.lock.refuse_when_locked), and the
outbox of Celery tasks (trial.outbox)."""

from __future__ import annotations

from typing import Any

import pghistory
import pgtrigger
from django.conf import settings
from django.db import connections, models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from trial.roles import Role

# The SECURITY DEFINER function that alone writes the lock log, and the transaction-local
# setting it raises while it does (the table's insert trigger checks it).
LOCK_FUNCTION = "trial_record_lock_level"
LOCK_WRITER_SETTING = "imr.lock_writer"


@pghistory.track()
class Site(models.Model):
    """A community mental health centre: the randomisation stratum."""

    code = models.CharField(_("code"), max_length=3, unique=True)
    name = models.CharField(_("name"), max_length=100)
    number = models.PositiveSmallIntegerField(
        _("number"), unique=True, help_text=_("SITE code in datasets")
    )
    # The next participant number at this site; taken under a row lock at registration.
    next_participant_number = models.PositiveIntegerField(_("next participant number"), default=1)

    class Meta:
        ordering = ["number"]
        verbose_name = _("site")
        verbose_name_plural = _("sites")

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


@pghistory.track()
class RoleAssignment(models.Model):
    """A role held by a user, at one site or (site empty) at every site."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="role_assignments",
        verbose_name=_("user"),
    )
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    site = models.ForeignKey(
        Site,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("site"),
    )
    granted_at = models.DateTimeField(_("granted at"), auto_now_add=True)

    class Meta:
        verbose_name = _("role assignment")
        verbose_name_plural = _("role assignments")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "role", "site"],
                name="one_assignment_per_role_and_site",
                nulls_distinct=False,
            )
        ]
        ordering = ["user_id", "role", "site_id"]

    def __str__(self) -> str:
        where = self.site.code if self.site else gettext("all sites")
        return f"{self.user} — {self.get_role_display()} ({where})"


class DatasetLockManager(models.Manager["DatasetLock"]):
    def create(  # type: ignore[override]
        self,
        *,
        level: str,
        reason: str,
        set_by: Any,
        open_queries_override: bool = False,
        open_queries: int | None = None,
    ) -> DatasetLock:
        """Record a new state through the database's own function (no role may insert into
        the table directly): it records who and why, and refuses a freeze or lock in the
        transaction that opened the database (trial/migrations/0004)."""
        with connections[self.db].cursor() as cursor:
            # Not "SELECT ...": pghistory hands the audit context (request, reason) only to
            # statements that do not start with SELECT.
            query = f"WITH recorded(id) AS (SELECT {LOCK_FUNCTION}(%s, %s, %s, %s, %s)) "
            cursor.execute(
                query + "SELECT id FROM recorded",  # noqa: S608 (a constant; values are parameters)
                [level, reason, set_by.pk, open_queries, open_queries_override],
            )
            (pk,) = cursor.fetchone()
        return self.get(pk=pk)


# The insert event gives every freeze, lock and unlock the request context (URL, IP, request
# id) on top of the row's own who/why/when.
@pghistory.track(pghistory.InsertEvent())
class DatasetLock(models.Model):
    """The freeze/lock log. The newest row is the database's state; rows are never changed or
    deleted, so the log is its own audit trail. The trigger of trial.lock.refuse_when_locked
    reads this table before every change of trial data. Rows are written only by the
    SECURITY DEFINER function trial_record_lock_level() (`DatasetLock.objects.create`)."""

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
    # The writing transaction (pg_current_xact_id()): an open followed by a freeze or lock in
    # one transaction is refused, so data cannot change behind a lock that never lifted.
    transaction_id = models.BigIntegerField(null=True, editable=False)

    objects = DatasetLockManager()

    class Meta:
        ordering = ["-id"]
        get_latest_by = "id"
        triggers = [
            pgtrigger.Protect(name="append_only", operation=pgtrigger.Update | pgtrigger.Delete),
            pgtrigger.Trigger(
                name="only_through_function",
                when=pgtrigger.Before,
                operation=pgtrigger.Insert,
                func=f"""
                    IF current_setting('{LOCK_WRITER_SETTING}', true)
                        IS DISTINCT FROM '{LOCK_FUNCTION}' THEN
                        RAISE EXCEPTION 'The lock state changes only through {LOCK_FUNCTION}().'
                            USING ERRCODE = '42501';
                    END IF;
                    RETURN NEW;
                """,
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_level_display()} since {self.set_at:%Y-%m-%d %H:%M}"


class OutboxMessage(models.Model):
    """A Celery task to send, written in the transaction of the change it belongs to
    (trial.outbox): it exists exactly when that change committed, and a broker outage only
    delays it. Not trial data: the change it announces is audited itself."""

    task = models.CharField(max_length=200)
    args = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)
    # Not tried again before this time (a back-off after the broker refused it).
    due_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    # The Celery task id the broker was given.
    task_id = models.CharField(max_length=64, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["due_at"], condition=models.Q(sent_at__isnull=True), name="outbox_unsent"
            )
        ]

    def __str__(self) -> str:
        state = f"sent {self.sent_at:%Y-%m-%d %H:%M:%S}" if self.sent_at else "unsent"
        return f"{self.task}{tuple(self.args)} ({state})"
