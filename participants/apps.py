from django.apps import AppConfig


class ParticipantsConfig(AppConfig):
    name = "participants"
    verbose_name = "Participants"
    default_auto_field = "django.db.models.BigAutoField"
