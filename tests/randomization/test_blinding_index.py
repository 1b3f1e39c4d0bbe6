"""Bang's and James' blinding indices: hand-worked arithmetic, the published example, and the
report for statisticians after lock."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest

from randomization import blinding_index
from randomization.models import BlindingGuess, RandomizationLogEntry
from tests.factories import allocate, api_client, make_participant, make_staff
from trial.models import DatasetLock
from trial.roles import Role


def table(imr: tuple[int, int, int], tau: tuple[int, int, int]) -> dict[str, dict[str, int]]:
    """Counts per arm as (guessed IMR, guessed TAU, don't know)."""
    return {
        "IMR": {"IMR": imr[0], "TAU": tau[0]},
        "TAU": {"IMR": imr[1], "TAU": tau[1]},
        "dont_know": {"IMR": imr[2], "TAU": tau[2]},
    }


def known(value: float | None) -> float:
    """An estimate the test's counts define (None only for an empty table)."""
    assert value is not None
    return value


def test_the_indices_of_a_small_table_match_the_hand_calculation() -> None:
    # IMR arm: 6 right, 2 wrong, 2 don't know. TAU arm: 3 right, 3 wrong, 4 don't know.
    counts = table((6, 2, 2), (3, 3, 4))
    bang_imr = blinding_index.bang(counts, "IMR")
    assert bang_imr.estimate == pytest.approx((6 - 2) / 10)
    # p1 = .6, p2 = .2: (.24 + .16 + 2 * .12) / 10 = .064
    assert bang_imr.se == pytest.approx(0.064**0.5)
    assert blinding_index.bang(counts, "TAU").estimate == pytest.approx(0.0)
    # James: N = 20, P_dk = 6/20; wrong cells 3/20 and 2/20 with weight 1/2:
    # P_o = .125 / .7 = 5/28; row shares .45, .25; non-DK column shares .4 (IMR), .3 (TAU):
    # P_e = (.5 * .45 * .3 + .5 * .25 * .4) / .49 = 47/196; k = (5/28 - 47/196) / (47/196)
    # = -12/47; BI = (1 + .3 + .7 * -12/47) / 2 = 527/940.
    james = blinding_index.james(counts)
    assert james.estimate == pytest.approx(float(Fraction(527, 940)))
    assert known(james.lower) < known(james.estimate) < known(james.upper)


def test_the_indices_reproduce_the_published_example() -> None:
    # James et al. 1996 / Bang et al. 2004 worked example (as in the R package BI).
    counts = table((48, 4, 330), (22, 30, 319))
    james = blinding_index.james(counts)
    assert round(known(james.estimate), 3) == 0.896
    assert round(known(james.se), 3) == 0.011
    assert round(known(blinding_index.bang(counts, "IMR").estimate), 3) == 0.115
    assert round(known(blinding_index.bang(counts, "IMR").se), 3) == 0.018
    assert round(known(blinding_index.bang(counts, "TAU").estimate), 3) == 0.022
    assert round(known(blinding_index.bang(counts, "TAU").se), 3) == 0.019


def test_degenerate_tables_give_no_number_rather_than_a_wrong_one() -> None:
    assert blinding_index.bang(table((0, 0, 0), (1, 0, 0)), "IMR").estimate is None
    assert blinding_index.james(table((0, 0, 0), (0, 0, 0))).estimate is None
    assert blinding_index.james(table((0, 0, 3), (0, 0, 2))).estimate == 1.0


def guessed(arm: str, guess: str, timepoint: str, assessor: Any) -> None:
    participant = make_participant("BAL")
    allocate(participant, arm)
    api_client(assessor).put(
        f"/api/v1/participants/{participant.pk}/blinding-guess/{timepoint}/",
        {"guess": guess},
        format="json",
    )


def test_statisticians_get_the_report_only_after_lock(sites: dict, client: Any) -> None:
    assessor = make_staff("assessor", Role.ASSESSOR, sites=["BAL"])
    for arm, guess, count in (("IMR", "IMR", 6), ("IMR", "TAU", 2), ("IMR", "dont_know", 2)):
        for _ in range(count):
            guessed(arm, guess, "post", assessor)
    for arm, guess, count in (("TAU", "IMR", 3), ("TAU", "TAU", 3), ("TAU", "dont_know", 4)):
        for _ in range(count):
            guessed(arm, guess, "post", assessor)
    guessed("TAU", "TAU", "followup", assessor)
    assert BlindingGuess.objects.count() == 21
    statistician = make_staff("stat", Role.STATISTICIAN)
    api = api_client(statistician)
    before = api.get("/api/v1/blinding-index/")
    assert before.status_code == 409
    assert "after the database is locked" in before.json()["detail"]
    DatasetLock.objects.create(level="lock", reason="Final analysis", set_by=statistician)
    report = api.get("/api/v1/blinding-index/").json()
    post, followup, overall = report["timepoints"]
    assert post["timepoint"] == "post" and post["n"] == 20
    assert post["table"] == table((6, 2, 2), (3, 3, 4))
    assert post["bang"]["IMR"]["estimate"] == pytest.approx(0.4)
    assert post["james"]["estimate"] == pytest.approx(527 / 940)
    assert followup["n"] == 1 and overall["n"] == 21
    assert (
        RandomizationLogEntry.objects.filter(kind=RandomizationLogEntry.Kind.REPORT_VIEWED).count()
        == 1
    )
    client.force_login(statistician)
    page = client.get("/randomisation/blinding-index/").content.decode()
    assert "0.561" in page and "0.400" in page
    for role in (Role.DATA_MANAGER, Role.ASSESSOR, Role.MONITOR):
        assert (
            api_client(make_staff(f"x-{role}", role)).get("/api/v1/blinding-index/").status_code
            == 404
        )
    coordinator = make_staff("coord", Role.COORDINATOR)
    assert api_client(coordinator).get("/api/v1/blinding-index/").status_code == 403
