from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RandomizationConfig(AppConfig):
    name = "randomization"
    verbose_name = _("Randomisation")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # What this app contributes to the pages of the apps below it (trial.registry): they
        # read it without importing this app. (Imported here, once the models are loaded.)
        from assessments import contributions as assessment_contributions
        from participants import contributions as participant_contributions
        from randomization import selectors
        from randomization.services.lists import is_list_custodian
        from trial import audit_trail, navigation, timeline

        # The randomisation on the participant's timeline and audit history.
        timeline.contributors.register(selectors.participant_timeline)
        audit_trail.participant_source_declarations.register(selectors.participant_audit_sources)
        # The arm and randomisation code on the participant API and overview (unblinded only).
        participant_contributions.representation_fields.register(selectors.allocation_fields)
        # The way into randomisation and the blinding guesses on the participant overview.
        participant_contributions.overview_panels.register(selectors.overview_panel)
        participant_contributions.representation_related.register(selectors.allocation_related)
        # The unblinding flag of responses on the assessment pages and API.
        assessment_contributions.unblinding_flaggers.register(selectors.unblinding_flags)
        # A statistician who also enrols (coordinator) is refused the allocation lists.
        navigation.register_page_rule("randomization:lists", is_list_custodian)
