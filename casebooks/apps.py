from django.apps import AppConfig


class CasebooksConfig(AppConfig):
    name = "casebooks"
    verbose_name = "Casebooks and signatures"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The signature of each visit on the assessment page of the app below (trial.registry).
        # (Imported here, once the models are loaded.)
        from assessments import contributions
        from casebooks import views

        contributions.visit_panels.register(views.visit_panel)
