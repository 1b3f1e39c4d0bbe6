"""The vocabulary every instrument module uses: items, options, scores, missing-data reasons,
edit checks. An instrument module builds one `Instrument` from these; forms, API validation,
scoring, `GET /api/v1/instruments/` and the export codebook all read that object and nothing
else (DESIGN.md invariant 5).

Values are exact: item values are checked and scores computed with `Decimal`/`Fraction`, and
only the final, rounded result becomes an `int` or `float` for JSON."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction
from functools import cached_property
from typing import Any

from django.db import models
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

Number = int | float
Label = str | Promise


class MissingReason(models.TextChoices):
    """Why an item has no value (SPEC §0.1). Never a number inside the valid range."""

    NOT_ANSWERED = "not_answered", _("not answered")
    REFUSED = "refused", _("refused")
    NOT_ASSESSED = "not_assessed", _("not assessed")
    INSUFFICIENT_INFORMATION = "insufficient_information", _("insufficient information")
    NOT_APPLICABLE = "not_applicable", _("not applicable")


class Mode(models.TextChoices):
    """How the instrument's data come about."""

    INTERVIEW = "interview", _("clinician-rated interview")
    SELF_REPORT = "self_report", _("participant self-report")
    STAFF_RATING = "staff_rating", _("rating by the participant's own clinician")
    RECORD = "record", _("research staff from interview and records")
    REGISTER = "register", _("national register extraction")


class Action(models.TextChoices):
    """What an edit check does when it fires."""

    ERROR = "error", _("refuse the save (400)")
    QUERY = "query", _("save and open an automatic query")
    JUSTIFY = "justify", _("refuse unless a reason is given; then save and open a query")


