from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from participants.models import Participant
from randomization.models import Guess, IncidentHow
from trial.models import Site
from trial.roles import BLINDED_ROLES

MAX_UPLOAD_BYTES = 5 * 1024 * 1024


class ConfirmRandomizationForm(forms.Form):
    # One token per rendering of the page: it is the request's idempotency key, so a double
    # click (or a resubmitted form) returns the allocation made by the first click.
    token = forms.CharField(label=_("Token"), widget=forms.HiddenInput, max_length=64)
    confirm = forms.BooleanField(
        label=_(
            "I have checked the participant's identity, eligibility and written "
            "consent. I understand that randomisation cannot be undone."
        ),
        error_messages={"required": _("Tick the box to confirm.")},
    )


class GenerateForm(forms.Form):
    per_site = forms.IntegerField(
        label=_("Slots per site (at least)"),
        min_value=1,
        max_value=10_000,
        help_text=_("Whole blocks are added until each site has at least this many."),
    )
    sites = forms.ModelMultipleChoiceField(
        label=_("Sites"),
        queryset=Site.objects.order_by("number"),
        to_field_name="code",
        widget=forms.CheckboxSelectMultiple,
    )
    extend = forms.BooleanField(
        required=False, label=_("Append complete blocks to the existing lists (extension)")
    )
    reason = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), label=_("Reason (for extensions)")
    )


class ListFileField(forms.FileField):
    def clean(self, data: Any, initial: Any = None) -> Any:
        uploaded = super().clean(data, initial)
        if uploaded is not None and uploaded.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(_("The file is larger than 5 MB."))
        return uploaded


class ImportForm(forms.Form):
    file = ListFileField(
        label=_("List file (CSV: site, sequence, block, block_size, arm)"),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )
    extend = forms.BooleanField(
        required=False, label=_("Append to the existing lists (complete blocks, numbered on)")
    )
    reason = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), label=_("Reason (for extensions)")
    )


class VerifyForm(forms.Form):
    file = ListFileField(
        label=_("File to verify against the stored list"),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )


class IncidentForm(forms.Form):
    participant: forms.ModelChoiceField[Participant] = forms.ModelChoiceField(
        queryset=None,
        required=False,
        to_field_name="study_id",
        empty_label=_("Not known / several participants"),
        label=_("Whose allocation"),
        # A typed study ID, checked against the user's participants in one query: a list of
        # every participant would make the page grow with the trial.
        widget=forms.TextInput(
            attrs={
                "placeholder": "BAL-007-K",
                "autocapitalize": "characters",
                "spellcheck": "false",
            }
        ),
        help_text=_("The participant's study ID; leave it empty when not known or several."),
        error_messages={"invalid_choice": _("No participant with that study ID at your sites.")},
    )
    learned_on = forms.DateField(
        label=_("Date you learned it"),
        widget=forms.DateInput(attrs={"type": "date"}),
        initial=timezone.localdate,
    )
    how = forms.ChoiceField(choices=IncidentHow.choices, label=_("How"))
    description = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        label=_("What happened"),
        help_text=_("Describe the circumstances. Do not write which arm it was."),
    )
    person: forms.ModelChoiceField[User] = forms.ModelChoiceField(
        queryset=None,
        required=False,
        to_field_name="username",
        empty_label=_("Myself"),
        label=_("Who was unblinded"),
    )

    def __init__(self, *args: Any, participants: Any, for_others: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["participant"].queryset = participants  # type: ignore[attr-defined]
        if for_others:
            blinded = (
                get_user_model()
                .objects.filter(role_assignments__role__in=list(BLINDED_ROLES), is_active=True)
                .distinct()
                .order_by("username")
            )
            self.fields["person"].queryset = blinded  # type: ignore[attr-defined]
        else:
            del self.fields["person"]


class BlindingGuessForm(forms.Form):
    guess = forms.ChoiceField(
        choices=Guess.choices,
        widget=forms.RadioSelect,
        label=_("Which arm do you think the participant was allocated to?"),
    )
    reason = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        label=_("Reason for changing a recorded guess"),
    )
