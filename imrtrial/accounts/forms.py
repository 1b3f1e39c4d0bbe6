from __future__ import annotations

from django import forms

from imrtrial.accounts.twofactor import CODE_PATTERN, clean_code


class OtpForm(forms.Form):
    otp = forms.CharField(
        label="Code from your authenticator app",
        max_length=9,
        widget=forms.TextInput(
            attrs={
                "inputmode": "numeric",
                "autocomplete": "one-time-code",
                "autofocus": True,
                "pattern": "[0-9 ]*",
                "size": 8,
            }
        ),
    )

    def clean_otp(self) -> str:
        code = clean_code(self.cleaned_data["otp"])
        if not CODE_PATTERN.match(code):
            raise forms.ValidationError("Type the six digits your authenticator app shows.")
        return code
