from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AssessmentsConfig(AppConfig):
    name = "assessments"
    verbose_name = _("Assessments")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # This app's rows on the participant's timeline and audit history (trial.registry: the
        # participants app's pages read them without importing this app). (Imported here,
        # once the models are loaded.)
        from assessments import selectors
        from trial import audit_trail, timeline

        timeline.contributors.register(selectors.participant_timeline)
        audit_trail.participant_source_declarations.register(selectors.participant_audit_sources)
