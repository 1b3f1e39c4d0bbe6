"""The figures of the small trial in tests/exports/trial.py, worked out by hand from its calendar
dates: IMR exposure, the service-use windows (with a death and a period across a boundary), the
blinding guesses and flags, and the wide file against the long one."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pyreadstat
import pytest

from assessments.models import InstrumentResponse
from instruments import metadata, registry
from tests.exports import readback
from tests.exports.locked.conftest import LockedExports

pytestmark = pytest.mark.django_db


def table(built: LockedExports, job: Any, name: str) -> list[dict[str, Any]]:
    return pq.read_table(built.folder(job) / f"{name}.parquet").to_pylist()


def by_participant(built: LockedExports, rows: list[dict[str, Any]]) -> dict[str, Any]:
    keys = {p.study_id: key for key, p in built.trial.randomized.items()}
    result: dict[str, Any] = {}
    for row in rows:
        result.setdefault(keys.get(row["STUDY_ID"], row["STUDY_ID"]), []).append(row)
    return result


def test_exposure_counts_attended_sessions_from_randomization_for_everyone_randomized_to_imr(
    locked_exports: LockedExports,
) -> None:
    rows = by_participant(locked_exports, table(locked_exports, locked_exports.unblinded[0],
                                                "exposure"))  # fmt: skip
    groups = locked_exports.trial.groups
    fields = ("GROUP_ID", "SESSIONS", "FIRST_DAY", "EXP_CAT", "PP_GT10", "GT20")
    found = {key: tuple(r[0][f] for f in fields) for key, r in rows.items()}
    assert found == {
        # 14 sessions from 2023-04-14, missed the 2nd and 5th: 12 (11–20), first 30 days after
        # randomisation on 2023-03-15; per protocol exposed.
        "BAL1": (groups["BAL-A"].pk, 12, 30, 3, 1, 0),
        # Randomised to IMR, never placed in a group: 0 sessions (intention to treat).
        "BAL4": (None, 0, None, 1, 0, 0),
        # FRB-A from 2023-04-20, missed the first: 3 sessions, first on 2023-04-27, 24 days
        # after randomisation on 2023-04-03.
        "FRB1": (groups["FRB-A"].pk, 3, 24, 2, 0, 0),
        "FRB2": (groups["FRB-A"].pk, 0, None, 1, 0, 0),
    }
    attendance = by_participant(
        locked_exports, table(locked_exports, locked_exports.unblinded[0], "attendance")
    )
    bal1 = attendance["BAL1"]
    assert [r["SESSION_NO"] for r in bal1] == list(range(1, 15))  # the cancelled one is not held
    assert [r["SESSION_DAY"] for r in bal1] == [30 + 7 * n for n in range(14)]
    assert [r["PRESENT"] for r in bal1] == [1, 0, 1, 1, 0] + [1] * 9
    assert [r["MODULE"] for r in bal1] == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2, 3]


def test_service_use_windows_count_the_register_periods_inside_them(
    locked_exports: LockedExports,
) -> None:
    rows = by_participant(
        locked_exports, table(locked_exports, locked_exports.blinded[0], "service_use")
    )
    fields = ("WINDOW", "WIN_START", "WIN_END", "WIN_DAYS", "LINKED", "ADM_N", "ADM_DAYS",
              "ER_N", "OPC_N", "DAYS_AT_RISK", "DIED")  # fmt: skip

    def figures(key: str) -> list[tuple[Any, ...]]:
        return [tuple(r[f] for f in fields) for r in rows[key]]

    # Randomised 2023-03-15. W_PRE 2022-03-15–2023-03-14 (365 days), W1 to the T1 due date
    # 2023-12-15 (275 days), W2 to the T2 due date 2024-12-15 (366 days: 2024 is a leap year),
    # W_ALL 641 days. One register period in each of W_PRE, W1, W2.
    assert figures("BAL1") == [
        (1, -365, -1, 365, 1, 1, 10, 1, 2, 365, 0),
        (2, 0, 274, 275, 1, 0, 0, 2, 5, 275, 0),
        (3, 275, 640, 366, 1, 2, 14, 0, 3, 366, 0),
        (4, 0, 640, 641, 1, 2, 14, 2, 8, 641, 0),
    ]
    # Randomised 2023-03-20: the period 2023-12-01–2024-01-15 crosses W1/W2 (2023-12-20), so
    # neither window can be counted; it lies inside W_ALL; nothing in W_PRE is 0, not missing.
    assert figures("BAL2") == [
        (1, -365, -1, 365, 1, 0, 0, 0, 0, 365, 0),
        (2, 0, 274, 275, 3, None, None, None, None, 275, 0),
        (3, 275, 640, 366, 3, None, None, None, None, 366, 0),
        (4, 0, 640, 641, 1, 1, 7, 3, 4, 641, 0),
    ]
    # Randomised 2023-04-10, died 2023-07-19: 101 days at risk in W1 and W_ALL, none in W2.
    assert figures("FRB2") == [
        (1, -365, -1, 365, 1, 0, 0, 0, 0, 365, 0),
        (2, 0, 274, 275, 1, 1, 3, 1, 0, 101, 1),
        (3, 275, 640, 366, 1, 0, 0, 0, 0, 0, 1),
        (4, 0, 640, 641, 1, 1, 3, 1, 0, 101, 1),
    ]
    # Not in the register file: linkage failed, the counts are missing (not 0).
    assert {r["LINKED"] for r in rows["BAL3"]} == {2}
    assert {r["ADM_N"] for r in rows["BAL3"]} == {None}
    assert {r["WIN_OVER"] for key in rows for r in rows[key]} == {1}
    assert "ineligible" not in rows and len(rows) == 6  # randomised only


def test_blinding_guesses_sit_beside_the_arm_and_flag_unblinded_assessors(
    locked_exports: LockedExports,
) -> None:
    rows = by_participant(locked_exports, table(locked_exports, locked_exports.unblinded[0],
                                                "blinding"))  # fmt: skip
    fields = ("TIMEPOINT", "ARM", "GUESS", "GUESS_OK", "GUESS_DAY", "GUESSER_UNBL", "FORMS",
              "FLAGGED", "FLAGGED_FORMS")  # fmt: skip
    found = {key: [tuple(r[f] for f in fields) for r in rs] for key, rs in rows.items()}
    # The BAL assessor reported an unblinding on 2023-11-20: BAL1's post forms (2023-12-10)
    # and follow-up form by them are flagged, the clinician's IMRS_C is not.
    assert found["BAL1"] == [
        (1, 1, 1, 1, 270, 1, 4, 3, "GAF PANSS CSQ8"),
        (2, 1, None, None, None, None, 1, 1, "GAF"),
    ]
    assert found["BAL2"] == [(1, 0, 1, 0, 270, 1, 3, 3, "GAF IMRS_P SHS")]
    assert found["FRB1"] == [
        (1, 1, None, None, None, None, 3, 0, None),
        (2, 1, 9, None, 630, 0, 1, 0, None),
    ]


def test_the_wide_file_holds_each_participants_timepoints_side_by_side(
    locked_exports: LockedExports,
) -> None:
    for job in (locked_exports.blinded[0], locked_exports.unblinded[0]):
        folder = locked_exports.folder(job)
        wide = {r["STUDY_ID"]: r for r in table(locked_exports, job, "responses_wide")}
        participants = [r["STUDY_ID"] for r in table(locked_exports, job, "participants")]
        assert list(wide) == participants
        for study_id, row in wide.items():
            for timepoint, suffix in (("baseline", "T0"), ("post", "T1"), ("followup", "T2")):
                form = InstrumentResponse.objects.filter(
                    participant__study_id=study_id, instrument="GAF", timepoint=timepoint
                ).first()
                if form is None:
                    assert row[f"GAF_F_{suffix}"] is None
                elif "GAF_F" in form.missing:
                    assert row[f"GAF_F_{suffix}"] == metadata.MISSING_CODES[form.missing["GAF_F"]]
                else:
                    assert row[f"GAF_F_{suffix}"] == form.items["GAF_F"]
        bal1 = locked_exports.trial.randomized["BAL1"].study_id
        assert (wide[bal1]["GAF_F_T0"], wide[bal1]["GAF_F_T1"], wide[bal1]["GAF_F_T2"]) == (
            41,
            51,
            57,
        )
        assert wide[bal1]["GAF_DAY_T1"] == 270
        # In Stata the post GAF-F of BAL2 (insufficient information) is .d.
        frame, _ = pyreadstat.read_dta(str(folder / "responses_wide.dta"), user_missing=True)
        bal2 = locked_exports.trial.randomized["BAL2"].study_id
        assert frame.set_index("STUDY_ID").loc[bal2, "GAF_F_T1"] == "d"
        names = [c["variable"] for c in readback.read_codebook(folder / "codebook.csv")
                 if c["dataset"] == "responses_wide"]  # fmt: skip
        assert all(len(name) <= 32 for name in names)
        assert ("IMRS_C_TOTAL_T1" in names) is (not job.blinded)


def test_the_long_files_stack_into_one_table_and_merge_by_participant_and_timepoint(
    locked_exports: LockedExports,
) -> None:
    folder = locked_exports.folder(locked_exports.unblinded[0])
    frames = [
        pd.read_parquet(folder / f"responses_long_{code.lower()}.parquet")
        for code in registry.codes()
        if registry.get(code).form_entry
    ]
    keys = ["STUDY_ID", "SITE", "ARM", "INSTRUMENT", "TIMEPOINT", "ASSESS_DAY", "VERIFIED"]
    variables = [c for frame in frames for c in frame.columns if c not in keys]
    assert len(variables) == len(set(variables)), "a variable name in two instruments"
    stacked = pd.concat(frames, ignore_index=True)
    done = InstrumentResponse.objects.filter(status__in=["complete", "verified"])
    assert len(stacked) == done.count()
    assert not stacked.duplicated(["STUDY_ID", "TIMEPOINT", "INSTRUMENT"]).any()
    merged = None
    for frame in frames:
        part = frame.drop(columns=["INSTRUMENT", "ASSESS_DAY", "VERIFIED", "SITE", "ARM"])
        merged = part if merged is None else merged.merge(part, on=["STUDY_ID", "TIMEPOINT"],
                                                          how="outer")  # fmt: skip
    assert merged is not None
    pairs = set(done.values_list("participant__study_id", "timepoint"))
    assert len(merged) == len(pairs)
