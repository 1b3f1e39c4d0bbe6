"""The paper's tables from live data: baseline characteristics (Table 2), outcomes (Table 3
layout) and IMR exposure with fidelity per site.

Who sees what:
- baseline: everyone who reads the tables, pooled; per arm only for a statistician who may see
  allocation, after lock (`Scope.arms`);
- outcomes: after lock only, for the statistician: per arm, or masked groups A/B (the export
  masking key) for a blinded analysis;
- exposure and fidelity: users who may see allocation (it is IMR-arm data), after lock.
Statistics: n and mean (SD) with the sample SD (n − 1), or n (%) of those with a value.
Everyone randomised counts (intention to treat), whatever their later status."""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils import formats
from django.utils.translation import gettext as _

from assessments.models import InstrumentResponse, ResponseStatus, Timepoint
from exports.models import MaskingKey
from exports.services import masking_mapping
from fidelity.selectors import exposure as exposure_selectors
from fidelity.selectors import ratings as rating_selectors
from instruments import registry
from participants.models import Participant
from randomization.models import Allocation
from reports.selectors.scope import Scope, timepoint_labels
from trial import access
from trial.errors import Conflict, Forbidden, NotFound
from trial.models import DatasetLock
from trial.roles import Role
from trial.selectors import lock_level

DONE = (ResponseStatus.COMPLETE, ResponseStatus.VERIFIED)
POOLED = "all"

# (instrument, score code, label): the paper's outcome measures. A label of None is the
# instrument's short name and the score's own (translated) name: "PANSS: Positive subscale".
SCORES: tuple[tuple[str, str, str | None], ...] = (
    ("GAF", "GAF_F", "GAF-F"),
    ("GAF", "GAF_S", "GAF-S"),
    ("PSP", "PSP_TOTAL", "PSP"),
    ("PANSS", "PANSS_TOTAL", "PANSS total"),
    ("PANSS", "PANSS_P", None),
    ("PANSS", "PANSS_N", None),
    ("PANSS", "PANSS_G", None),
    ("HAMD6", "HAMD6_TOTAL", "HAM-D6"),
    ("YMRS", "YMRS_TOTAL", "YMRS"),
    ("IMRS_P", "IMRS_P_TOTAL", "IMRS (patient)"),
    ("IMRS_C", "IMRS_C_TOTAL", "IMRS (clinician)"),
    ("MHRM", "MHRM_TOTAL", "MHRM"),
    ("SHS", "SHS_TOTAL", "State Hope"),
    ("CSQ8", "CSQ8_TOTAL", "CSQ-8"),
)
CATEGORIES = ("DX_GROUP", "EDUCATION", "LIVING")


@dataclass(frozen=True)
class PaperTable:
    name: str
    title: str
    groups: tuple[str, ...]  # column headings after the first ("All", or the arms / A, B)
    rows: tuple[tuple[str, ...], ...]  # first cell the row's label
    note: str

    @property
    def headers(self) -> tuple[str, ...]:
        return (_("Characteristic"), *self.groups)


def one_decimal(value: float) -> str:
    """A number rounded to one decimal in the reader's format (decimal comma in Danish).
    Rounded first: number_format would cut a float's further digits off, not round them."""
    return formats.number_format(Decimal(f"{value:.1f}"))


def mean_sd(values: list[float]) -> str:
    if not values:
        return "–"
    if len(values) == 1:
        return f"{one_decimal(values[0])} (–), n = 1"
    mean, sd = statistics.fmean(values), statistics.stdev(values)
    return f"{one_decimal(mean)} ({one_decimal(sd)}), n = {len(values)}"


def n_percent(count: int, total: int) -> str:
    return f"{count} ({100 * count / total:.0f}%)" if total else "0"


def _randomised(scope: Scope) -> list[Participant]:
    return list(
        Participant.objects.filter(site_id__in=scope.site_ids, randomized_at__isnull=False)
        .select_related("site")
        .order_by("site__number", "number")
    )


def _groups(scope: Scope, people: list[Participant], *, masked: bool) -> dict[int, str]:
    """participant id -> its column: POOLED, an arm, or a masked group letter."""
    if not scope.arms:
        return {p.pk: POOLED for p in people}
    arms = dict(
        Allocation.objects.filter(participant__in=people).values_list("participant_id", "arm")
    )
    if not masked:
        return arms
    key = MaskingKey.objects.first()
    if key is None:
        raise NotFound(_("No blinded export has been made yet, so there is no masking key."))
    letters = masking_mapping(key)
    return {pid: letters[arm] for pid, arm in arms.items()}