def to_decimal(value: Any) -> Decimal | None:
    """A JSON number as an exact Decimal; None for anything that is not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return None
    try:
        result = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    except (InvalidOperation, ValueError):
        return None
    return result if result.is_finite() else None


def as_json_number(value: Decimal | Fraction | int, decimals: int = 0) -> Number:
    """Round half up to `decimals` places; integers stay integers in the JSON."""
    if isinstance(value, Fraction):
        exact = Decimal(value.numerator) / Decimal(value.denominator)
    else:
        exact = Decimal(value)
    rounded = exact.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    if rounded == rounded.to_integral_value():
        return int(rounded)
    return float(rounded)


def _fmt(value: Decimal | Number) -> str:
    number = as_json_number(Decimal(str(value)), 2)
    return str(number)


@dataclass(frozen=True)
class Option:
    """A value label: the scored value and what it means."""

    value: Number
    label: Label


@dataclass(frozen=True)
class Item:
    """One question or rating. `min`/`max`/`step` define the allowed numbers; `options` are
    the value labels (for SPSS/Stata labels and for the form's select)."""

    code: str
    label: Label
    type: str = "integer"  # integer | decimal | text | date
    min: Number | None = None
    max: Number | None = None
    step: Number | None = 1
    options: tuple[Option, ...] = ()
    anchors: tuple[Number, ...] = ()
    group: Label = ""
    help_text: Label = ""
    # IMRS item 13: "not applicable" is a structural answer, not missing data.
    na_structural: bool = False
    na_label: Label = ""
    # Conditional items: asked only when `relevant(values)` is true.
    relevant: Callable[[Mapping[str, Any]], bool | None] | None = None
    relevance_text: Label = ""
    # Not entered on the form: comes from the registration (DEMOG SITE, SEX, DOB, AGE).
    derived: bool = False
    derivation: Label = ""
    # Text items: the whole value must match this pattern.
    pattern: str = ""
    pattern_text: Label = ""
    # CSQ-8 items printed with the highest value first (stored value never recoded).
    layout_descending: bool = False
    # Values that need a free-text comment (e.g. "other (specify)").
    comment_required_for: tuple[Number, ...] = ()
    # Whether the item is a variable of the analysis datasets (DOB is not: an identifier).
    exported: bool = True
    unit: str = ""
    # Shown on demand next to the item: what it rates (paraphrased where the original is
    # copyrighted), and a short anchor per value. Anchors describe points of the scale; unlike
    # `options` they do not restrict the allowed values (YMRS half points lie between them).
    definition: Label = ""
    anchor_labels: tuple[Option, ...] = ()

    # -- allowed values ------------------------------------------------------------------
    @property
    def is_numeric(self) -> bool:
        return self.type in ("integer", "decimal")

    def allowed_values(self) -> list[Number] | None:
        """Every allowed value, when the set is finite and small enough to list."""
        if not self.is_numeric:
            return None
        if self.options:
            # A categorical item: exactly the labelled values (e.g. 1–4 and 9 "other").
            return [option.value for option in self.options]
        if self.min is None or self.max is None or not self.step:
            return None
        low, high, step = Decimal(str(self.min)), Decimal(str(self.max)), Decimal(str(self.step))
        count = int((high - low) / step) + 1
        if count > 201:
            return None
        return [as_json_number(low + step * i, 2) for i in range(count)]

    def allowed_text(self) -> str:
        """The allowed values in words, for error messages and help texts."""
        if self.type == "text":
            return str(self.pattern_text or _("text"))
        if self.type == "date":
            return str(_("a date YYYY-MM-DD"))
        values = self.allowed_values()
        if values is not None and len(values) <= 12:
            shown = [_fmt(v) for v in values]
            return ", ".join(shown[:-1]) + " " + str(_("or")) + " " + shown[-1]
        low = _fmt(self.min) if self.min is not None else None
        high = _fmt(self.max) if self.max is not None else None
        step = Decimal(str(self.step or 1))
        kind = str(_("whole numbers")) if step == 1 else str(_("steps of %s")) % _fmt(step)
        if high is None:
            return str(_("%(kind)s from %(low)s upwards")) % {"kind": kind, "low": low}
        return str(_("%(kind)s from %(low)s to %(high)s")) % {
            "kind": kind,
            "low": low,
            "high": high,
        }

    def describe(self) -> str:
        return f"{self.code} ({self.label})"

    @cached_property
    def _option_values(self) -> frozenset[Decimal]:
        return frozenset(Decimal(str(option.value)) for option in self.options)

    def check(self, value: Any) -> tuple[Any, str | None]:
        """(the value as stored, None) or (None, an error message naming the item and the
        allowed values)."""
        if self.type == "text":
            if not isinstance(value, str) or not value.strip():
                return None, str(_("%(item)s: enter text; allowed: %(allowed)s.")) % {
                    "item": self.describe(),
                    "allowed": self.allowed_text(),
                }
            text = value.strip()
            if self.pattern and not re.fullmatch(self.pattern, text):
                return None, str(_("%(item)s: %(value)r is not allowed; allowed: %(allowed)s.")) % {
                    "item": self.describe(),
                    "value": text,
                    "allowed": self.allowed_text(),
                }
            return text, None
        if self.type == "date":
            try:
                parsed = date.fromisoformat(value) if isinstance(value, str) else None
            except ValueError:
                parsed = None
            if parsed is None:
                return None, str(_("%(item)s: %(value)r is not a date (YYYY-MM-DD).")) % {
                    "item": self.describe(),
                    "value": value,
                }
            return parsed.isoformat(), None
        number = to_decimal(value)
        if number is None or not self._in_range(number):
            return None, str(
                _("%(item)s: %(value)s is not allowed; allowed values are %(allowed)s.")
            ) % {
                "item": self.describe(),
                "value": value if not isinstance(value, str) else repr(value),
                "allowed": self.allowed_text(),
            }
        return as_json_number(number, 2), None

    def _in_range(self, number: Decimal) -> bool:
        if self.min is not None and number < Decimal(str(self.min)):
            return False
        if self.max is not None and number > Decimal(str(self.max)):
            return False
        if self.options and number not in self._option_values:
            return False
        if self.step:
            base = Decimal(str(self.min if self.min is not None else 0))
            if (number - base) % Decimal(str(self.step)) != 0:
                return False
        return True

    def option_label(self, value: Any) -> str:
        for option in self.options:
            if option.value == value:
                return str(option.label)
        return ""

    def anchor_label(self, value: Any) -> str:
        """The item's own anchor of this value, else its value label, else ""."""
        for option in self.anchor_labels:
            if option.value == value:
                return str(option.label)
        return self.option_label(value)

    @property
    def scale_anchors(self) -> tuple[Option, ...]:
        """Every value with a meaning, for the definition shown on demand."""
        return self.anchor_labels or self.options

    def is_relevant(self, values: Mapping[str, Any]) -> bool | None:
        """True/False, or None when the items it depends on are not answered yet."""
        if self.relevant is None:
            return True
        return self.relevant(values)


@dataclass(frozen=True)
class Answers:
    """A form's content as the scoring and the checks see it."""

    values: Mapping[str, Any]
    missing: Mapping[str, str]
    structural_na: frozenset[str] = frozenset()

    def answered(self, codes: Iterable[str]) -> list[Any]:
        return [self.values[c] for c in codes if c in self.values]

    def missing_count(self, codes: Iterable[str]) -> int:
        """Items without a value, leaving out structural "not applicable" answers."""
        return sum(1 for c in codes if c not in self.values and c not in self.structural_na)


ScoreFunction = Callable[[Answers], Number | None]


@dataclass(frozen=True)
class Score:
    """A derived variable. `derivation` is the rule in words for the codebook; `compute` is
    the rule in code. `sensitivity` marks prorated `_PRO` variables."""

    code: str
    label: Label
    items: tuple[str, ...]
    method: str  # sum | mean | min | entered | table | prorated | indicator
    min: Number | None
    max: Number | None
    higher_is: str  # better | worse | n/a
    derivation: Label
    compute: ScoreFunction
    sensitivity: bool = False
    decimals: int = 0
    options: tuple[Option, ...] = ()

    @property
    def type(self) -> str:
        return "integer" if self.decimals == 0 else "decimal"


@dataclass(frozen=True)
class CheckContext:
    """What an edit check may look at besides the items."""

    participant: Any
    timepoint: str
    interview_date: date | None
    randomized_on: date | None
    justifications: Mapping[str, str] = field(default_factory=dict)  # item comments
    reason: str = ""  # the reason given for the save as a whole

    def justified(self, item: str) -> str:
        """The rater's reason for an unusual value: the item's comment, else the reason."""
        return (self.justifications.get(item) or self.reason or "").strip()


@dataclass(frozen=True)
class Finding:
    """One edit check that fired: refuse, or open an automatic query on `item`."""

    item: str
    check: str
    message: str
    action: str = Action.QUERY


CheckFunction = Callable[[Answers, CheckContext], Iterable[Finding]]


@dataclass(frozen=True)
class Instrument:
    code: str
    name: Label
    short_name: Label
    mode: str
    rater: str  # the role that enters it (API: "rater")
    entered_by: tuple[str, ...]  # every role that may enter it
    timepoints: tuple[str, ...]
    items: tuple[Item, ...]
    scores: tuple[Score, ...]
    missing_rule: Label
    rater_description: Label = ""
    reference_period: Label = ""
    notes: tuple[Label, ...] = ()
    checks: tuple[CheckFunction, ...] = ()
    # False for a form whose content could reveal the arm to a blinded reader (IMRS_C).
    blinded_readable: bool = True
    # Register data is imported, never typed into a form.
    form_entry: bool = True
    windows: tuple[str, ...] = ()
    # Values of the derived items for one participant (DEMOG: SITE, SEX, DOB, AGE).
    derive: Callable[[Any], dict[str, Any]] | None = None

    # -- look-ups --------------------------------------------------------------------------
    @cached_property
    def _items_by_code(self) -> dict[str, Item]:
        return {item.code: item for item in self.items}

    def item(self, code: str) -> Item:
        return self._items_by_code[code]

    def has_item(self, code: str) -> bool:
        return code in self._items_by_code

    @property
    def entered_items(self) -> tuple[Item, ...]:
        return tuple(item for item in self.items if not item.derived)

    def score(self, code: str) -> Score:
        for score in self.scores:
            if score.code == code:
                return score
        raise KeyError(code)

    # -- scoring ---------------------------------------------------------------------------
    def answers(self, values: Mapping[str, Any], missing: Mapping[str, str]) -> Answers:
        structural = frozenset(
            code
            for code, reason in missing.items()
            if reason == MissingReason.NOT_APPLICABLE
            and self.has_item(code)
            and self.item(code).na_structural
        )
        return Answers(values=dict(values), missing=dict(missing), structural_na=structural)

    def compute_scores(
        self, values: Mapping[str, Any], missing: Mapping[str, str]
    ) -> dict[str, Number | None]:
        """Every score of the instrument; None where the missing-data rule says missing."""
        answers = self.answers(values, missing)
        return {score.code: score.compute(answers) for score in self.scores}


# -- scoring building blocks -----------------------------------------------------------------
def _exact(values: Iterable[Any]) -> list[Fraction]:
    return [Fraction(str(v)) for v in values]


def sum_of(codes: Iterable[str], *, decimals: int = 0) -> ScoreFunction:
    """The sum when every item has a value, else missing (the primary rule of every scale)."""
    codes = tuple(codes)

    def compute(answers: Answers) -> Number | None:
        if any(c not in answers.values for c in codes):
            return None
        rated = answers.answered(codes)
        if all(type(v) is int for v in rated):
            return sum(rated)  # exact already: the common case
        return as_json_number(sum(_exact(rated), Fraction(0)), decimals)

    return compute


def mean_of(codes: Iterable[str], *, decimals: int = 2) -> ScoreFunction:
    """The mean over the applicable items when every applicable item has a value."""
    codes = tuple(codes)

    def compute(answers: Answers) -> Number | None:
        if answers.missing_count(codes):
            return None
        rated = _exact(answers.answered(codes))
        if not rated:
            return None
        return as_json_number(sum(rated, Fraction(0)) / len(rated), decimals)

    return compute


def prorated(
    codes: Iterable[str], *, max_missing: int, scale_to: int | None = None, decimals: int = 2
) -> ScoreFunction:
    """Mean of the rated items × number of items, when at most `max_missing` are missing."""
    codes = tuple(codes)
    n = scale_to or len(codes)

    def compute(answers: Answers) -> Number | None:
        rated = _exact(answers.answered(codes))
        if not rated or len(codes) - len(rated) > max_missing:
            return None
        return as_json_number(sum(rated, Fraction(0)) / len(rated) * n, decimals)

    return compute


def entered(code: str) -> ScoreFunction:
    """A clinical judgement that is its own score (GAF-S, GAF-F, the PSP total)."""

    def compute(answers: Answers) -> Number | None:
        value = answers.values.get(code)
        return value if value is not None else None

    return compute


def levels(labels: Iterable[tuple[Number, Label]]) -> tuple[Option, ...]:
    return tuple(Option(value, label) for value, label in labels)


def numbered(codes_and_labels: Iterable[tuple[str, Label]], **common: Any) -> tuple[Item, ...]:
    """Items that share their type, range and options."""
    return tuple(Item(code=code, label=label, **common) for code, label in codes_and_labels)


# Timepoint codes (assessments.models.Timepoint; T0/T1/T2 in SPEC.md). Kept as plain strings so
# instrument modules stay free of model imports.
BASELINE = "baseline"
POST = "post"
FOLLOWUP = "followup"
ALL_TIMEPOINTS = (BASELINE, POST, FOLLOWUP)


def with_guidance(
    items: Iterable[Item], guidance: Mapping[str, tuple[Label, Mapping[Any, Label]]]
) -> tuple[Item, ...]:
    """The items with their definitions and anchors from a module's GUIDANCE table
    ({code: (definition, {value: anchor})}); items not in it are unchanged."""
    result = []
    for item in items:
        if item.code not in guidance:
            result.append(item)
            continue
        definition, anchors = guidance[item.code]
        result.append(
            replace(
                item,
                definition=definition,
                anchor_labels=tuple(Option(value, label) for value, label in anchors.items()),
            )
        )
    return tuple(result)
