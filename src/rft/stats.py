"""Intervals for the rates every evaluation reports (Wordle's wins and turns, GSM8K's accuracy)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def wilson_interval(successes: int, trials: int, z: float = 1.959964) -> tuple[float, float]:
    """95% Wilson score interval for a proportion: honest at 0 and at small counts, unlike p ± 2σ."""
    if trials == 0:
        return (0.0, 1.0)
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


def intervals_overlap(first: Sequence[float], second: Sequence[float]) -> bool:
    """Whether two (low, high) intervals share a point: if they do, the difference between the two
    rates is not a clear one at these counts."""
    (first_low, first_high), (second_low, second_high) = first, second
    return not (second_low > first_high or second_high < first_low)


def overlap_verdict(overlap: bool) -> str:
    """How a table says it, under "the 95% intervals ..."."""
    return "overlap: not a clear difference" if overlap else "do not overlap"
