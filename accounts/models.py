import pghistory
import pgtrigger
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import models
from django.utils.translation import gettext_lazy as _


class AuthEvent(models.Model):
    """Security events that are not row changes: logins, failures, lockouts, token issue."""

    class Kind(models.TextChoices):
        LOGIN = "login", _("Logged in")
        LOGOUT = "logout", _("Logged out")
        LOGIN_FAILED = "login_failed", _("Failed login")
        LOCKED_OUT = "locked_out", _("Locked out")
        TOKEN_ISSUED = "token_issued", _("API token issued")
        OTP_FAILED = "otp_failed", _("Wrong or missing second factor")
        OTP_DEVICE_ADDED = "otp_device_added", _("Two-factor device enrolled")
        OTP_VERIFIED = "otp_verified", _("Second factor verified")
        OTP_DEVICE_RESET = "otp_device_reset", _("Two-factor device removed by an administrator")
        TOKEN_REVOKED = "token_revoked", _("API token revoked")
        PASSWORD_CHANGED = "password_changed", _("Password changed")
        UNLOCKED = "unlocked", _("Lockout lifted by an administrator")

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    username = models.CharField(_("username"), max_length=150)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("user"),
    )
    at = models.DateTimeField(_("at"), auto_now_add=True, db_index=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    # web | api | admin | cli
    channel = models.CharField(_("channel"), max_length=20, default="web")
    detail = models.CharField(_("detail"), max_length=200, blank=True)

    class Meta:
        ordering = ["-at"]
        verbose_name = _("security event")
        verbose_name_plural = _("security events")
        triggers = [
            pgtrigger.Protect(name="append_only", operation=pgtrigger.Update | pgtrigger.Delete)
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.kind} {self.username}"


class ApiToken(models.Model):
    """A bearer token for the API (`Authorization: Token <key>`).

    Only a SHA-256 digest of the key is stored: a copy of the database (a backup, a dump for a
    monitor) gives nobody a working token. The key is random (256 bits), so an unsalted digest
    is as strong as the key itself. A token ends when it expires, when it has been idle for
    longer than settings.API_TOKEN_IDLE_TIMEOUT, when it is revoked, or when its user changes
    password or is deactivated."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="api_tokens",
        verbose_name=_("user"),
    )
    digest = models.CharField(_("digest"), max_length=64, unique=True)
    prefix = models.CharField(
        _("prefix"), max_length=8, help_text=_("First characters of the key, to recognise it")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires at"))
    last_used_at = models.DateTimeField(_("last used at"))
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        indexes = [models.Index(fields=["user", "revoked_at"], name="token_user_revoked")]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"


@pghistory.track()
class PasswordChangeDemand(models.Model):
    """The user must choose a new password before doing anything else: an administrator typed
    the current one in the admin pages, so somebody else knows it. Removed when the user
    changes it. `create_staff` sets none: its operator gives the password on purpose."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="password_change_demand",
    )
    set_at = models.DateTimeField(auto_now_add=True)
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"{self.user} must change the password"


# Staff accounts are audited like trial data: who changed a name, an e-mail address or the
# active flag, when and why. The password hash and the last-login time are left out: the hash
# must not be copied anywhere, and logins are in AuthEvent. The triggers hang on a proxy of
# the user model so that their migration lives in this app, not in django.contrib.auth.
@pghistory.track(
    pghistory.InsertEvent(),
    pghistory.UpdateEvent(),
    pghistory.DeleteEvent(),
    exclude=["password", "last_login"],
    model_name="StaffAccountEvent",
)
class StaffAccount(get_user_model()):  # type: ignore[misc]
    class Meta:
        proxy = True
        verbose_name = _("staff account")


class Language(models.TextChoices):
    """The languages of the interface (settings.LANGUAGES names the same two)."""

    DANISH = "da", _("Dansk")
    ENGLISH = "en", _("English")


# A member of staff's own choices. Audited (who changed it, when) like the account itself; not
# trial data, so the freeze and the lock leave it alone: staff still read the pages after lock.
@pghistory.track()
class AccountPreference(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preference"
    )
    language = models.CharField(max_length=8, choices=Language.choices)

    class Meta:
        verbose_name = _("account preference")

    def __str__(self) -> str:
        return f"{self.user} ({self.language})"
