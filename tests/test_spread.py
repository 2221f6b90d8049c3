"""`rft preflight --spread`: whether GRPO's groups on held-out boards differ in reward at all."""

from __future__ import annotations

import functools
import json

import pytest

from rft import cli
from rft.training import spread
from rft.training.config import task_rewards
from rft.training.presets import get_preset
from rft.wordle.held_out_states import fits_every_clue, held_out_states, state_rows
from rft.wordle.spread import group_rewards, spread_report


def sampled(board, answers):
    """A board's result as answer_states gives it, for answers written here."""
    return {
        "greedy": "",
        "greedy_word": None,
        "greedy_allowed": False,
        "greedy_fits": False,
        "samples": len(answers),
        "sampled": answers,
        "samples_fit": sum(fits_every_clue(answer, board.history) for answer in answers),
    }


def test_a_group_has_spread_when_any_answer_earns_a_different_total_reward():
    preset = get_preset("tiny-test")
    boards = held_out_states(2)
    right = f"<think>\nit fits\n</think>\n<guess>{boards[0].secret.upper()}</guess>"
    results = [sampled(boards[0], [right] + ["no tags"] * 7), sampled(boards[1], ["no tags"] * 8)]
    report = spread_report(preset, state_rows(boards, preset.prompt_style), results)
    assert report["states"] == 2 and report["samples"] == 8
    assert report["groups_with_spread"] == 1 and report["spread_share"] == 0.5
    assert report["greedy_consistent_rate"] == 0.0 and report["pass@8"] == 0.5
    assert report["verdict"].startswith("1 of 2 groups have reward spread")
    # The same answer eight times: every advantage zero, said plainly.
    flat = spread_report(preset, state_rows(boards[:1]), [sampled(boards[0], [right] * 8)])
    assert flat["groups_with_spread"] == 0 and flat["mean_group_std"] == 0.0
    assert "GRPO cannot learn from these states with this model" in flat["verdict"]


def test_the_total_reward_is_the_presets_weighted_sum_and_a_games_preset_leaves_out_the_outcome():
    boards = held_out_states(1)
    answer = f"<think>\nit fits\n</think>\n<guess>{boards[0].secret}</guess>"
    rows = state_rows(boards)
    turns = get_preset("tiny-test")
    games = get_preset("tiny-test-games")
    assert "win" in games.rewards
    (total,) = group_rewards(turns, rows, [[answer]])[0]
    functions, weights = task_rewards(turns)
    assert total == pytest.approx(
        sum(w * f([answer], **{k: [v] for k, v in rows[0].items()})[0] for f, w in zip(functions, weights))
    )
    assert group_rewards(games, rows, [[answer]])[0][0] == pytest.approx(total)


def test_spread_asked_of_what_it_cannot_sample_is_one_line_before_anything_loads(tmp_path, capsys):
    runs = tmp_path / "runs"
    base = ["preflight", "--runs-dir", str(runs), "--spread"]
    assert cli.main([*base, "--preset", "tiny-test-sft"]) == 2
    assert (
        "--spread samples Wordle GRPO groups; tiny-test-sft is a wordle sft preset" in capsys.readouterr().err
    )
    assert cli.main([*base, "--preset", "tiny-test-gsm8k"]) == 2
    assert "tiny-test-gsm8k is a gsm8k grpo preset" in capsys.readouterr().err
    assert cli.main([*base, "--preset", "tiny-test", "--random-weights"]) == 2
    assert "--spread samples the real model" in capsys.readouterr().err
    assert not runs.exists()


@pytest.mark.slow
def test_preflight_says_plainly_when_the_tiny_model_gives_grpo_nothing_to_learn(
    tmp_path, monkeypatch, capsys
):
    """A random model writes no tags on any board: every group earns one reward, so the check says
    GRPO cannot learn and preflight exits 1. Fewer boards and samples than the default keep it short."""
    monkeypatch.setattr(spread, "spread_check", functools.partial(spread.spread_check, states=6, samples=4))
    argv = ["preflight", "--preset", "tiny-test", "--spread", "--runs-dir", str(tmp_path), "--no-progress"]
    assert cli.main(argv) == 1
    (written,) = tmp_path.glob("preflight-tiny-test-*/preflight.json")
    report = json.loads(written.read_text(encoding="utf-8"))
    assert report["fits_memory"] and report["stages"]["grpo"]["steps_measured"] == 2
    checked = report["spread"]
    assert checked["states"] == 6 and checked["samples"] == 4 and checked["model"] == "tiny:qwen2-random"
    assert checked["groups_with_spread"] == 0 and checked["pass@4"] == 0.0
    assert checked["rewards"] == dict(get_preset("tiny-test").rewards)
    printed = capsys.readouterr().out
    assert "reward spread (tiny:qwen2-random, 4 answers at temperature 1 on 6 held-out boards)" in printed
    assert "GRPO cannot learn from these states with this model" in printed
