"""Forms of the IMR pages. They only parse what was typed; the services decide the rules and
their field errors are put back on the form, so nothing typed is lost."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib.auth.models import User
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from fidelity import scale
from fidelity.models import MAX_CAPACITY, RaterKind
from fidelity.scale import Module
from trial.errors import TrialError

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def staff_label(user: User) -> str:
    return user.get_full_name() or user.get_username()


class StaffChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return staff_label(obj)


def add_service_errors(form: forms.Form, error: TrialError) -> None:
    """A service's refusal on the form: field errors on their fields, the rest on top."""
    for field, messages in (error.fields or {"__all__": [error.message]}).items():
        for message in messages:
            form.add_error(field if field in form.fields else None, message)


class GroupForm(forms.Form):
    site = forms.ChoiceField(label=_("Site"))
    name = forms.CharField(label=_("Name"), max_length=100)
    start_date = forms.DateField(
        label=_("Start date"), widget=DATE, help_text=_("The day of the first session")
    )
    capacity = forms.IntegerField(
        label=_("Capacity"),
        min_value=1,
        max_value=MAX_CAPACITY,
        initial=10,
        help_text=_("About ten (closed group)"),
    )
    instructors = StaffChoiceField(
        queryset=None,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label=_("Instructors (two or three)"),
        help_text=_(
            "Choose two or three of the site's IMR instructors, or none now and assign them "
            "later; one alone or four are refused."
        ),
    )

    def __init__(self, *args: Any, sites: list[Any], instructors: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["site"]).choices = [(s.code, s.name) for s in sites]
        self.fields["instructors"].queryset = instructors  # type: ignore[attr-defined]


class GroupEditForm(GroupForm):
    enrolment_closed = forms.BooleanField(
        required=False, label=_("Enrolment closed (no new members)")
    )
    reason = forms.CharField(required=False, label=_("Reason for the change (optional)"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        del self.fields["site"]


class MemberAddForm(forms.Form):
    participant = forms.ChoiceField(label=_("Participant randomised to IMR"))

    def __init__(self, *args: Any, candidates: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["participant"]).choices = [("", "—")] + [
            (p.pk, p.study_id) for p in candidates
        ]


class MemberRemoveForm(forms.Form):
    reason = forms.CharField(label=_("Reason"))


class SessionForm(forms.Form):
    date = forms.DateField(label=_("Date"), widget=DATE)
    module = forms.TypedChoiceField(
        label=_("Module"),
        coerce=int,
        choices=[(m.value, format_lazy("{}. {}", m.value, m.label)) for m in Module],
    )


class SessionEditForm(SessionForm):
    instructors_present = StaffChoiceField(
        label=_("Instructors present"),
        queryset=None,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    reason = forms.CharField(required=False, label=_("Reason for the change (optional)"))

    def __init__(self, *args: Any, instructors: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["instructors_present"].queryset = instructors  # type: ignore[attr-defined]


class CancelForm(forms.Form):
    reason = forms.CharField(required=False, label=_("Reason (optional)"))


class ScheduleForm(forms.Form):
    replace = forms.BooleanField(label=_("Replace"), required=False)


ITEM_CHOICES = [(value, str(value)) for value in range(scale.ITEM_MIN, scale.ITEM_MAX + 1)]


class RatingForm(forms.Form):
    """The 13 items as rows of 1–5 radio buttons: arrow keys choose, Tab moves on."""

    rater_kind = forms.ChoiceField(label=_("You rate as"))
    rated_on = forms.DateField(widget=DATE, label=_("Day of the fidelity assessment"))

    def __init__(
        self,
        *args: Any,
        kinds: list[str],
        correcting: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        for item in scale.ITEMS:
            self.fields[item.code] = forms.TypedChoiceField(
                label=_("{number}. {label}").format(number=item.number, label=item.label),
                help_text=item.definition,
                choices=ITEM_CHOICES,
                coerce=int,
                widget=forms.RadioSelect,
                required=False,  # the scale's own check names every missing item at once
            )
        self.fields["notes"] = forms.CharField(
            widget=forms.Textarea(attrs={"rows": 3}), required=False
        )
        if correcting:
            del self.fields["rater_kind"]
            self.fields["reason"] = forms.CharField(label=_("Reason for the correction"))
        else:
            kind_field = cast(forms.ChoiceField, self.fields["rater_kind"])
            kind_field.choices = [(k, RaterKind(k).label) for k in kinds]

    @property
    def item_fields(self) -> list[Any]:
        return [self[item.code] for item in scale.ITEMS]

    def items(self) -> dict[str, Any]:
        return {
            code: self.cleaned_data.get(code)
            for code in scale.ITEM_CODES
            if self.cleaned_data.get(code) not in (None, "")
        }
