from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.validators import MaxLengthValidator
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import lockout, twofactor
from accounts.twofactor import CODE_PATTERN, clean_code
from trial import access


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
    """Django's login form with the second factor on the same page: for a role that uses one
    (and has enrolled an authenticator), a wrong or missing code gets exactly the answer a
    wrong password gets, and counts towards the lockout like one. A separate code step would
    tell whoever tries a stolen password that it is right.

    The username's length is checked before the password is: Django sets only the input's
    maxlength, so a longer name reached authenticate() and the lockout log's username column
    (255 characters) refused it with a server error."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": _(
            "Please enter a correct username and password, and the current code of your "
            "authenticator app if your role uses one."
        ),
    }

    otp = forms.CharField(
        label=_("Code from your authenticator app"),
        required=False,
        max_length=9,
        strip=True,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        username = self.fields["username"]
        assert isinstance(username, forms.CharField)  # Django's UsernameField
        username.validators.append(MaxLengthValidator(username.max_length))
        self.verified_device: TOTPDevice | None = None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        user = self.user_cache
        if user is None or not access.needs_two_factor(user):
            return cleaned
        device = twofactor.confirmed_device(user)
        if device is None:
            return cleaned  # enrols an authenticator next (accounts.views.otp_enrol)
        code = clean_code(cleaned.get("otp") or "")
        if code and twofactor.code_is_valid(device, code):
            self.verified_device = device
            return cleaned
        why = "wrong code" if code else "no code"
        if self.request is not None:
            lockout.second_factor_failed(
                self.request, user.get_username(), f"{why} on the login page"
            )
        self.user_cache = None
        raise self.get_invalid_login_error()
