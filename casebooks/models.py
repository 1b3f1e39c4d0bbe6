"""Electronic signatures (21 CFR Part 11 §11.50, §11.70): an investigator signs a participant's
visit, the data manager signs the lock, the statistician signs the release of the masking key.

A signature binds the signer, their full name and role at the time, the meaning and the moment
to a SHA-256 of a canonical serialisation of what was signed (casebooks.canonical). It is never
changed or deleted (PostgreSQL refuses it); when the signed record changes later the hashes
differ and the signature shows as broken, and a new signature can be made.

Lock semantics (trigger below, `refuse_unless_allowed_at_lock`): a visit may be signed while
the database is open or frozen (during a freeze nothing can change under the signature: the
ideal moment), never after lock; the lock is signed only while it holds, and the masking key's
release only after lock, which is when it happens."""

from __future__ import annotations

import pghistory
import pgtrigger
from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from trial.errors import LOCKED_SQLSTATE
from trial.lock import LOCK_TABLE
from trial.roles import Role


class Subject(models.TextChoices):
    VISIT = "visit", _("Visit casebook")
    LOCK = "lock", _("Database lock")
    MASKING_KEY = "masking_key", _("Masking key release")


class Meaning(models.TextChoices):
    REVIEWED = "reviewed_approved", _("Reviewed and approved")
    LOCKED = "locked", _("Locked: the data are final")
    KEY_RELEASED = "key_released", _("Masking key released for the unblinded analysis")


# What each subject may be signed as, and by whom.
MEANINGS = {
    Subject.VISIT: (Meaning.REVIEWED,),
    Subject.LOCK: (Meaning.LOCKED,),
    Subject.MASKING_KEY: (Meaning.KEY_RELEASED,),
}
SIGNERS = {
    Subject.VISIT: Role.INVESTIGATOR,
    Subject.LOCK: Role.DATA_MANAGER,
    Subject.MASKING_KEY: Role.STATISTICIAN,
}


def refuse_unless_allowed_at_lock() -> pgtrigger.Trigger:
    """Like trial.lock.refuse_when_locked (so the invariant tests recognise it), but a
    signature of the lock or of the key's release is exactly what happens after the lock."""
    return pgtrigger.Trigger(
        name="refuse_when_locked",
        when=pgtrigger.Before,
        operation=pgtrigger.Insert | pgtrigger.Update | pgtrigger.Delete,
        declare=[("current_level", "text")],
        func=f"""
            SELECT level INTO current_level FROM {LOCK_TABLE} ORDER BY id DESC LIMIT 1;
            IF TG_OP = 'INSERT' AND NEW.subject IN ('lock', 'masking_key') THEN
                IF current_level IS DISTINCT FROM 'lock' THEN
                    RAISE EXCEPTION 'The % is signed only while the trial database is locked.',
                        CASE NEW.subject WHEN 'lock' THEN 'lock' ELSE 'masking key release' END
                        USING ERRCODE = '{LOCKED_SQLSTATE}';
                END IF;
                RETURN NEW;
            END IF;
            IF current_level = 'lock' THEN
                RAISE EXCEPTION 'The trial database is locked: a visit cannot be signed.'
                    USING ERRCODE = '{LOCKED_SQLSTATE}';
            END IF;
            IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
            RETURN NEW;
        """,  # noqa: S608 (no user input: the lock table's name)
    )


@pghistory.track(pghistory.InsertEvent())
class Signature(models.Model):
    """One electronic signature. Append-only: the manifestation (name, role, meaning, time)
    and the hash are fixed when it is made."""

    subject = models.CharField(max_length=12, choices=Subject.choices)
    participant = models.ForeignKey(
        "participants.Participant",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="signatures",
    )
    timepoint = models.CharField(max_length=8, blank=True)
    dataset_lock = models.ForeignKey(
        "trial.DatasetLock", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    signer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    signer_name = models.CharField(max_length=300, help_text="The signer's full name when signing")
    signer_role = models.CharField(max_length=20, choices=Role.choices)
    meaning = models.CharField(max_length=20, choices=Meaning.choices)
    signed_at = models.DateTimeField(default=timezone.now)
    content_sha256 = models.CharField(max_length=64)
    # What was signed, as far as needed to say later which change broke the signature: each
    # form's version (visit), the lock row (lock). Never item values (they are in the forms).
    manifest = models.JSONField(default=dict)

    class Meta:
        ordering = ["-signed_at", "-id"]
        constraints = [
            # Signed once while unchanged: a second signature of the same content with the
            # same meaning is refused by the database too (409), whoever sends it.
            models.UniqueConstraint(
                fields=["participant", "timepoint", "meaning", "content_sha256"],
                condition=models.Q(subject="visit"),
                name="visit_signed_once_per_content",
            ),
            # A lock is signed once; every showing of the masking key is signed on its own.
            models.UniqueConstraint(
                fields=["dataset_lock", "meaning"],
                condition=models.Q(subject="lock"),
                name="lock_signed_once",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(
                        subject="visit",
                        participant__isnull=False,
                        dataset_lock__isnull=True,
                    )
                    & ~models.Q(timepoint="")
                )
                | models.Q(
                    subject__in=["lock", "masking_key"],
                    participant__isnull=True,
                    dataset_lock__isnull=False,
                ),
                name="signature_subject_complete",
            ),
        ]
        indexes = [models.Index(fields=["participant", "timepoint"])]
        triggers = [
            refuse_unless_allowed_at_lock(),
            pgtrigger.Protect(name="append_only", operation=pgtrigger.Update | pgtrigger.Delete),
        ]

    def __str__(self) -> str:
        return f"{self.get_meaning_display()} by {self.signer_name} {self.signed_at:%Y-%m-%d %H:%M}"
