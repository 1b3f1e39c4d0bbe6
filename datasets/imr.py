"""IMR delivery: `attendance`, `exposure` and `fidelity`, read through the fidelity app's own
scoped selectors as the statistician who asked. All three exist only for the IMR arm, so their
mere content reveals who is in it: they are built for unblinded exports only (the fidelity
selectors also answer 404 to anyone blinded). A blinded export contains nothing in their place:
masked copies would still show who attended IMR groups, and so who is in IMR. The manifest and
the codebook say so.

- `attendance`: one row per participant randomised to IMR and session of their group whose
  attendance was recorded (held sessions): the session's day relative to the participant's
  randomisation, its module, and whether they were present.
- `exposure`: one row per participant randomised to IMR (intention to treat, including those
  never placed in a group: 0 sessions), from `fidelity.selectors.exposure_rows`: sessions
  attended, days to the first one, the mutually exclusive categories 0 / 1–10 / 11–20 / >20,
  and the paper's per-protocol flag (> 10 sessions) and > 20 flag.
- `fidelity`: one row per group and fidelity timepoint (midway, end) with the consensus
  rating of the IMR Fidelity Scale (items, total, mean, band) and the two independent raters'
  means (for agreement), from `fidelity.selectors.fidelity_rows`."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from fractions import Fraction
from typing import Any

import numpy as np
import pyarrow as pa
from django.db.models.functions import Collate

from datasets.base import (
    DERIVED_DECIMALS,
    Chunk,
    Column,
    Columns,
    Dataset,
    OdmBinding,
    OdmEvent,
    Row,
    redact_cpr,
    round_half_up,
)
from datasets.base import VarType as T
from datasets.context import NO_YES, ExportContext
from datasets.copy import copy_batches, rebatched
from fidelity import permissions
from fidelity.exposure import CATEGORIES
from fidelity.models import (
    Attendance,
    FidelityRating,
    FidelityTimepoint,
    GroupMembership,
    GroupSession,
    ImrGroup,
    SessionStatus,
)
from fidelity.scale import (
    ANCHORS,
    INSTRUMENT_CODE,
    ITEM_CODES,
    ITEM_MAX,
    ITEM_MIN,
    ITEMS,
    Band,
    Module,
)
from fidelity.selectors import exposure_rows, fidelity_rows, sessions_visible_to
from randomization.models import Allocation
from trial.models import Site

IMR_EVENT = OdmEvent("SE.IMR", "IMR group programme", 4)
CHUNK = 5000
WITHHELD_WHY = (
    "Reveals the arm (only participants randomised to IMR attend IMR groups), so it is in "
    "unblinded exports only; a blinded export contains nothing in its place."
)


def module_labels() -> tuple[tuple[int, str], ...]:
    return tuple((number, str(label)) for number, label in Module.choices)


def group_column() -> Column:
    return Column(
        "GROUP_ID",
        "IMR group (number of the group in the EDC)",
        T.INTEGER,
        derivation="The same number in attendance, exposure and fidelity; empty if the "
        "participant was never placed in a group.",
    )


class AttendanceBuilder:
    name = "attendance"
    reveals_allocation = True
    withheld_why = WITHHELD_WHY

    def build(self, context: ExportContext) -> Iterable[Dataset]:
        columns = [
            context.study_id_column(),
            context.site_column(),
            group_column(),
            Column(
                "SESSION_ID",
                "Session (number of the session in the EDC)",
                T.INTEGER,
                key=True,
            ),
            Column(
                "SESSION_NO",
                "Session number within the group (1 = first session held)",
                T.INTEGER,
                minimum=1,
                derivation="Rank of the session's date among the group's held sessions.",
            ),
            context.day_column(
                "SESSION_DAY",
                "Session date, days from the participant's randomisation",
                "Session date − randomisation date (day 0).",
            ),
            Column("MODULE", "IMR module taught", T.INTEGER, value_labels=module_labels()),
            Column("PRESENT", "Attended the session", T.INTEGER, value_labels=NO_YES),
        ]
        yield Dataset(
            name="attendance",
            label="IMR attendance: one row per participant and session",
            description="Participants randomised to IMR × the held sessions of their group, "
            "as recorded by the instructors. Unblinded exports only.",
            columns=columns,
            chunks=lambda: self._chunks(context),
            odm=OdmBinding(
                form_oid="F.ATTENDANCE",
                form_name="IMR session attendance",
                event=IMR_EVENT,
                repeat_column="SESSION_ID",
            ),
            sources=self._sources(),
        )

    def _sources(self) -> tuple:
        return (Attendance, GroupSession, GroupMembership, ImrGroup)

    def _chunks(self, context: ExportContext) -> Iterator[Chunk]:
        permissions.require_role(context.user, permissions.MEMBER_READERS, "see IMR attendance")
        held = sessions_visible_to(context.user).filter(status=SessionStatus.HELD)
        number: dict[int, int] = {}
        counter: Counter[int] = Counter()
        for session_id, group_id in held.order_by("group_id", "date", "id").values_list(
            "id", "group_id"
        ):
            counter[group_id] += 1
            number[session_id] = counter[group_id]
        query = (
            Attendance.objects.filter(session__in=held)
            .order_by(Collate("participant__study_id", "C"), "session__date", "session_id")
            .values_list(
                "participant_id",
                "session__group_id",
                "session_id",
                "session__date",
                "session__module",
                "present",
            )
        ).query
        sql, params = query.sql_with_params()
        # Attendance is the largest dataset after the responses: its rows come as Arrow
        # columns (datasets.copy) and are arranged with array operations.
        people = context.arrays()
        sessions = np.array(sorted(number), dtype=np.int64)
        numbers = np.array([number[session] for session in sessions], dtype=np.int64)
        types = [pa.int64(), pa.int64(), pa.int64(), pa.date32(), pa.int64(), pa.bool_()]
        with copy_batches(sql, params, types) as batches:
            for participant, group, session, day, module, present in rebatched(batches, CHUNK):
                rows = people.rows(participant.to_numpy())
                at = np.searchsorted(sessions, session.to_numpy())
                if len(at) and (at.max() >= len(sessions) or (sessions[at] != session).any()):
                    raise ValueError("Attendance at a session that is not among those held.")
                yield Columns(
                    [
                        people.study_id.take(pa.array(rows)),
                        pa.array(people.site[rows]),
                        group,
                        session,
                        pa.array(numbers[at]),
                        people.days_from_randomization(rows, day),
                        module,
                        present.cast(pa.int64()),
                    ]
                )


def category_labels() -> tuple[tuple[int, str], ...]:
    words = {"0": "0 sessions", "1-10": "1–10 sessions", "11-20": "11–20 sessions"}
    words[">20"] = "more than 20 sessions"
    return tuple((number, words[code]) for number, code in enumerate(CATEGORIES, start=1))


class ExposureBuilder:
    name = "exposure"
    reveals_allocation = True
    withheld_why = WITHHELD_WHY

    def build(self, context: ExportContext) -> Iterable[Dataset]:
        columns = [
            context.study_id_column(),
            context.site_column(),
            group_column(),
            Column(
                "SESSIONS",
                "IMR sessions attended",
                T.INTEGER,
                minimum=0,
                derivation="Held sessions marked present; 0 for those never placed in a group.",
            ),
            context.day_column(
                "FIRST_DAY",
                "Days from randomisation to the first IMR session attended",
                "Date of the first session attended − randomisation date; empty if none.",
            ),
            Column(
                "EXP_CAT",
                "Sessions attended, category",
                T.INTEGER,
                value_labels=category_labels(),
                derivation="0; 1–10; 11–20; more than 20 (mutually exclusive).",
            ),
            Column(
                "PP_GT10",
                "Per-protocol exposure: more than 10 sessions attended",
                T.INTEGER,
                value_labels=((0, "0–10 sessions (not exposed)"), (1, "More than 10 (exposed)")),
                derivation="1 if SESSIONS > 10: the trial's per-protocol definition of exposure.",
            ),
            Column(
                "GT20",
                "More than 20 sessions attended",
                T.INTEGER,
                value_labels=NO_YES,
                derivation="1 if SESSIONS > 20.",
            ),
        ]
        yield Dataset(
            name="exposure",
            label="IMR exposure: one row per participant randomised to IMR",
            description="Everyone randomised to IMR (intention to treat), whatever their later "
            "status, including those never placed in a group (0 sessions). Unblinded exports "
            "only.",
            columns=columns,
            chunks=lambda: self._chunks(context),
            odm=OdmBinding(form_oid="F.EXPOSURE", form_name="IMR exposure", event=IMR_EVENT),
            sources=self._sources(),
        )

    def _sources(self) -> tuple:
        return (Allocation, Attendance, GroupSession, GroupMembership)

    def _chunks(self, context: ExportContext) -> Iterator[Sequence[Row]]:
        categories = {code: number for number, code in enumerate(CATEGORIES, start=1)}
        rows = sorted(exposure_rows(user=context.user), key=lambda row: row.study_id)
        chunk: list[Row] = []
        for row in rows:
            facts = context.participants[row.participant_id]
            chunk.append(
                (
                    facts.study_id,
                    facts.site_number,
                    row.group_id,
                    row.sessions_attended,
                    row.days_to_first_session,
                    categories[row.category],
                    int(row.more_than_10),
                    int(row.more_than_20),
                )
            )
        yield chunk


def band_labels() -> tuple[tuple[int, str], ...]:
    return ((1, str(Band.LOW.label)), (2, str(Band.MODERATE.label)), (3, str(Band.HIGH.label)))


BAND_CODES = {"low": 1, "moderate": 2, "high": 3}


class FidelityBuilder:
    name = "fidelity"
    reveals_allocation = True
    withheld_why = (
        "Describes the IMR groups (whose members are the IMR arm), so it is in unblinded "
        "exports only; a blinded export contains nothing in its place."
    )

    def columns(self, context: ExportContext) -> list[Column]:
        columns = [
            Column("GROUP_ID", "IMR group (number of the group in the EDC)", T.INTEGER, key=True),
            Column("GROUP_NAME", "IMR group name", T.TEXT),
            context.site_column(),
            Column(
                "FID_TP",
                "Fidelity assessment timepoint",
                T.INTEGER,
                value_labels=tuple(
                    (number, str(label))
                    for number, (_, label) in enumerate(FidelityTimepoint.choices, start=1)
                ),
                key=True,
            ),
            Column(
                "MEMBERS",
                "Participants placed in the group",
                T.INTEGER,
                minimum=0,
            ),
            Column(
                "RATED_DAY",
                "Consensus rating, days from the group's start",
                T.INTEGER,
                derivation="Day of the fidelity assessment − the group's start date; empty "
                "without a consensus.",
            ),
        ]
        columns += [
            Column(
                item.code,
                f"Fidelity item {item.number}: {item.label} (consensus)",
                T.INTEGER,
                value_labels=tuple((score, str(text)) for score, text in ANCHORS.items()),
                minimum=ITEM_MIN,
                maximum=ITEM_MAX,
                instrument=INSTRUMENT_CODE,
                source=item.code,
                notes="Higher is better",
            )
            for item in ITEMS
        ]
        columns += [
            Column(
                "FID_TOTAL",
                "Fidelity total (consensus)",
                T.INTEGER,
                minimum=13,
                maximum=65,
                instrument=INSTRUMENT_CODE,
                derivation="Sum of FID_1–FID_13.",
            ),
            Column(
                "FID_MEAN",
                "Programme fidelity: mean item score (consensus)",
                T.DECIMAL,
                minimum=1,
                maximum=5,
                instrument=INSTRUMENT_CODE,
                derivation="Mean of FID_1–FID_13 (FID_TOTAL / 13).",
                notes="Higher is better",
                decimals=DERIVED_DECIMALS,
            ),
            Column(
                "FID_BAND",
                "Fidelity band (consensus)",
                T.INTEGER,
                value_labels=band_labels(),
                instrument=INSTRUMENT_CODE,
                derivation="From FID_TOTAL: high ≥ 52 (mean ≥ 4.0), moderate 39–51, low < 39.",
            ),
            Column(
                "FID_MEAN_R1",
                "Mean item score, rater 1 (independent rating)",
                T.DECIMAL,
                minimum=1,
                maximum=5,
                instrument=INSTRUMENT_CODE,
                derivation="Mean of rater 1's 13 items; for inter-rater agreement.",
                decimals=DERIVED_DECIMALS,
            ),
            Column(
                "FID_MEAN_R2",
                "Mean item score, rater 2 (independent rating)",
                T.DECIMAL,
                minimum=1,
                maximum=5,
                instrument=INSTRUMENT_CODE,
                derivation="Mean of rater 2's 13 items; for inter-rater agreement.",
                decimals=DERIVED_DECIMALS,
            ),
        ]
        return columns

    def build(self, context: ExportContext) -> Iterable[Dataset]:
        yield Dataset(
            name="fidelity",
            label="IMR fidelity: one row per group and fidelity timepoint",
            description="IMR Fidelity Scale ratings of each IMR group: the consensus items "
            "and scores, and the independent raters' means. Analyses use the consensus. "
            "Unblinded exports only.",
            columns=self.columns(context),
            chunks=lambda: self._chunks(context),
            odm=None,  # groups are not subjects: ODM clinical data are per participant
            sources=self._sources(),
        )

    def _sources(self) -> tuple:
        return (FidelityRating, ImrGroup, GroupMembership)

    def _chunks(self, context: ExportContext) -> Iterator[Sequence[Row]]:
        sites = dict(Site.objects.values_list("code", "number"))
        timepoints = {value: n for n, value in enumerate(FidelityTimepoint.values, start=1)}
        ratings: dict[tuple[int, str], dict[str, Any]] = defaultdict(dict)
        groups: dict[int, Any] = {}
        for row in fidelity_rows(user=context.user):
            ratings[(row.group_id, row.timepoint)][row.rater_kind] = row
            groups[row.group_id] = row
        members = Counter(
            GroupMembership.objects.filter(group_id__in=list(groups)).values_list(
                "group_id", flat=True
            )
        )
        chunk: list[Row] = []
        for (group_id, timepoint), kinds in sorted(
            ratings.items(),
            key=lambda pair: (
                sites[groups[pair[0][0]].site],
                groups[pair[0][0]].group_name,
                pair[0][0],
                timepoints[pair[0][1]],
            ),
        ):
            group = groups[group_id]
            name, count = redact_cpr(group.group_name)
            if count:
                context.redactions.append({"dataset": "fidelity", "variable": "GROUP_NAME"})
            consensus = kinds.get("consensus")
            items = [consensus.items[code] for code in ITEM_CODES] if consensus else [None] * 13
            chunk.append(
                (
                    group_id,
                    name,
                    sites[group.site],
                    timepoints[timepoint],
                    members.get(group_id, 0),
                    (consensus.rated_on - group.group_start_date).days if consensus else None,
                    *items,
                    consensus.fid_total if consensus else None,
                    _mean(consensus),
                    BAND_CODES[consensus.fid_band] if consensus and consensus.fid_band else None,
                    _mean(kinds.get("rater1")),
                    _mean(kinds.get("rater2")),
                )
            )
        yield chunk


def _mean(rating: Any) -> float | None:
    """A rating's mean item score, rounded by the one policy (rounding_policy) from the exact
    total: FID_TOTAL / 13 is not a float's worth of noise but 4.3076923076923075 otherwise."""
    if rating is None or rating.fid_mean is None:
        return None
    if rating.fid_total is None:
        return round_half_up(rating.fid_mean, DERIVED_DECIMALS)
    return round_half_up(Fraction(rating.fid_total, len(ITEM_CODES)), DERIVED_DECIMALS)
