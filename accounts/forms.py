from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.validators import MaxLengthValidator
from django.utils.translation import gettext_lazy as _

from accounts.twofactor import CODE_PATTERN, clean_code


class OtpForm(forms.Form):
    otp = forms.CharField(
        label=_("Code from your authenticator app"),
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
            raise forms.ValidationError(_("Type the six digits your authenticator app shows."))
        return code


class LoginForm(AuthenticationForm):
    """Django's login form, with the username's length checked before the password is: Django
    sets only the input's maxlength, so a longer name reached authenticate() and the lockout
    log's username column (255 characters) refused it with a server error."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        username = self.fields["username"]
        assert isinstance(username, forms.CharField)  # Django's UsernameField
        username.validators.append(MaxLengthValidator(username.max_length))
