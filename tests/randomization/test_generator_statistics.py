"""The statistical battery of RANDOMISATION.md §3 on the production generator: 3 strata x
10,000 blocks from a fixed seed, every check at alpha = 1e-6 (so a correct generator fails
with probability about 1e-6 per check, and a change of seed almost never trips one).

The last tests show the battery has teeth: the same checks reject two classic shuffling bugs
(a "swap with any position" shuffle and Sattolo's off-by-one Fisher-Yates) driven by the very
same random stream."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from fractions import Fraction
from itertools import combinations, pairwise

import numpy as np
import pytest

from randomization.generator import ARMS, BLOCK_SIZES, BlockStream, generate_block

SEED = 0x2011_0195_1361_698D_A1C0_FFEE_5EED_0001
STRATA = ("BAL", "GLA", "FRB")
BLOCKS_PER_STRATUM = 10_000
# Critical values of chi-square at 1 - 1e-6 (RANDOMISATION.md §3).
CHI2_DF2, CHI2_DF4 = 27.63, 33.38
CHI2_ARRANGEMENTS = {6: 63.68, 8: 139.83, 10: 372.24}  # df 19, 69, 251
Z = 5.0  # |z| < 5 has two-sided probability 1 - 5.7e-7
CONVERGENCE_EXPECTED = 2011 / 3024  # 0.665013
CONVERGENCE_SD_PER_BLOCK = 0.06309  # SE of the proportion = this / sqrt(blocks)


@pytest.fixture(scope="module")
def blocks() -> dict[str, list[tuple[str, ...]]]:
    return {
        stratum: [tuple(generate_block(SEED, stratum, b)) for b in range(1, BLOCKS_PER_STRATUM + 1)]
        for stratum in STRATA
    }


def all_blocks(blocks: dict[str, list[tuple[str, ...]]]) -> list[tuple[str, ...]]:
    return [block for stratum in STRATA for block in blocks[stratum]]


def chi_square(observed: np.ndarray, expected: np.ndarray) -> float:
    return float(((observed - expected) ** 2 / expected).sum())


def arrangements(size: int) -> list[tuple[str, ...]]:
    half = size // 2
    return [
        tuple(ARMS[0] if i in chosen else ARMS[1] for i in range(size))
        for chosen in combinations(range(size), half)
    ]


def arrangement_chi_square(sample: list[tuple[str, ...]], size: int) -> float:
    patterns = arrangements(size)
    counts = Counter(b for b in sample if len(b) == size)
    assert set(counts) <= set(patterns), "an unbalanced or impossible block appeared"
    observed = np.array([counts[p] for p in patterns], dtype=float)
    expected = np.full(len(patterns), observed.sum() / len(patterns))
    return chi_square(observed, expected)


def runs(block: tuple[str, ...]) -> int:
    return 1 + sum(1 for a, b in pairwise(block) if a != b)


def convergence_correct(sequence: list[str]) -> float:
    """Blackwell-Hodges: guess the arm allocated less often so far; a tie scores 1/2."""
    score = 0.0
    counts = dict.fromkeys(ARMS, 0)
    for arm in sequence:
        if counts[ARMS[0]] == counts[ARMS[1]]:
            score += 0.5
        elif (counts[ARMS[0]] < counts[ARMS[1]]) == (arm == ARMS[0]):
            score += 1
        counts[arm] += 1
    return score


# --- the exact background the statistical checks rely on ----------------------------------


def test_the_convergence_guess_expectation_is_exact_by_enumeration() -> None:
    """E[correct] per block = m + 2^(2m-1)/C(2m,m) - 1/2; uniform sizes give 2011/3024."""
    per_size = {}
    for size in BLOCK_SIZES:
        patterns = arrangements(size)
        total = sum(Fraction(convergence_correct(list(p))).limit_denominator(2) for p in patterns)
        expected = total / len(patterns)
        m = size // 2
        assert expected == m + Fraction(2 ** (2 * m - 1), math.comb(2 * m, m)) - Fraction(1, 2)
        per_size[size] = expected
    proportion = sum(per_size.values()) / sum(BLOCK_SIZES)
    assert proportion == Fraction(2011, 3024)


# --- RANDOMISATION.md §3 on the production generator --------------------------------------


def test_block_sizes_are_drawn_uniformly(blocks: dict) -> None:
    sizes = Counter(len(b) for b in all_blocks(blocks))
    observed = np.array([sizes[s] for s in BLOCK_SIZES], dtype=float)
    assert chi_square(observed, np.full(3, observed.sum() / 3)) < CHI2_DF2


def test_consecutive_block_sizes_are_independent(blocks: dict) -> None:
    index = {size: i for i, size in enumerate(BLOCK_SIZES)}
    table = np.zeros((3, 3))
    for stratum in STRATA:
        sizes = [len(b) for b in blocks[stratum]]
        for a, b in pairwise(sizes):
            table[index[a], index[b]] += 1
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    assert chi_square(table, expected) < CHI2_DF4


@pytest.mark.parametrize("size", BLOCK_SIZES)
def test_every_arrangement_within_a_block_is_equally_likely(blocks: dict, size: int) -> None:
    assert arrangement_chi_square(all_blocks(blocks), size) < CHI2_ARRANGEMENTS[size]


@pytest.mark.parametrize("size", BLOCK_SIZES)
def test_each_position_in_a_block_is_imr_half_of_the_time(blocks: dict, size: int) -> None:
    sample = np.array([[a == "IMR" for a in b] for b in all_blocks(blocks) if len(b) == size])
    n = len(sample)
    proportions = sample.mean(axis=0)
    assert np.all(np.abs(proportions - 0.5) < Z * math.sqrt(0.25 / n)), proportions


@pytest.mark.parametrize("size", BLOCK_SIZES)
def test_neighbours_within_a_block_agree_as_often_as_chance_allows(blocks: dict, size: int) -> None:
    m = size // 2
    sample = np.array([[a == "IMR" for a in b] for b in all_blocks(blocks) if len(b) == size])
    agreement = (sample[:, 1:] == sample[:, :-1]).mean(axis=1)
    se = agreement.std(ddof=1) / math.sqrt(len(agreement))
    assert abs(agreement.mean() - (m - 1) / (2 * m - 1)) < Z * se


@pytest.mark.parametrize(("size", "variance"), [(6, 1.2), (8, 12 / 7), (10, 20 / 9)])
def test_runs_per_block_have_the_expected_mean_and_variance(
    blocks: dict, size: int, variance: float
) -> None:
    counts = np.array([runs(b) for b in all_blocks(blocks) if len(b) == size], dtype=float)
    n = len(counts)
    m = size // 2
    assert abs(counts.mean() - (m + 1)) < Z * math.sqrt(variance / n)
    centred = counts - counts.mean()
    fourth = float((centred**4).mean())
    assert abs(counts.var(ddof=1) - variance) < Z * math.sqrt((fourth - variance**2) / n)


def test_the_convergence_guess_is_right_about_two_times_in_three(blocks: dict) -> None:
    correct = 0.0
    allocations = 0
    for stratum in STRATA:
        sequence = [arm for block in blocks[stratum] for arm in block]
        correct += convergence_correct(sequence)
        allocations += len(sequence)
    n_blocks = len(STRATA) * BLOCKS_PER_STRATUM
    tolerance = Z * CONVERGENCE_SD_PER_BLOCK / math.sqrt(n_blocks)
    assert abs(correct / allocations - CONVERGENCE_EXPECTED) < tolerance


# --- the battery catches broken shuffles ---------------------------------------------------


def broken_block(shuffle: Callable[[BlockStream, list[str]], None], stratum: str, b: int) -> tuple:
    stream = BlockStream(SEED.to_bytes(16, "big"), stratum, b)
    size = BLOCK_SIZES[stream.below(3)]
    arms = [ARMS[0]] * (size // 2) + [ARMS[1]] * (size // 2)
    shuffle(stream, arms)
    return tuple(arms)


def naive_swap(stream: BlockStream, arms: list[str]) -> None:
    for i in range(len(arms)):
        j = stream.below(len(arms))
        arms[i], arms[j] = arms[j], arms[i]


def sattolo(stream: BlockStream, arms: list[str]) -> None:
    for i in range(len(arms) - 1, 0, -1):
        j = stream.below(i)  # off by one: never leaves an element in place
        arms[i], arms[j] = arms[j], arms[i]


@pytest.mark.parametrize("shuffle", [naive_swap, sattolo], ids=["naive-swap", "sattolo"])
def test_the_arrangement_check_rejects_a_biased_shuffle(
    shuffle: Callable[[BlockStream, list[str]], None],
) -> None:
    sample = [broken_block(shuffle, s, b) for s in STRATA for b in range(1, 10_001)]
    rejected = [
        size
        for size in BLOCK_SIZES
        if arrangement_chi_square(sample, size) >= CHI2_ARRANGEMENTS[size]
    ]
    assert rejected, "a biased shuffle passed the arrangement check"
