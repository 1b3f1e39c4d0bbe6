from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo trial of `make run` (manage.py demo_data, demo_totp). Nothing imports it."""

    name = "demo"
    verbose_name = "IMR trial: demo data"
