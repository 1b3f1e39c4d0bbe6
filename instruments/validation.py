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


Errors = dict[str, list[str]]


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
    _require_objects(items=items, missing=missing, comments=comments)
    items, missing, comments = items or {}, missing or {}, comments or {}
    errors: Errors = {}
    values = _clean_values(instrument, items, context, errors)
    reasons = _clean_reasons(instrument, missing, items, values, errors)
    notes = _clean_comments(instrument, comments, errors)
    _check_relevance(instrument, values, reasons, notes, complete=complete, errors=errors)
    findings = [] if errors else _run_checks(instrument, values, reasons, notes, context, errors)
    if errors:
        raise EntryErrors(errors)
    return CleanEntry(values=values, missing=reasons, comments=notes, findings=findings)


def _add(errors: Errors, key: str, message: str) -> None:
    errors.setdefault(key, []).append(message)


def _not_an_item(instrument: Instrument, code: str) -> str:
    return _("%(code)s is not an item of %(instrument)s.") % {
        "code": code,
        "instrument": instrument.code,
    }


def _require_objects(**parts: Any) -> None:
    """Items, missing reasons and comments each come as an object keyed by item code."""
    errors: Errors = {}
    for name, value in parts.items():
        if value is not None and not isinstance(value, dict):
            _add(errors, name, _("%s must be an object of item codes.") % name)
    if errors:
        raise EntryErrors(errors)


def _clean_values(
    instrument: Instrument, items: dict[str, Any], context: CheckContext, errors: Errors
) -> dict[str, Any]:
    """The entered items' values, checked against their ranges and options. Derived items are
    not entered: a value that agrees with the derivation is ignored, any other refused."""
    derived = instrument.derive(context.participant) if instrument.derive else {}
    values: dict[str, Any] = {}
    for code, raw in items.items():
        if not instrument.has_item(code):
            _add(errors, code, _not_an_item(instrument, code))
            continue
        item = instrument.item(code)
        if raw is None:
            continue
        if item.derived:
            expected = derived.get(code)
            if expected is not None and raw != expected:
                message = _(
                    "%(item)s is derived from the registration (%(expected)s) and is not "
                    "entered; leave it out."
                ) % {"item": item.describe(), "expected": expected}
                _add(errors, code, message)
            continue
        value, problem = item.check(raw)
        if problem:
            _add(errors, code, problem)
        else:
            values[code] = value
    return values


def _clean_reasons(
    instrument: Instrument,
    missing: dict[str, Any],
    items: dict[str, Any],
    values: dict[str, Any],
    errors: Errors,
) -> dict[str, str]:
    """The missing-data reasons: known items, known reasons, never alongside a value."""
    reasons: dict[str, str] = {}
    for code, reason in missing.items():
        message = _reason_problem(instrument, code, reason, items, values, errors)
        if message:
            _add(errors, code, message)
        elif reason is not None and reason != "":
            reasons[code] = reason
    return reasons


def _reason_problem(
    instrument: Instrument,
    code: str,
    reason: Any,
    items: dict[str, Any],
    values: dict[str, Any],
    errors: Errors,
) -> str | None:
    """What is wrong with this missing-data reason, if anything (an empty one is no reason)."""
    if not instrument.has_item(code):
        return _not_an_item(instrument, code)
    item = instrument.item(code)
    if item.derived:
        return _("%s is derived from the registration; it cannot be missing.") % code
    if reason is None or reason == "":
        return None
    if reason not in MissingReason.values:
        return _("%(item)s: %(reason)r is not a missing-data reason; use one of %(reasons)s.") % {
            "item": item.describe(),
            "reason": reason,
            "reasons": missing_reason_text(),
        }
    if code in values or (code in items and items[code] is not None and code not in errors):
        return _("%s: give either a value or a missing-data reason, not both.") % item.describe()
    return None


def _clean_comments(
    instrument: Instrument, comments: dict[str, Any], errors: Errors
) -> dict[str, str]:
    """The items' comments: text of a bounded length, stripped; blank ones dropped."""
    notes: dict[str, str] = {}
    for code, text in comments.items():
        if not instrument.has_item(code):
            _add(errors, code, _not_an_item(instrument, code))
            continue
        if text is None:
            continue
        if not isinstance(text, str) or len(text) > COMMENT_MAX_LENGTH:
            message = _("%(code)s: a comment is text of at most %(n)s characters.") % {
                "code": code,
                "n": COMMENT_MAX_LENGTH,
            }
            _add(errors, code, message)
            continue
        if text.strip():
            notes[code] = text.strip()
    return notes


def _check_relevance(
    instrument: Instrument,
    values: dict[str, Any],
    reasons: dict[str, str],
    notes: dict[str, str],
    *,
    complete: bool,
    errors: Errors,
) -> None:
    """Items asked only in some cases, options that need a comment, and (on completing the
    form) every relevant item answered or given a reason."""
    for item in instrument.entered_items:
        relevant = item.is_relevant(values)
        given = item.code in values or item.code in reasons
        if relevant is False and given:
            message = _("%(item)s: not asked here. %(when)s") % {
                "item": item.describe(),
                "when": item.relevance_text,
            }
            _add(errors, item.code, message)
            continue
        needs_comment = item.code in values and values[item.code] in item.comment_required_for
        if needs_comment and item.code not in notes:
            message = _("%(item)s: “%(option)s” needs a comment that specifies it.") % {
                "item": item.describe(),
                "option": item.option_label(values[item.code]),
            }
            _add(errors, item.code, message)
        if complete and relevant is True and not given and item.code not in errors:
            _add(
                errors,
                item.code,
                _("%s: answer the item or give a missing-data reason before completing the form.")
                % item.describe(),
            )


def _run_checks(
    instrument: Instrument,
    values: dict[str, Any],
    reasons: dict[str, str],
    notes: dict[str, str],
    context: CheckContext,
    errors: Errors,
) -> list[Finding]:
    """The instrument's edit checks: an error, or a value that needs a justification not
    given, refuses the entry; the rest are findings (automatic queries)."""
    findings: list[Finding] = []
    answers = instrument.answers(values, reasons)
    for check in instrument.checks:
        for finding in check(answers, context):
            if finding.action == Action.ERROR or (
                finding.action == Action.JUSTIFY and not context.justified(finding.item)
            ):
                _add(errors, finding.item, finding.message)
                continue
            if finding.action == Action.JUSTIFY and finding.item not in notes:
                # Keep the justification with the value, so later saves carry it.
                notes[finding.item] = context.justified(finding.item)
            findings.append(finding)
    return findings
