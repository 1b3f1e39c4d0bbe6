from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from exports.models import ExportFormat, ExportLanguage
from trial.models import DatasetLock


class LockChangeForm(forms.Form):
    """One form for every transition; the button pressed says which (`action`)."""

    ACTIONS = (("freeze", "Freeze"), ("lock", "Lock"), ("unlock", "Unlock"))

    action = forms.ChoiceField(label=_("Action"), choices=ACTIONS, widget=forms.HiddenInput)
    reason = forms.CharField(
        label=_("Reason"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Required: it is kept in the log and the audit trail."),
    )
    override_open_queries = forms.BooleanField(
        required=False, label=_("Lock although data queries are still open (say why above)")
    )
    to = forms.ChoiceField(
        required=False,
        choices=[
            (DatasetLock.Level.OPEN, "Open: data entry allowed again"),
            (DatasetLock.Level.FREEZE, "Frozen: only answering queries"),
        ],
        initial=DatasetLock.Level.OPEN,
        widget=forms.RadioSelect,
        label=_("Unlock to"),
    )


class ExportForm(forms.Form):
    formats = forms.MultipleChoiceField(
        label=_("Formats"),
        choices=ExportFormat.choices,
        initial=["csv", "sav", "dta", "parquet", "odm"],
        widget=forms.CheckboxSelectMultiple,
        help_text=_("A codebook (HTML and CSV) and manifest.json come with every export."),
    )
    language = forms.ChoiceField(
        choices=ExportLanguage.choices,
        initial=ExportLanguage.ENGLISH,
        required=False,
        label=_("Language of the labels"),
    )
    unblinded = forms.BooleanField(
        required=False,
        label=_("Unblinded: the randomised arm instead of masked groups (needs a locked database)"),
    )

    def __init__(self, *args: Any, may_unblind: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not may_unblind:
            del self.fields["unblinded"]