def _responses(
    people: list[Participant], timepoints: tuple[str, ...]
) -> dict[tuple[int, str, str], InstrumentResponse]:
    found = {}
    for response in InstrumentResponse.objects.filter(
        participant__in=people, timepoint__in=timepoints, status__in=DONE
    ).only("participant_id", "timepoint", "instrument", "items", "scores"):
        found[(response.participant_id, response.timepoint, response.instrument)] = response
    return found


def _columns(groups: dict[int, str]) -> tuple[str, ...]:
    return tuple(sorted(set(groups.values()))) or (POOLED,)


def _score_rows(
    people: list[Participant],
    groups: dict[int, str],
    columns: tuple[str, ...],
    responses: dict[tuple[int, str, str], InstrumentResponse],
    timepoint: str,
    viewer: Any,
) -> list[tuple[str, ...]]:
    rows = []
    for code, score, label in SCORES:
        instrument = registry.get(code)
        if not instrument.blinded_readable and access.is_blinded(viewer):
            continue  # IMRS_C: its values are not for blinded users
        if timepoint not in instrument.timepoints:
            continue
        values: dict[str, list[float]] = defaultdict(list)
        for person in people:
            found = responses.get((person.pk, timepoint, code))
            value = (found.scores or {}).get(score) if found else None
            if value is not None:
                values[groups[person.pk]].append(float(value))
        name = label or f"{instrument.short_name}: {instrument.score(score).label}"
        rows.append((name, *(mean_sd(values[c]) for c in columns)))
    return rows


def baseline(user: Any, scope: Scope) -> PaperTable:
    people = _randomised(scope)
    if access.has_role(user, Role.STATISTICIAN):
        groups = _groups(scope, people, masked=False)
    else:
        groups = {p.pk: POOLED for p in people}
    columns = _columns(groups)
    responses = _responses(people, (Timepoint.BASELINE,))
    per_column: dict[str, list[Participant]] = defaultdict(list)
    for person in people:
        per_column[groups[person.pk]].append(person)
    rows: list[tuple[str, ...]] = [
        (_("Participants randomised"), *(str(len(per_column[c])) for c in columns))
    ]
    for sex, label in (("female", _("Female")), ("male", _("Male"))):
        rows.append(
            (
                _("Sex: %(sex)s, n (%%)") % {"sex": label},
                *(
                    n_percent(sum(1 for p in per_column[c] if p.sex == sex), len(per_column[c]))
                    for c in columns
                ),
            )
        )
    ages: dict[str, list[float]] = defaultdict(list)
    for person in people:
        on = person.randomized_on
        if on is not None:
            born = person.date_of_birth
            ages[groups[person.pk]].append(
                on.year - born.year - ((on.month, on.day) < (born.month, born.day))
            )
    rows.append((_("Age at randomisation, mean (SD)"), *(mean_sd(ages[c]) for c in columns)))
    demog = registry.get("DEMOG")
    for code in CATEGORIES:
        item = next(i for i in demog.items if i.code == code)
        for value in item.allowed_values() or []:
            counts = []
            for column in columns:
                answered = [
                    responses[(p.pk, Timepoint.BASELINE, "DEMOG")].items.get(code)
                    for p in per_column[column]
                    if (p.pk, Timepoint.BASELINE, "DEMOG") in responses
                ]
                answered = [a for a in answered if a is not None]
                counts.append(n_percent(sum(1 for a in answered if a == value), len(answered)))
            rows.append((f"{item.label}: {item.option_label(value)}, n (%)", *counts))
    rows += _score_rows(people, groups, columns, responses, Timepoint.BASELINE, user)
    return PaperTable(
        name="baseline",
        title=_("Baseline characteristics (the paper's Table 2)"),
        groups=tuple(column_label(c) for c in columns),
        rows=tuple(rows),
        note=_(
            "Everyone randomised at your sites; n (%) of those with an answer; mean (SD) with "
            "the sample SD."
        ),
    )


def column_label(column: str) -> str:
    return {POOLED: _("All"), "IMR": _("IMR + TAU"), "TAU": _("TAU")}.get(
        column, _("Group %(letter)s") % {"letter": column}
    )


