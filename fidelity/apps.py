from django.apps import AppConfig


class FidelityConfig(AppConfig):
    name = "fidelity"
    verbose_name = "IMR delivery and fidelity"
    default_auto_field = "django.db.models.BigAutoField"
