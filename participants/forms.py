from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from participants import eligibility
from participants.models import Diagnosis, Sex, Status
from trial.models import Site

YES_NO = [("yes", _("Yes")), ("no", _("No"))]


def _date_widget() -> forms.DateInput:
    return forms.DateInput(
        attrs={"type": "date", "max": timezone.localdate().isoformat()}, format="%Y-%m-%d"
    )


class RegistrationForm(forms.Form):
    site = forms.ModelChoiceField(
        label=_("Site"), queryset=Site.objects.none(), to_field_name="code"
    )
    cpr = forms.CharField(
        label=_("CPR number"),
        max_length=11,
        help_text=_(
            "DDMMYY-SSSS (the hyphen may be left out). Stored encrypted; shown afterwards "
            "only as DDMMYY-XXXX."
        ),
        widget=forms.TextInput(
            attrs={
                "autocomplete": "off",
                "inputmode": "numeric",
                "autofocus": True,
                "spellcheck": "false",
            }
        ),
    )
    sex = forms.ChoiceField(label=_("Sex"), choices=Sex.choices, widget=forms.RadioSelect)
    # Shown only after a warning: the sex chosen differs from the one the CPR number gives.
    sex_confirmed = forms.BooleanField(
        required=False,
        label=_("The sex chosen is right, although the CPR number's last digit says otherwise"),
    )

    def __init__(self, *args: Any, sites: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["site"]
        field.queryset = sites  # type: ignore[attr-defined]
        if sites.count() == 1:
            field.initial = sites.first().code


class ScreeningForm(forms.Form):
    """The nine answers of API.md: the diagnosis and eight yes/no questions. Nothing is
    pre-selected, so every answer is a decision."""

    diagnosis = forms.ChoiceField(
        label=_("ICD-10 diagnosis"), choices=Diagnosis.choices, widget=forms.RadioSelect
    )

    # Not asked: taken from the date of birth in the CPR number (shown on the page).
    DERIVED = ("age_18_or_over",)

    def __init__(self, *args: Any, derived: dict[str, bool] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.derived = derived or {}
        for criterion in eligibility.CRITERIA:
            if criterion.field in self.derived:
                continue
            self.fields[criterion.field] = forms.ChoiceField(
                label=criterion.question,
                choices=YES_NO,
                widget=forms.RadioSelect,
                error_messages={"required": _("Answer yes or no.")},
            )

    def inclusion_fields(self) -> list[forms.BoundField]:
        return [
            self[c.field]
            for c in eligibility.CRITERIA
            if c.required_answer and c.field in self.fields
        ]

    def exclusion_fields(self) -> list[forms.BoundField]:
        return [
            self[c.field]
            for c in eligibility.CRITERIA
            if not c.required_answer and c.field in self.fields
        ]

    def answers(self) -> dict[str, Any]:
        data = {"diagnosis": self.cleaned_data["diagnosis"]}
        for criterion in eligibility.CRITERIA:
            if criterion.field in self.derived:
                data[criterion.field] = self.derived[criterion.field]
            else:
                data[criterion.field] = self.cleaned_data[criterion.field] == "yes"
        return data


class ConsentForm(forms.Form):
    consent_date = forms.DateField(
        label=_("Date of written informed consent"), widget=_date_widget()
    )
    reason = forms.CharField(
        label=_("Reason for the correction"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Only when you correct a consent date that is already recorded."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["consent_date"].widget = _date_widget()


class StatusForm(forms.Form):
    status = forms.ChoiceField(label=_("What happened"), widget=forms.RadioSelect)
    date = forms.DateField(label=_("Date"), widget=_date_widget())
    reason = forms.CharField(
        label=_("Reason or circumstances"), widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args: Any, statuses: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [(s, Status(s).label) for s in statuses]  # type: ignore[attr-defined]
        self.fields["date"].widget = _date_widget()
        if len(statuses) == 1:
            self.fields["status"].initial = statuses[0]
