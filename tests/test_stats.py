"""The statistics evaluations report: exact values worked out by hand."""

import math

import pytest

from rft.stats import clustered_wilson_interval, mcnemar_exact, pass_at_k, wilson_interval


def test_mcnemar_exact_is_the_doubled_binomial_tail_of_the_smaller_discordant_count():
    assert mcnemar_exact(0, 0) == 1.0  # no item told the two models apart
    assert mcnemar_exact(0, 5) == 2 * 1 / 32
    assert mcnemar_exact(1, 9) == 2 * (1 + 10) / 1024 == 0.021484375
    assert mcnemar_exact(2, 10) == 2 * (1 + 12 + 66) / 4096 == 0.03857421875
    assert mcnemar_exact(10, 2) == mcnemar_exact(2, 10)  # two-sided: the order does not matter
    assert mcnemar_exact(3, 3) == 1.0  # the doubled tail passes 1: capped
    assert mcnemar_exact(4, 5) == 1.0
    # Large counts stay exact (big integers), near the continuity-corrected chi-squared's 0.0546.
    assert mcnemar_exact(300, 350) == pytest.approx(0.05453, abs=1e-5)
    assert mcnemar_exact(0, 2000) == 2 / 2**2000  # no float overflow on the way
    with pytest.raises(ValueError, match="discordant counts"):
        mcnemar_exact(-1, 3)


def test_pass_at_k_is_the_unbiased_estimator():
    assert pass_at_k(8, 0, 1) == 0.0 and pass_at_k(8, 0, 8) == 0.0
    assert pass_at_k(8, 1, 1) == 1 / 8
    assert pass_at_k(8, 1, 8) == 1.0  # eight draws of eight take the one correct sample
    assert pass_at_k(8, 2, 2) == pytest.approx(1 - 15 / 28)  # 1 - C(6,2)/C(8,2)
    assert pass_at_k(8, 3, 4) == pytest.approx(1 - math.comb(5, 4) / math.comb(8, 4))
    assert pass_at_k(8, 7, 2) == 1.0  # one wrong sample cannot fill two draws
    for bad in (0, 9):
        with pytest.raises(ValueError, match="pass@k needs 1 <= k <= the samples taken"):
            pass_at_k(8, 1, bad)


def test_turns_of_one_game_count_as_fewer_observations_when_games_differ():
    # Two games all right, two all wrong: by the design effect 8 turns are worth 3 observations.
    interval = clustered_wilson_interval([2, 2, 0, 0], [2, 2, 2, 2])
    assert interval == pytest.approx((0.125334, 0.874666), abs=1e-6)
    # Every game alike: no sign of correlation, so the turns keep Wilson's interval (never narrower).
    assert clustered_wilson_interval([1, 1, 1, 1], [2, 2, 2, 2]) == pytest.approx(wilson_interval(4, 8))


def test_a_clustered_rate_at_zero_or_from_one_game_counts_each_game_once():
    assert clustered_wilson_interval([0, 0, 0], [3, 4, 5]) == pytest.approx(wilson_interval(0, 3))
    # One game, half its turns right: one observation at 1/2.
    assert clustered_wilson_interval([2], [4]) == pytest.approx((0.054621, 0.945379), abs=1e-6)
    assert clustered_wilson_interval([0, 3], [0, 0]) == (0.0, 1.0)  # no turn to rate
    assert clustered_wilson_interval([], []) == (0.0, 1.0)
    with pytest.raises(ValueError, match="2 hit counts for 1 games"):
        clustered_wilson_interval([1, 1], [2])
