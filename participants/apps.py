from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ParticipantsConfig(AppConfig):
    name = "participants"
    verbose_name = _("Participants")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # What this app contributes to pages of the trial core (trial.registry); the apps
        # above register theirs the same way. (Imported here, once the models are loaded.)
        from participants import selectors
        from trial import audit_trail, timeline

        timeline.contributors.register(selectors.participant_timeline)
        audit_trail.participant_source_declarations.register(selectors.participant_audit_sources)
