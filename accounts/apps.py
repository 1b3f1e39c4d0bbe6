from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    """Staff accounts: login, the second factor, API tokens, lockout, the security log."""

    name = "accounts"
    verbose_name = _("IMR trial: accounts and security log")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Login, logout, failed login and lockout events are written by receivers of Django's
        # and axes' own signals: those libraries give no other hook. (Imported here, once the
        # models are loaded: the receivers write accounts.AuthEvent.) The language module's
        # receiver keeps the account's language in the new session at login.
        from accounts import authlog, language  # noqa: F401
