"""Intervals and tests for the rates every evaluation reports (Wordle's wins, turns and game
states, GSM8K's accuracy): honest at small counts, and honest about what is independent."""

from __future__ import annotations

import math
from collections.abc import Sequence

Z_95 = 1.959964


def _wilson(rate: float, trials: float, z: float) -> tuple[float, float]:
    denominator = 1 + z * z / trials
    centre = (rate + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(rate * (1 - rate) / trials + z * z / (4 * trials * trials)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """95% Wilson score interval for a proportion: honest at 0 and at small counts, unlike p ± 2σ."""
    if trials == 0:
        return (0.0, 1.0)
    return _wilson(successes / trials, trials, z)


def clustered_wilson_interval(
    hits: Sequence[int], trials: Sequence[int], z: float = Z_95
) -> tuple[float, float]:
    """95% interval for a rate over turns that come in games (``hits[i]`` of ``trials[i]`` in game
    ``i``): the turns of one game are not independent (a model that misreads the clues misreads them
    all game long), so Wilson's interval on the pooled turns is too narrow.

    The pooled rate keeps Wilson's interval, on an effective number of turns: the pooled count over
    the design effect, the cluster-robust variance of the rate (between games, with the m/(m-1)
    small-sample factor) over the variance independent turns would have, never below 1. Where the
    spread between games cannot be measured (a single game, or every turn alike), each game counts
    as one observation: the most that correlation within a game could cost."""
    if len(hits) != len(trials):
        raise ValueError(f"{len(hits)} hit counts for {len(trials)} games")
    games = [(h, n) for h, n in zip(hits, trials) if n > 0]
    total = sum(n for _, n in games)
    if total == 0:
        return (0.0, 1.0)
    rate = sum(h for h, _ in games) / total
    count = len(games)
    if count < 2 or rate in (0.0, 1.0):
        return _wilson(rate, count, z)
    between = count / (count - 1) * sum((h - rate * n) ** 2 for h, n in games) / total**2
    independent = rate * (1 - rate) / total
    effective = total / max(1.0, between / independent)
    return _wilson(rate, effective, z)


def pass_at_k(samples: int, correct: int, k: int) -> float:
    """The chance that at least one of ``k`` answers drawn from the ``samples`` taken is correct,
    given ``correct`` of them were: the unbiased estimator 1 - C(n-c, k) / C(n, k) (Chen et al. 2021),
    not 1 - (1 - c/n)^k, which is biased low."""
    if not 1 <= k <= samples:
        raise ValueError(f"pass@k needs 1 <= k <= the samples taken ({samples}), got k={k}")
    if not 0 <= correct <= samples:
        raise ValueError(f"{correct} correct of {samples} samples")
    if samples - correct < k:
        return 1.0
    return 1.0 - math.comb(samples - correct, k) / math.comb(samples, k)


def mcnemar_exact(only_first: int, only_second: int) -> float:
    """Two-sided p-value of McNemar's exact test for two models scored on the same items:
    ``only_first`` items the first got right and the second wrong, ``only_second`` the reverse.
    Items both got right or both wrong say nothing about which is better; under "no difference"
    each discordant item falls either way with probability 1/2, so the smaller count is a binomial
    tail, doubled. Exact at any count, where a chi-squared approximation is not."""
    if only_first < 0 or only_second < 0:
        raise ValueError(f"discordant counts must be >= 0, got {only_first} and {only_second}")
    discordant = only_first + only_second
    if discordant == 0:
        return 1.0
    smaller = min(only_first, only_second)
    tail = sum(math.comb(discordant, i) for i in range(smaller + 1))
    return min(1.0, 2 * tail / 2**discordant)


def intervals_overlap(first: Sequence[float], second: Sequence[float]) -> bool:
    """Whether two (low, high) intervals share a point: if they do, the difference between the two
    rates is not a clear one at these counts."""
    (first_low, first_high), (second_low, second_high) = first, second
    return not (second_low > first_high or second_high < first_low)


def overlap_verdict(overlap: bool) -> str:
    """How a table says it, under "the 95% intervals ..."."""
    return "overlap: not a clear difference" if overlap else "do not overlap"
