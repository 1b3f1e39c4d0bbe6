"""The browser form of an instrument, generated from its module: one row per item with a value
control limited to the allowed values (a select for up to 12 values, else a number input with
min/max/step), a missing-reason select and, where needed, a comment. What the user typed is
kept exactly as typed when the save is refused."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django import forms
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from assessments.models import InstrumentResponse
from instruments.base import Instrument, Item, MissingReason

SELECT_LIMIT = 12
NUMBER = re.compile(r"^-?\d+([.,]\d+)?$")


@dataclass
class Row:
    item: Item
    value: str = ""
    reason: str = ""
    comment: str = ""
    errors: list[str] = field(default_factory=list)
    relevant: bool | None = True
    derived_value: Any = None
    # The source-data verification mark of this field on the saved version, if any.
    verification: Any = None

    @property
    def name(self) -> str:
        return f"item-{self.item.code}"

    @property
    def reason_name(self) -> str:
        return f"missing-{self.item.code}"

    @property
    def comment_name(self) -> str:
        return f"comment-{self.item.code}"

    @property
    def widget(self) -> str:
        if self.item.derived:
            return "derived"
        if self.item.type == "text":
            return "text"
        values = self.item.allowed_values()
        if values is not None and len(values) <= SELECT_LIMIT:
            return "select"
        return "number"

    @property
    def choices(self) -> list[tuple[str, str]]:
        values = self.item.allowed_values() or []
        if self.item.layout_descending:
            values = list(reversed(values))
        result = []
        for value in values:
            label = self.item.anchor_label(value)
            text = str(value)
            result.append((text, f"{text} – {label}" if label and label != text else text))
        return result

    @property
    def typed_is_listed(self) -> bool:
        return self.value == "" or any(v == self.value for v, _ in self.choices)

    @property
    def reasons(self) -> list[tuple[str, str]]:
        return [(code, str(label)) for code, label in MissingReason.choices]

    @property
    def needs_comment(self) -> bool:
        return bool(self.item.comment_required_for) or self.item.code == "PSP_TOTAL"


@dataclass
class Section:
    title: str
    rows: list[Row]


class EntryMetaForm(forms.Form):
    """The form-level fields; the items are handled by `rows_from_*`."""

    interview_date = forms.DateField(
        label=_("Interview date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    version = forms.IntegerField(label=_("Version"), required=False, widget=forms.HiddenInput)
    reason = forms.CharField(
        label=_("Reason"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )
    status = forms.ChoiceField(
        label=_("Status"), choices=[("draft", "draft"), ("complete", "complete")]
    )


def _display(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def rows_from_response(
    instrument: Instrument, response: InstrumentResponse | None, derived: dict[str, Any]
) -> list[Row]:
    items = response.items if response else {}
    missing = response.missing if response else {}
    comments = response.comments if response else {}
    rows = []
    for item in instrument.items:
        if item.derived and not item.exported:
            continue
        rows.append(
            Row(
                item=item,
                value=_display(items.get(item.code)),
                reason=missing.get(item.code, ""),
                comment=comments.get(item.code, ""),
                relevant=item.is_relevant(items),
                derived_value=derived.get(item.code),
            )
        )
    return rows


def parse_value(item: Item, text: str) -> Any:
    """What the user typed as the API would receive it: a number when it reads as one
    (a Danish decimal comma too), else the text itself, so the instrument's check names the
    item and the allowed values."""
    text = text.strip()
    if text == "":
        return None
    if item.type == "text":
        return text
    if NUMBER.match(text):
        normalised = text.replace(",", ".")
        return float(normalised) if "." in normalised else int(normalised)
    return text


def rows_from_post(
    instrument: Instrument, data: QueryDict, derived: dict[str, Any]
) -> tuple[list[Row], dict[str, Any], dict[str, str], dict[str, str]]:
    """The typed rows plus the items, missing reasons and comments to send to the service.
    Disabled (irrelevant) conditional rows are not posted and so are absent."""
    rows, items, missing, comments = [], {}, {}, {}
    for item in instrument.items:
        if item.derived:
            if item.exported:
                rows.append(Row(item=item, derived_value=derived.get(item.code)))
            continue
        row = Row(
            item=item,
            value=data.get(f"item-{item.code}", ""),
            reason=data.get(f"missing-{item.code}", ""),
            comment=data.get(f"comment-{item.code}", ""),
        )
        value = parse_value(item, row.value)
        if value is not None:
            items[item.code] = value
        if row.reason:
            missing[item.code] = row.reason
        if row.comment.strip():
            comments[item.code] = row.comment
        rows.append(row)
    numbers = {k: v for k, v in items.items() if isinstance(v, int | float)}
    for row in rows:
        row.relevant = row.item.is_relevant(numbers)
    return rows, items, missing, comments


def sections(rows: list[Row]) -> list[Section]:
    grouped: list[Section] = []
    for row in rows:
        title = str(row.item.group)
        if not grouped or grouped[-1].title != title:
            grouped.append(Section(title, []))
        grouped[-1].rows.append(row)
    return grouped


def attach_errors(rows: list[Row], fields: dict[str, list[str]]) -> dict[str, list[str]]:
    """Put each message on its row; return the messages that belong to no row."""
    by_code = {row.item.code: row for row in rows}
    rest: dict[str, list[str]] = {}
    for key, messages in fields.items():
        if key in by_code:
            by_code[key].errors.extend(messages)
        else:
            rest[key] = list(messages)
    return rest


@dataclass(frozen=True)
class Problem:
    """One line of the error summary at the top of a refused form: the message and the id
    of the field it belongs to ("" when it belongs to the form as a whole)."""

    target: str
    label: str
    message: str


# Form-level fields and the ids of their inputs on the page.
META_TARGETS = {"interview_date": "id-interview-date", "reason": "id-reason"}


def error_summary(rows: list[Row], rest: dict[str, list[str]]) -> list[Problem]:
    """Every message of a refused save, in page order: the form-level ones first (interview
    date, reason, the form as a whole), then the items'. Each names the field it links to."""
    problems: list[Problem] = []
    for key, messages in rest.items():
        target = META_TARGETS.get(key, "")
        label = "" if key in ("__all__", "status", "version") else key.replace("_", " ")
        problems.extend(Problem(target, label, message) for message in messages)
    for row in rows:
        target = "" if row.widget == "derived" else f"id-{row.item.code}"
        problems.extend(Problem(target, row.item.code, message) for message in row.errors)
    return problems


def initial_interview_date(response: InstrumentResponse | None, today: date) -> str:
    chosen = response.interview_date if response and response.interview_date else today
    return chosen.isoformat()
