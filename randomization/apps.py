from django.apps import AppConfig


class RandomizationConfig(AppConfig):
    name = "randomization"
    verbose_name = "Randomisation"
    default_auto_field = "django.db.models.BigAutoField"