def outcomes(user: Any, scope: Scope, *, masked: bool = False) -> PaperTable:
    if not access.has_role(user, Role.STATISTICIAN) or not access.may_see_allocation(user):
        raise Forbidden(_("The outcomes table is for the trial statistician."))
    if not scope.arms:
        raise Conflict(_("The outcomes table is available only after the database is locked."))
    people = _randomised(scope)
    groups = _groups(scope, people, masked=masked)
    columns = _columns(groups)
    responses = _responses(people, tuple(Timepoint.values))
    names = timepoint_labels()
    rows: list[tuple[str, ...]] = []
    for timepoint in Timepoint.values:
        for row in _score_rows(people, groups, columns, responses, timepoint, user):
            rows.append((f"{row[0]} — {names[timepoint]}", *row[1:]))
    return PaperTable(
        name="outcomes",
        title=_("Outcomes by timepoint (the paper's Table 3 layout)"),
        groups=tuple(column_label(c) for c in columns),
        rows=tuple(rows),
        note=_(
            "Mean (SD), n: complete and verified forms of everyone randomised (intention to treat)."
        ),
    )


def exposure(user: Any, scope: Scope) -> PaperTable:
    """IMR sessions attended per site and in all (the fidelity app's own ITT figures, which
    exist only after lock) and fidelity per site at midway and end."""
    if not access.may_see_allocation(user):
        raise NotFound(_("Not found."))
    if not scope.arms:
        raise Conflict(_("IMR exposure per site is available only after the database is locked."))
    report = exposure_selectors.exposure_report(user=user)
    codes = {site.code for site in scope.sites}
    summaries = [s for s in report.sites if s.scope in codes]
    if report.overall is not None and len(codes) > 1:
        summaries.append(report.overall)
    rows: list[tuple[str, ...]] = []
    for summary in summaries:
        rows.append(
            (
                _("All sites") if summary.scope == "all" else summary.scope,
                str(summary.participants),
                _fmt(summary.mean_sessions, summary.sd_sessions),
                str(summary.attended_none),
                str(summary.one_to_ten),
                str(summary.more_than_10),
                str(summary.more_than_20),
                _fmt(summary.mean_days_to_first_session, summary.sd_days_to_first_session),
                "",
                "",
            )
        )
    fidelity: dict[tuple[str, str], list[float]] = defaultdict(list)
    for rating in rating_selectors.fidelity_rows(user=user):
        if (
            rating.rater_kind == "consensus"
            and rating.site in codes
            and rating.fid_mean is not None
        ):
            fidelity[(rating.site, rating.timepoint)].append(float(rating.fid_mean))
    for site in scope.sites:
        values = {tp: fidelity.get((site.code, tp), []) for tp in ("midway", "end")}
        if any(values.values()):
            rows.append(
                (
                    _("Fidelity %(site)s") % {"site": site.code},
                    *([""] * 7),
                    mean_sd(values["midway"]),
                    mean_sd(values["end"]),
                )
            )
    return PaperTable(
        name="exposure",
        title=_("IMR exposure and fidelity per site"),
        groups=(
            _("n"),
            _("Sessions, mean (SD)"),
            _("0 sessions"),
            _("1–10"),
            _("> 10"),
            _("> 20"),
            _("Days to first session, mean (SD)"),
            _("Fidelity midway, mean (SD)"),
            _("Fidelity end, mean (SD)"),
        ),
        rows=tuple(rows),
        note=_(
            "Everyone randomised to IMR (intention to treat). Fidelity: mean (SD) of the "
            "groups' consensus means on the IMR Fidelity Scale (1–5)."
        ),
    )


def _fmt(mean: float | None, sd: float | None) -> str:
    if mean is None:
        return "–"
    return f"{one_decimal(mean)} ({one_decimal(sd)})" if sd is not None else one_decimal(mean)


TABLES = ("baseline", "outcomes", "exposure")


def table_titles() -> dict[str, str]:
    return {
        "baseline": _("Baseline characteristics (the paper's Table 2)"),
        "outcomes": _("Outcomes by timepoint (the paper's Table 3 layout)"),
        "exposure": _("IMR exposure and fidelity per site"),
    }


def may_read_table(user: Any, name: str) -> bool:
    """Whether the table list offers the table (the table itself checks again)."""
    if name == "baseline":
        return True
    locked = lock_level() == DatasetLock.Level.LOCK
    if name == "outcomes":
        return (
            locked and access.has_role(user, Role.STATISTICIAN) and access.may_see_allocation(user)
        )
    return locked and access.may_see_allocation(user)
