import pghistory
import pgtrigger
from django.conf import settings
from django.db import models

from imrtrial.roles import Role


@pghistory.track()
class RoleAssignment(models.Model):
    """A role held by a user, at one site or (site empty) at every site."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="role_assignments"
    )
    role = models.CharField(max_length=20, choices=Role.choices)
    site = models.ForeignKey(
        "participants.Site", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
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


class AuthEvent(models.Model):
    """Security events that are not row changes: logins, failures, lockouts, token issue."""

    class Kind(models.TextChoices):
        LOGIN = "login", "Logged in"
        LOGOUT = "logout", "Logged out"
        LOGIN_FAILED = "login_failed", "Failed login"
        LOCKED_OUT = "locked_out", "Locked out"
        TOKEN_ISSUED = "token_issued", "API token issued"
        OTP_FAILED = "otp_failed", "Wrong or missing second factor"
        OTP_DEVICE_ADDED = "otp_device_added", "Two-factor device enrolled"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    username = models.CharField(max_length=150)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    channel = models.CharField(max_length=20, default="web")  # web | api | admin
    detail = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-at"]
        triggers = [
            pgtrigger.Protect(name="append_only", operation=pgtrigger.Update | pgtrigger.Delete)
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.kind} {self.username}"
