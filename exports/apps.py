from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ExportsConfig(AppConfig):
    name = "exports"
    verbose_name = _("Exports")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The Celery tasks of the exports, registered in every process (the web process sends
        # builds by name, exports.queue, and in eager mode runs them from the registry).
        from exports import tasks  # noqa: F401
