from __future__ import annotations

from django import forms

from participants.models import Sex, Site


class RegistrationForm(forms.Form):
    site = forms.ModelChoiceField(queryset=Site.objects.none(), to_field_name="code")
    cpr = forms.CharField(
        label="CPR number",
        max_length=11,
        help_text="DDMMYY-SSSS",
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "numeric"}),
    )
    sex = forms.ChoiceField(choices=Sex.choices, widget=forms.RadioSelect)

    def __init__(self, *args: object, sites: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["site"].queryset = sites  # type: ignore[attr-defined]
