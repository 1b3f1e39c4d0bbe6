"""Blinding indices from the assessors' guesses (pure arithmetic; no database).

Bang's index (Bang, Ni & Davis, Control Clin Trials 2004;25:143-56), for each arm j:
    BI_j = (correct_j - incorrect_j) / n_j          (n_j includes "don't know")
    Var  = [p1(1-p1) + p2(1-p2) + 2 p1 p2] / n_j    (p1, p2: shares guessing IMR, TAU)
0 = guesses at chance, 1 = everyone right, -1 = everyone wrong.

James' index (James, Bloch, Lee, Kraemer & Fuller, Stat Med 1996;15:1421-34), overall, with
James' weights (correct 0, incorrect 1/2, don't know 1):
    P_dk = share of "don't know"; q_j = share in arm j that did not answer "don't know"
    P_o  = sum over the 2x2 guess-by-arm cells of w p / (1 - P_dk)
    P_e  = sum of w p_guess q_arm / (1 - P_dk)^2
    k_d  = (P_o - P_e) / P_e
    BI   = (1 + P_dk + (1 - P_dk) k_d) / 2
with the large-sample variance of James et al.  1 = complete blinding, 0 = complete
unblinding, 0.5 = as many right as wrong."""

from __future__ import annotations

import math
from dataclasses import dataclass

ARMS = ("IMR", "TAU")
GUESSES = ("IMR", "TAU", "dont_know")
Z_95 = 1.959963984540054


@dataclass(frozen=True)
class Estimate:
    estimate: float | None
    se: float | None
    lower: float | None
    upper: float | None

    @classmethod
    def of(cls, estimate: float | None, se: float | None) -> Estimate:
        if estimate is None or se is None:
            return cls(estimate, se, None, None)
        return cls(estimate, se, estimate - Z_95 * se, estimate + Z_95 * se)

    def as_dict(self) -> dict[str, float | None]:
        return {"estimate": self.estimate, "se": self.se, "lower": self.lower, "upper": self.upper}


Table = dict[str, dict[str, int]]  # table[guess][arm] = count


def empty_table() -> Table:
    return {guess: dict.fromkeys(ARMS, 0) for guess in GUESSES}


def bang(table: Table, arm: str) -> Estimate:
    n = sum(table[guess][arm] for guess in GUESSES)
    if n == 0:
        return Estimate.of(None, None)
    other = ARMS[1] if arm == ARMS[0] else ARMS[0]
    correct, incorrect = table[arm][arm], table[other][arm]
    p1, p2 = table["IMR"][arm] / n, table["TAU"][arm] / n
    variance = (p1 * (1 - p1) + p2 * (1 - p2) + 2 * p1 * p2) / n
    return Estimate.of((correct - incorrect) / n, math.sqrt(variance))


def james(table: Table) -> Estimate:
    total = sum(table[g][a] for g in GUESSES for a in ARMS)
    if total == 0:
        return Estimate.of(None, None)
    p = {g: {a: table[g][a] / total for a in ARMS} for g in GUESSES}
    p_dk = sum(p["dont_know"].values())
    if p_dk == 1:
        # Everyone answered "don't know": complete blinding by definition.
        return Estimate.of(1.0, 0.0)
    known = ("IMR", "TAU")
    row = {g: sum(p[g].values()) for g in known}  # share guessing g
    col = {a: p["IMR"][a] + p["TAU"][a] for a in ARMS}  # share in arm a not answering DK
    weight = {g: {a: 0.0 if g == a else 0.5 for a in ARMS} for g in known}
    expected = sum(weight[g][a] * row[g] * col[a] for g in known for a in ARMS)
    if expected == 0:
        return Estimate.of(None, None)
    observed = sum(weight[g][a] * p[g][a] for g in known for a in ARMS) / (1 - p_dk)
    p_e = expected / (1 - p_dk) ** 2
    kappa = (observed - p_e) / p_e
    estimate = (1 + p_dk + (1 - p_dk) * kappa) / 2

    numerator = 0.0
    for g in known:
        for a in ARMS:
            extra = sum(
                weight[known[r]][a] * row[known[r]] + weight[g][ARMS[r]] * col[ARMS[r]]
                for r in range(2)
            )
            numerator += (
                p[g][a] * (1 - p_dk) ** 2 * ((1 - p_dk) * weight[g][a] - (1 + kappa) * extra) ** 2
            )
    v1 = numerator / (4 * expected**2)
    v2 = p_dk * (1 - p_dk) - (1 - p_dk) * (1 + kappa) * (p_dk + (1 - p_dk) * (1 + kappa) / 4)
    variance = (v1 + v2) / total
    return Estimate.of(estimate, math.sqrt(max(variance, 0.0)))
