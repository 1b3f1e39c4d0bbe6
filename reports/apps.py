from django.apps import AppConfig


class ReportsConfig(AppConfig):
    """The trial overview: role home pages, the record status matrix, the CONSORT flow, the
    paper's tables and charts. It only reads; it owns no model."""

    name = "reports"
    verbose_name = "Reports"
    default_auto_field = "django.db.models.BigAutoField"
