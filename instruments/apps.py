from django.apps import AppConfig


class InstrumentsConfig(AppConfig):
    # An app without models: installed so that its labels are found like every app's
    # (translations, checks), one floor above `trial`.
    name = "instruments"
    verbose_name = "Instruments"
