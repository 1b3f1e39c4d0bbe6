from django.apps import AppConfig


class ImrTrialConfig(AppConfig):
    default = True
    name = "imrtrial"
    verbose_name = "IMR trial: staff roles and security audit"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Login, logout, failed login and lockout events are written by receivers of Django's
        # and axes' own signals: those libraries give no other hook.
        from imrtrial import authlog  # noqa: F401
