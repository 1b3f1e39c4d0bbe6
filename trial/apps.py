from django.apps import AppConfig


class TrialConfig(AppConfig):
    """The trial's ground floor: sites, roles and scopes, blinding, audit, the freeze/lock."""

    name = "trial"
    verbose_name = "IMR trial: sites, roles, audit and the freeze/lock"
    default_auto_field = "django.db.models.BigAutoField"
