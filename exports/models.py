import pgtrigger
from django.conf import settings
from django.db import models


class DatasetLock(models.Model):
    """The freeze/lock log. The newest row is the database's state; rows are never changed or
    deleted, so the log is its own audit trail. The trigger of imrtrial.audit.refuse_when_locked
    reads this table before every change of trial data."""

    class Level(models.TextChoices):
        OPEN = "open", "Open"
        FREEZE = "freeze", "Frozen"
        LOCK = "lock", "Locked"

    level = models.CharField(max_length=6, choices=Level.choices)
    reason = models.TextField()
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    set_at = models.DateTimeField(auto_now_add=True)
    open_queries_override = models.BooleanField(
        default=False, help_text="Locked although queries were open (with the reason above)"
    )

    class Meta:
        ordering = ["-id"]
        get_latest_by = "id"
        triggers = [
            pgtrigger.Protect(name="append_only", operation=pgtrigger.Update | pgtrigger.Delete)
        ]

    def __str__(self) -> str:
        return f"{self.get_level_display()} since {self.set_at:%Y-%m-%d %H:%M}"
