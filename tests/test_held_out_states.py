"""The held-out boards: a fixed set built from a seed, one move a model, paired between models."""

from __future__ import annotations

import json

import pytest

from rft import cli
from rft.stats import mcnemar_exact, wilson_interval
from rft.wordle.dataset import answer_split, check_rows
from rft.wordle.game import MAX_GUESSES
from rft.wordle.held_out_states import (
    MAX_STATES,
    composition,
    fingerprint,
    fits_every_clue,
    held_out_states,
    paired,
    state_metrics,
    state_rows,
)
from rft.wordle.solver import history_for


@pytest.fixture(scope="module")
def states():
    return held_out_states()


def test_the_set_is_300_unsolved_boards_of_held_out_answers_from_every_player(states):
    assert len(states) == 300
    assert {s.secret for s in states} <= set(answer_split()["test"])
    assert composition(states) == {
        "by_player": {"solver": 93, "random-consistent": 104, "random-valid": 103},
        # The solver leaves only 15 held-out games unsolved after four guesses: the others fill in.
        "by_guesses_in": {"1": 78, "2": 78, "3": 78, "4": 66},
    }
    assert all(1 <= len(s.history) <= 4 and not any(e.is_win for e in s.history) for s in states)
    assert len({(s.secret, s.history) for s in states}) == 300  # no board twice
    check_rows(state_rows(states))  # every clue is the one the secret gives, no game already won
    assert all(s.candidates >= 1 for s in states)  # the secret itself always fits
    assert all(s.game_state.turns_left == MAX_GUESSES - len(s.history) for s in states)


def test_the_set_is_rebuilt_identically_and_a_smaller_one_is_its_prefix(states):
    # Pinned: a change to the solver, the players or the split changes the boards, and results on
    # the old set can no longer be paired with new ones.
    assert fingerprint(states) == "7236204f429c7ed5"
    held_out_states.cache_clear()
    assert held_out_states(50) == states[:50]
    first = composition(states[:50])
    assert first["by_player"] == {"solver": 17, "random-consistent": 17, "random-valid": 16}
    assert fingerprint(held_out_states(50, seed=1)) != fingerprint(states[:50])


def test_a_guess_fits_every_clue_only_as_an_allowed_word_the_secret_could_be():
    history = history_for("crane", ["soare", "trial"])  # S O A R E, T R I A L against CRANE
    assert fits_every_clue("<think>\nclues\n</think>\n<guess>CRANE</guess>", history)
    assert fits_every_clue("<guess>crane</guess>", history)  # the shape is format's business
    assert not fits_every_clue("<guess>soare</guess>", history)  # allowed, but the clues rule it out
    assert not fits_every_clue("<guess>CRANX</guess>", history)  # not a word
    assert not fits_every_clue("CRANE", history)  # no guess tag


def result(fits: bool, samples_fit: int = 0, samples: int = 8) -> dict:
    return {"greedy_fits": fits, "greedy_allowed": True, "samples": samples, "samples_fit": samples_fit}


def test_state_metrics_give_the_greedy_rate_with_its_interval_and_unbiased_pass_at_k():
    results = [result(True, 8), result(False, 1), result(False, 0), result(True, 2)]
    metrics = state_metrics(results)
    assert metrics["states"] == 4 and metrics["consistent_rate"] == 0.5
    assert metrics["consistent_rate_ci95"] == pytest.approx(list(wilson_interval(2, 4)))
    assert metrics["pass@1"] == pytest.approx((1 + 1 / 8 + 0 + 2 / 8) / 4)
    assert metrics["pass@8"] == 3 / 4  # eight draws of eight: any board with one fitting sample
    assert "pass@2" not in metrics
    assert state_metrics(results, pass_at=[2])["pass@2"] == pytest.approx((1 + 1 / 4 + 0 + 13 / 28) / 4)


def test_pairing_counts_the_boards_only_one_model_got_and_tests_them_exactly():
    parent = [result(True)] * 3 + [result(False)] * 7 + [result(True)]
    child = [result(True)] * 3 + [result(True)] * 6 + [result(False)] * 1 + [result(False)]
    comparison = paired(parent, child)
    assert comparison["parent_rate"] == 4 / 11 and comparison["rate"] == 9 / 11
    assert comparison["only_this"] == 6 and comparison["only_parent"] == 1
    assert comparison["p_value"] == mcnemar_exact(1, 6) == 2 * (1 + 7) / 128
    with pytest.raises(ValueError, match="paired on the same boards only"):
        paired(parent, child[:3])


