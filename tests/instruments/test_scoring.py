"""Scores against hand-worked examples and, for any valid input, against the spec's formulas
written out again here, independently of the instrument modules (SPEC §1–§9)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from instruments import registry
from instruments.psp import decile

MISSING = "refused"


def scores(code: str, values: dict[str, Any], missing: dict[str, str] | None = None) -> dict:
    return registry.get(code).compute_scores(values, missing or {})


def close(actual: float | None, expected: float | None, places: int) -> bool:
    if expected is None or actual is None:
        return actual is expected
    return abs(actual - expected) <= 0.5 * 10**-places + 1e-9


# -- hand-worked examples ----------------------------------------------------------------------
def test_panss_subscales_and_total_of_a_hand_worked_form() -> None:
    values = {f"P{i}": v for i, v in enumerate([4, 3, 5, 1, 2, 3, 1], start=1)}  # 19
    values |= {f"N{i}": v for i, v in enumerate([2, 2, 3, 4, 1, 2, 1], start=1)}  # 15
    values |= {f"G{i}": 2 for i in range(1, 17)} | {"G6": 5, "G12": 6}  # 14*2 + 5 + 6 = 39
    result = scores("PANSS", values)
    assert (result["PANSS_P"], result["PANSS_N"], result["PANSS_G"]) == (19, 15, 39)
    assert result["PANSS_TOTAL"] == 73
    assert result["PANSS_TOTAL_PRO"] == 73


def test_panss_prorates_one_missing_positive_item_and_leaves_the_primary_score_missing() -> None:
    values = {f"P{i}": 3 for i in range(1, 7)} | {f"N{i}": 2 for i in range(1, 8)}
    values |= {f"G{i}": 1 for i in range(1, 17)}
    result = scores("PANSS", values, {"P7": MISSING})
    assert result["PANSS_P"] is None and result["PANSS_TOTAL"] is None
    assert result["PANSS_P_PRO"] == 21  # mean 3 × 7
    assert result["PANSS_N"] == 14 and result["PANSS_G"] == 16
    # 18 + 14 + 16 = 48 over 29 items × 30 = 49.655… → 49.66
    assert result["PANSS_TOTAL_PRO"] == 49.66


def test_panss_gives_no_prorated_total_with_two_positive_items_missing() -> None:
    values = {f"P{i}": 3 for i in range(1, 6)} | {f"N{i}": 2 for i in range(1, 8)}
    values |= {f"G{i}": 1 for i in range(1, 17)}
    result = scores("PANSS", values, {"P6": MISSING, "P7": MISSING})
    assert result["PANSS_P_PRO"] is None and result["PANSS_TOTAL_PRO"] is None
    assert result["PANSS_N_PRO"] == 14


def test_hamd6_total_of_a_hand_worked_form() -> None:
    values = {"HAMD6_1": 2, "HAMD6_2": 1, "HAMD6_3": 3, "HAMD6_4": 0, "HAMD6_5": 2, "HAMD6_6": 2}
    assert scores("HAMD6", values)["HAMD6_TOTAL"] == 10
    del values["HAMD6_6"]
    assert scores("HAMD6", values, {"HAMD6_6": MISSING})["HAMD6_TOTAL"] is None


def test_ymrs_total_keeps_half_points() -> None:
    values = {
        "YMRS_1": 1.5,
        "YMRS_2": 2,
        "YMRS_3": 0,
        "YMRS_4": 0.5,
        "YMRS_5": 3,
        "YMRS_6": 4,
        "YMRS_7": 1,
        "YMRS_8": 2,
        "YMRS_9": 0,
        "YMRS_10": 0,
        "YMRS_11": 2.5,
    }
    assert scores("YMRS", values)["YMRS_TOTAL"] == 16.5


def test_gaf_min_is_the_lower_of_the_two_ratings() -> None:
    result = scores("GAF", {"GAF_S": 45, "GAF_F": 52})
    assert result == {"GAF_S": 45, "GAF_F": 52, "GAF_MIN": 45}
    assert scores("GAF", {"GAF_F": 52}, {"GAF_S": "insufficient_information"})["GAF_MIN"] is None


def test_imrs_scores_of_a_hand_worked_form() -> None:
    values = {
        f"IMRS_P_{n}": v for n, v in enumerate([3, 4, 2, 3, 1, 3, 3, 4, 5, 5, 3, 2, 4, 5, 5], 1)
    }
    result = scores("IMRS_P", values)
    assert result["IMRS_P_TOTAL"] == 52
    assert result["IMRS_P_MEAN"] == 3.467  # 52 / 15
    assert result["IMRS_P_TOTAL_PRO"] == 52
    assert result["IMRS_P_MED_NA"] == 0


def test_imrs_item_13_not_applicable_is_structural_not_missing() -> None:
    values = {f"IMRS_C_{n}": 4 for n in range(1, 16) if n != 13} | {"IMRS_C_1": 2}
    result = scores("IMRS_C", values, {"IMRS_C_13": "not_applicable"})
    assert result["IMRS_C_TOTAL"] is None  # the sum needs all 15 answered
    assert result["IMRS_C_MEAN"] == 3.857  # 54 / 14
    assert result["IMRS_C_TOTAL_PRO"] == 57.86  # 54 / 14 × 15
    assert result["IMRS_C_MED_NA"] == 1
    refused = scores("IMRS_C", values, {"IMRS_C_13": "refused"})
    assert refused["IMRS_C_MEAN"] is None and refused["IMRS_C_TOTAL_PRO"] is None
    assert refused["IMRS_C_MEAN_PRO"] == 3.857


def test_mhrm_subscales_of_a_hand_worked_form() -> None:
    answers = [
        4,
        3,
        2,
        1,
        0,
        1,
        2,
        3,
        4,
        4,
        4,
        4,
        1,
        1,
        1,
        1,
        2,
        2,
        2,
        2,
        3,
        3,
        3,
        3,
        0,
        0,
        2,
        3,
        1,
        0,
    ]
    values = {f"MHRM_{n}": v for n, v in enumerate(answers, start=1)}
    result = scores("MHRM", values)
    assert result["MHRM_TOTAL"] == 62
    assert result["MHRM_STUCK"] == 10
    assert result["MHRM_EMPOW"] == 6
    assert result["MHRM_LEARN"] == 16
    assert result["MHRM_BASIC"] == 4
    assert result["MHRM_WELLB"] == 8
    assert result["MHRM_NEWPOT"] == 12
    assert result["MHRM_SPIRIT"] == 0
    assert result["MHRM_ADVOC"] == 6


def test_mhrm_prorates_up_to_three_missing_items_only() -> None:
    values = {f"MHRM_{n}": 2 for n in range(4, 31)}
    three = {f"MHRM_{n}": MISSING for n in (1, 2, 3)}
    assert scores("MHRM", values, three)["MHRM_TOTAL_PRO"] == 60
    assert scores("MHRM", values, three)["MHRM_STUCK"] is None
    fewer = {k: v for k, v in values.items() if k != "MHRM_4"}
    assert scores("MHRM", fewer, three | {"MHRM_4": MISSING})["MHRM_TOTAL_PRO"] is None


def test_state_hope_agency_and_pathways_of_a_hand_worked_form() -> None:
    values = {"SHS_1": 7, "SHS_2": 4, "SHS_3": 6, "SHS_4": 3, "SHS_5": 8, "SHS_6": 5}
    assert scores("SHS", values) == {"SHS_TOTAL": 33, "SHS_AGENCY": 12, "SHS_PATHWAYS": 21}


def test_csq8_total_and_prorated_total_with_one_item_missing() -> None:
    values = {f"CSQ8_{n}": v for n, v in enumerate([4, 3, 3, 4, 2, 3, 4, 4], start=1)}
    assert scores("CSQ8", values) == {"CSQ8_TOTAL": 27, "CSQ8_TOTAL_PRO": 27}
    del values["CSQ8_5"]
    result = scores("CSQ8", values, {"CSQ8_5": MISSING})
    assert result["CSQ8_TOTAL"] is None
    assert result["CSQ8_TOTAL_PRO"] == 28.57  # 25 / 7 × 8


@pytest.mark.parametrize(
    ("profile", "low"),
    [
        ((6, 1, 1, 1), 1),
        ((5, 5, 5, 5), 11),
        ((1, 1, 1, 6), 11),
        ((5, 5, 5, 1), 21),  # a=b=c severe but d not: 21–30 (the a–d reading)
        ((5, 5, 1, 1), 21),
        ((1, 1, 1, 5), 21),
        ((5, 4, 1, 1), 31),
        ((1, 1, 1, 4), 31),
        ((4, 4, 1, 3), 41),
        ((5, 1, 1, 1), 41),
        ((4, 1, 1, 1), 51),
        ((1, 1, 1, 3), 51),
        ((3, 2, 1, 1), 61),
        ((1, 1, 1, 2), 61),
        ((2, 1, 2, 1), 71),
        ((1, 1, 1, 1), 81),
    ],
)
def test_psp_interval_of_hand_worked_profiles(profile: tuple[int, ...], low: int) -> None:
    assert decile(*profile) == low
    values = dict(zip(("PSP_A", "PSP_B", "PSP_C", "PSP_D"), profile, strict=True))
    assert scores("PSP", values | {"PSP_TOTAL": 50})["PSP_DECILE"] == low


def test_every_psp_domain_profile_has_one_band_and_worsening_never_raises_it() -> None:
    import itertools

    for profile in itertools.product(range(1, 7), repeat=4):
        band = decile(*profile)
        assert band in (1, 11, 21, 31, 41, 51, 61, 71, 81)
        for position in range(4):
            if profile[position] < 6:
                worse = list(profile)
                worse[position] += 1
                assert decile(*worse) <= band, (profile, worse)


@pytest.mark.parametrize(
    ("code", "lowest", "highest"),
    [
        ("PANSS_TOTAL", 30, 210),
        ("HAMD6_TOTAL", 0, 22),
        ("YMRS_TOTAL", 0, 60),
        ("IMRS_P_TOTAL", 15, 75),
        ("IMRS_C_TOTAL", 15, 75),
        ("MHRM_TOTAL", 0, 120),
        ("SHS_TOTAL", 6, 48),
        ("CSQ8_TOTAL", 8, 32),
        ("GAF_MIN", 1, 100),
        ("PSP_TOTAL", 1, 100),
    ],
)
def test_totals_reach_the_spec_minimum_and_maximum(code: str, lowest: int, highest: int) -> None:
    from tests.assessments.helpers import extreme_items

    instrument = next(i for i in registry.all() if any(s.code == code for s in i.scores))
    assert instrument.compute_scores(extreme_items(instrument.code, "min"), {})[code] == lowest
    assert instrument.compute_scores(extreme_items(instrument.code, "max"), {})[code] == highest
    score = instrument.score(code)
    assert (score.min, score.max) == (lowest, highest)


# -- property-based: any valid input gives the spec's formulas -----------------------------------
def form(code: str) -> st.SearchStrategy[tuple[dict, dict]]:
    """Any valid form of the instrument: each item a valid value or a missing reason."""
    instrument = registry.get(code)

    @st.composite
    def build(draw: Any) -> tuple[dict, dict]:
        values, missing = {}, {}
        for item in instrument.entered_items:
            if draw(st.integers(0, 9)) == 0:
                missing[item.code] = draw(
                    st.sampled_from(["refused", "not_answered", "not_assessed"])
                    if not item.na_structural
                    else st.sampled_from(["refused", "not_applicable"])
                )
            else:
                values[item.code] = draw(st.sampled_from(item.allowed_values() or []))
        return values, missing

    return build()


def total(values: dict, codes: list[str]) -> float | None:
    return sum(values[c] for c in codes) if all(c in values for c in codes) else None


@settings(max_examples=300, deadline=None)
@given(form("PANSS"))
def test_panss_scores_follow_the_spec_for_any_form(entry: tuple[dict, dict]) -> None:
    values, missing = entry
    result = scores("PANSS", values, missing)
    groups = {
        "P": [f"P{i}" for i in range(1, 8)],
        "N": [f"N{i}" for i in range(1, 8)],
        "G": [f"G{i}" for i in range(1, 17)],
    }
    limit = {"P": 1, "N": 1, "G": 2}
    for name, codes in groups.items():
        assert result[f"PANSS_{name}"] == total(values, codes)
        rated = [values[c] for c in codes if c in values]
        lacking = len(codes) - len(rated)
        expected = (
            sum(rated) / len(rated) * len(codes) if rated and lacking <= limit[name] else None
        )
        assert close(result[f"PANSS_{name}_PRO"], expected, 2)
    everything = [c for codes in groups.values() for c in codes]
    assert result["PANSS_TOTAL"] == total(values, everything)
    lacking_by = {name: sum(1 for c in codes if c not in values) for name, codes in groups.items()}
    allowed = all(lacking_by[n] <= limit[n] for n in groups) and sum(lacking_by.values()) <= 3
    rated = [values[c] for c in everything if c in values]
    assert close(result["PANSS_TOTAL_PRO"], sum(rated) / len(rated) * 30 if allowed else None, 2)


@settings(max_examples=200, deadline=None)
@given(form("HAMD6"), form("YMRS"), form("GAF"))
def test_interview_totals_follow_the_spec_for_any_form(
    hamd: tuple, ymrs: tuple, gaf: tuple
) -> None:
    assert scores("HAMD6", *hamd)["HAMD6_TOTAL"] == total(
        hamd[0], [f"HAMD6_{n}" for n in range(1, 7)]
    )
    expected = total(ymrs[0], [f"YMRS_{n}" for n in range(1, 12)])
    assert close(scores("YMRS", *ymrs)["YMRS_TOTAL"], expected, 1)
    s, f = gaf[0].get("GAF_S"), gaf[0].get("GAF_F")
    assert scores("GAF", *gaf)["GAF_MIN"] == (
        min(s, f) if s is not None and f is not None else None
    )


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["IMRS_P", "IMRS_C"]).flatmap(lambda code: st.tuples(st.just(code), form(code)))
)
def test_imrs_scores_follow_the_spec_for_any_form(drawn: tuple) -> None:
    code, (values, missing) = drawn
    result = scores(code, values, missing)
    items = [f"{code}_{n}" for n in range(1, 16)]
    med = f"{code}_13"
    na = missing.get(med) == "not_applicable"
    applicable = [c for c in items if not (c == med and na)]
    rated = [values[c] for c in applicable if c in values]
    lacking = len(applicable) - len(rated)
    assert result[f"{code}_TOTAL"] == total(values, items)
    assert close(result[f"{code}_MEAN"], sum(rated) / len(rated) if lacking == 0 else None, 3)
    if lacking == 0 and not na:
        expected_pro = float(sum(rated))
    elif lacking == 0 and na:
        expected_pro = sum(rated) / 14 * 15
    else:
        expected_pro = None
    assert close(result[f"{code}_TOTAL_PRO"], expected_pro, 2)
    assert close(
        result[f"{code}_MEAN_PRO"], sum(rated) / len(rated) if lacking <= 1 and rated else None, 3
    )
    assert result[f"{code}_MED_NA"] == (1 if na else 0 if med in values else None)


@settings(max_examples=300, deadline=None)
@given(form("MHRM"))
def test_mhrm_scores_follow_the_spec_for_any_form(entry: tuple[dict, dict]) -> None:
    values, missing = entry
    result = scores("MHRM", values, missing)
    blocks = {
        "STUCK": range(1, 5),
        "EMPOW": range(5, 9),
        "LEARN": range(9, 13),
        "BASIC": range(13, 17),
        "WELLB": range(17, 21),
        "NEWPOT": range(21, 25),
        "SPIRIT": range(25, 27),
        "ADVOC": range(27, 31),
    }
    for name, numbers in blocks.items():
        assert result[f"MHRM_{name}"] == total(values, [f"MHRM_{n}" for n in numbers])
    items = [f"MHRM_{n}" for n in range(1, 31)]
    assert result["MHRM_TOTAL"] == total(values, items)
    rated = [values[c] for c in items if c in values]
    expected = sum(rated) / len(rated) * 30 if rated and 30 - len(rated) <= 3 else None
    assert close(result["MHRM_TOTAL_PRO"], expected, 2)


@settings(max_examples=200, deadline=None)
@given(form("SHS"), form("CSQ8"))
def test_hope_and_satisfaction_scores_follow_the_spec_for_any_form(shs: tuple, csq: tuple) -> None:
    result = scores("SHS", *shs)
    assert result["SHS_TOTAL"] == total(shs[0], [f"SHS_{n}" for n in range(1, 7)])
    assert result["SHS_AGENCY"] == total(shs[0], ["SHS_2", "SHS_4", "SHS_6"])
    assert result["SHS_PATHWAYS"] == total(shs[0], ["SHS_1", "SHS_3", "SHS_5"])
    values = csq[0]
    items = [f"CSQ8_{n}" for n in range(1, 9)]
    result = scores("CSQ8", *csq)
    assert result["CSQ8_TOTAL"] == total(values, items)
    rated = [values[c] for c in items if c in values]
    expected = sum(rated) / len(rated) * 8 if len(rated) >= 7 else None
    assert close(result["CSQ8_TOTAL_PRO"], expected, 2)


BANDS = [
    (lambda a, b, c, d: 6 in (a, b, c), 1),
    (lambda a, b, c, d: (a, b, c, d) == (5, 5, 5, 5) or d == 6, 11),
    (lambda a, b, c, d: [a, b, c].count(5) >= 2 or d == 5, 21),
    (lambda a, b, c, d: ([a, b, c].count(5) == 1 and 4 in (a, b, c)) or d == 4, 31),
    (lambda a, b, c, d: [a, b, c].count(4) >= 2 or 5 in (a, b, c), 41),
    (lambda a, b, c, d: 4 in (a, b, c) or d == 3, 51),
    (lambda a, b, c, d: 3 in (a, b, c) or d == 2, 61),
    (lambda a, b, c, d: 2 in (a, b, c), 71),
    (lambda a, b, c, d: True, 81),
]


@settings(max_examples=300, deadline=None)
@given(form("PSP"))
def test_psp_interval_follows_the_spec_for_any_profile(entry: tuple[dict, dict]) -> None:
    values, missing = entry
    domains = [values.get(c) for c in ("PSP_A", "PSP_B", "PSP_C", "PSP_D")]
    result = scores("PSP", values, missing)
    expected = None if None in domains else next(low for rule, low in BANDS if rule(*domains))
    assert result["PSP_DECILE"] == expected
    assert result["PSP_TOTAL"] == values.get("PSP_TOTAL")
