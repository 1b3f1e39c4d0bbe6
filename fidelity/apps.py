from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FidelityConfig(AppConfig):
    name = "fidelity"
    verbose_name = _("IMR delivery and fidelity")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # What this app contributes to the pages of the apps below it (trial.registry): they
        # read it without importing this app. (Imported here, once the models are loaded.)
        from fidelity import selectors
        from fidelity.instrument import INSTRUMENT
        from instruments import registry
        from trial import audit_trail, timeline

        # Group membership, sessions and ratings on the participant's timeline and audit
        # history (each for unblinded users only).
        timeline.contributors.register(selectors.participant_timeline)
        audit_trail.participant_source_declarations.register(selectors.participant_audit_sources)
        # The IMR Fidelity Scale among the instruments of GET /api/v1/instruments/.
        registry.reference_instruments.register(INSTRUMENT)