def test_bad_state_options_are_one_line_naming_the_option_before_anything_loads(tmp_path, capsys):
    out = ["--out", str(tmp_path / "eval")]
    cases = [
        (["--states", "-3"], "--states must be a positive integer, got -3"),
        (["--states", str(MAX_STATES + 1)], f"--states must be at most {MAX_STATES}"),
        (["--states", "10", "--samples", "-1"], "--samples must be a whole number >= 0, got -1"),
        (["--states", "10", "--samples", "4", "--pass-at", "8"], "--pass-at 8 needs at least 8 samples"),
        (["--states", "10", "--pass-at", "0"], "--pass-at must be a positive integer, got 0"),
        (["--games", "0"], "games must be a positive integer, got 0"),
    ]
    for options, message in cases:
        assert cli.main(["eval", "--model", "tiny-test", *options, *out]) == 2
        error = capsys.readouterr().err
        assert message in error and error.count("\n") == 1
    assert cli.main(["eval", "--model", "tiny-test-gsm8k", "--states", "10", *out]) == 2
    assert (
        "--states: the held-out boards are Wordle's; tiny-test-gsm8k is a gsm8k model"
        in capsys.readouterr().err
    )
    assert not (tmp_path / "eval").exists()


def test_a_tiny_model_answers_the_boards_alone_with_every_result_kept(tmp_path, capsys):
    argv = ["eval", "--model", "tiny-test", "--states", "6", "--games", "0", "--samples", "2"]
    assert cli.main([*argv, "--max-new-tokens", "4", "--out", str(tmp_path), "--no-progress"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["eval.json", "eval.md"]
    written = json.loads((tmp_path / "eval.json").read_text(encoding="utf-8"))
    section = written["states"]
    assert section["count"] == 6 and section["fingerprint"] == fingerprint(held_out_states(6))
    assert section["boards"] == [s.to_dict() for s in held_out_states(6)]
    (results,) = section["results"].values()
    assert len(results) == 6 and all(len(r["sampled"]) == r["samples"] == 2 for r in results)
    metrics = section["metrics"]["base"]
    assert set(metrics) >= {"consistent_rate", "consistent_rate_ci95", "allowed_rate", "pass@1", "pass@2"}
    assert section["paired"] == {}  # one model: nothing to pair with
    assert "metrics" not in written  # no games were asked for
    printed = capsys.readouterr().out
    assert "Held-out boards: 6" in printed and "| base |" in printed


@pytest.mark.slow
def test_each_model_is_paired_with_the_one_before_it_on_the_same_boards(tmp_path):
    """The base, and the same model seen as a second one: every board alike, so no discordant
    board and McNemar's p = 1; greedy answers replay exactly."""
    from dataclasses import replace

    from rft.models import load_base
    from rft.training.presets import get_preset
    from rft.wordle.held_out_states import evaluate_states

    base = load_base(get_preset("tiny-test"))
    section = evaluate_states([base, replace(base, label="again")], count=4, samples=2, max_new_tokens=4)
    comparison = section["paired"]["again"]
    assert comparison["parent"] == "base" and comparison["only_this"] == comparison["only_parent"] == 0
    assert comparison["p_value"] == 1.0
    assert section["results"]["base"] == section["results"]["again"]


@pytest.mark.slow
def test_the_largest_set_allowed_can_be_built():
    assert len(held_out_states(MAX_STATES)) == MAX_STATES


@pytest.mark.slow
def test_a_run_that_continued_its_warm_up_is_paired_with_the_warm_up_and_that_with_the_base(tmp_path):
    from rft.training.config import apply_overrides
    from rft.training.presets import get_preset
    from rft.training.run import train

    warm_up = train(get_preset("tiny-test-sft"), runs_dir=tmp_path / "runs", progress=False)
    grpo = apply_overrides(get_preset("tiny-test"), {"init_from": str(warm_up.run_dir), "max_steps": "1"})
    run = train(grpo, runs_dir=tmp_path / "runs", progress=False)
    argv = ["eval", "--model", str(run.run_dir), "--states", "3", "--games", "0", "--samples", "0"]
    assert cli.main([*argv, "--max-new-tokens", "4", "--out", str(tmp_path / "eval"), "--no-progress"]) == 0
    section = json.loads((tmp_path / "eval" / "eval.json").read_text(encoding="utf-8"))["states"]
    assert list(section["metrics"]) == ["base", "warm-up", "trained"]
    assert {label: c["parent"] for label, c in section["paired"].items()} == {
        "warm-up": "base",
        "trained": "warm-up",
    }
    assert "pass@1" not in section["metrics"]["base"]  # no samples, no pass@k
