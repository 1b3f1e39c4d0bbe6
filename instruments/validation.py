"""Checking a form's content against its instrument: the one place that turns items, missing
reasons and comments into either clean values or one message per bad item. The API and the
pages both call `clean_entry` (through assessments.services)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _

from instruments.base import (
    Action,
    CheckContext,
    Finding,
    Instrument,
    MissingReason,
)

COMMENT_MAX_LENGTH = 2000


class EntryErrors(Exception):
    """Field errors, one list of messages per item (or per request field)."""

    def __init__(self, fields: dict[str, list[str]]) -> None:
        super().__init__("The form has errors.")
        self.fields = fields


@dataclass
class CleanEntry:
    values: dict[str, Any]
    missing: dict[str, str]
    comments: dict[str, str]
    findings: list[Finding] = field(default_factory=list)


def missing_reason_text() -> str:
    return ", ".join(MissingReason.values)


def clean_entry(
    instrument: Instrument,
    *,
    items: Any,
    missing: Any,
    comments: Any,
    complete: bool,
    context: CheckContext,
) -> CleanEntry:
    """Validate everything, collect every problem, and raise EntryErrors with all of them or
    return the clean entry with the automatic queries its edit checks open."""
    errors: dict[str, list[str]] = {}

    def add(key: str, message: str) -> None:
        errors.setdefault(key, []).append(message)

    for name, value in (("items", items), ("missing", missing), ("comments", comments)):
        if value is not None and not isinstance(value, dict):
            add(name, _("%s must be an object of item codes.") % name)
    if errors:
        raise EntryErrors(errors)
    items, missing, comments = items or {}, missing or {}, comments or {}
    derived = instrument.derive(context.participant) if instrument.derive else {}

    values: dict[str, Any] = {}
    for code, raw in items.items():
        if not instrument.has_item(code):
            add(
                code,
                _("%(code)s is not an item of %(instrument)s.")
                % {
                    "code": code,
                    "instrument": instrument.code,
                },
            )
            continue
        item = instrument.item(code)
        if raw is None:
            continue
        if item.derived:
            expected = derived.get(code)
            if expected is not None and raw != expected:
                add(
                    code,
                    _(
                        "%(item)s is derived from the registration (%(expected)s) and is not "
                        "entered; leave it out."
                    )
                    % {"item": item.describe(), "expected": expected},
                )
            continue
        value, message = item.check(raw)
        if message:
            add(code, message)
        else:
            values[code] = value

    reasons: dict[str, str] = {}
    for code, reason in missing.items():
        if not instrument.has_item(code):
            add(
                code,
                _("%(code)s is not an item of %(instrument)s.")
                % {
                    "code": code,
                    "instrument": instrument.code,
                },
            )
            continue
        item = instrument.item(code)
        if item.derived:
            add(code, _("%s is derived from the registration; it cannot be missing.") % code)
            continue
        if reason is None or reason == "":
            continue
        if reason not in MissingReason.values:
            add(
                code,
                _("%(item)s: %(reason)r is not a missing-data reason; use one of %(reasons)s.")
                % {
                    "item": item.describe(),
                    "reason": reason,
                    "reasons": missing_reason_text(),
                },
            )
            continue
        if code in values or (code in items and items[code] is not None and code not in errors):
            add(
                code,
                _("%s: give either a value or a missing-data reason, not both.") % item.describe(),
            )
            continue
        reasons[code] = reason

    notes: dict[str, str] = {}
    for code, text in comments.items():
        if not instrument.has_item(code):
            add(
                code,
                _("%(code)s is not an item of %(instrument)s.")
                % {
                    "code": code,
                    "instrument": instrument.code,
                },
            )
            continue
        if text is None:
            continue
        if not isinstance(text, str) or len(text) > COMMENT_MAX_LENGTH:
            add(
                code,
                _("%(code)s: a comment is text of at most %(n)s characters.")
                % {
                    "code": code,
                    "n": COMMENT_MAX_LENGTH,
                },
            )
            continue
        if text.strip():
            notes[code] = text.strip()

    for item in instrument.entered_items:
        relevant = item.is_relevant(values)
        given = item.code in values or item.code in reasons
        if relevant is False and given:
            add(
                item.code,
                _("%(item)s: not asked here. %(when)s")
                % {
                    "item": item.describe(),
                    "when": item.relevance_text,
                },
            )
            continue
        needs_comment = item.code in values and values[item.code] in item.comment_required_for
        if needs_comment and item.code not in notes:
            add(
                item.code,
                _("%(item)s: “%(option)s” needs a comment that specifies it.")
                % {
                    "item": item.describe(),
                    "option": item.option_label(values[item.code]),
                },
            )
        if complete and relevant is True and not given and item.code not in errors:
            add(
                item.code,
                _("%s: answer the item or give a missing-data reason before completing the form.")
                % item.describe(),
            )

    findings: list[Finding] = []
    if not errors:
        answers = instrument.answers(values, reasons)
        for check in instrument.checks:
            for finding in check(answers, context):
                if finding.action == Action.ERROR or (
                    finding.action == Action.JUSTIFY and not context.justified(finding.item)
                ):
                    add(finding.item, finding.message)
                else:
                    if finding.action == Action.JUSTIFY and finding.item not in notes:
                        # Keep the justification with the value, so later saves carry it.
                        notes[finding.item] = context.justified(finding.item)
                    findings.append(finding)
    if errors:
        raise EntryErrors(errors)
    return CleanEntry(values=values, missing=reasons, comments=notes, findings=findings)
