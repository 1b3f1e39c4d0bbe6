from django.apps import AppConfig
from django.core.signals import got_request_exception
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class TrialConfig(AppConfig):
    """The trial's ground floor: sites, roles and scopes, blinding, audit, the freeze/lock."""

    name = "trial"
    verbose_name = _("IMR trial: sites, roles, audit and the freeze/lock")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from trial import dbroles, middleware

        # After every migration the owner grants the runtime role its privileges and installs
        # the guards of trial.dbroles (post_migrate is sent once per app after all migrations
        # ran; `sender=self` picks one of them).
        post_migrate.connect(dbroles.after_migrate, sender=self)
        # A database outage inside a middleware becomes a 503 (trial.middleware).
        got_request_exception.connect(
            middleware.note_database_outage, dispatch_uid="trial.note_database_outage"
        )
