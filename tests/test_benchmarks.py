"""The learning benchmark's bookkeeping: a variant may carry the base model's and the warm-up's
figures from an earlier run only when both played the same held-out secrets."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from rft.stats import wilson_interval
from rft.wordle.held_out_games import evaluate_players, held_out_secrets
from rft.wordle.play import policy_player
from rft.wordle.solver import random_consistent_policy

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
STAGES = ("base", "sft", "sft+grpo")


@pytest.fixture
def learning(monkeypatch):
    """The learning benchmarks' shared protocol (benchmarks/_learning.py)."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import _learning

    return _learning


def played(secrets: list[str], out_dir: Path, seed: int) -> dict:
    """Real games by stand-in players under the stage names: the bookkeeping reads only the games."""
    players = {name: policy_player(random_consistent_policy, seed + i) for i, name in enumerate(STAGES)}
    return evaluate_players(players, secrets, out_dir, progress=False)


def results_file(path: Path, evaluation: dict, runs: str, record_secrets: bool, learning) -> Path:
    figures = {
        "measured_at": "2026-01-01T00:00:00+0000",
        "runs": runs,
        "games": len(evaluation["secrets"]),
        "metrics": evaluation["metrics"],
        "guess_distribution": {k: m["guess_distribution"] for k, m in evaluation["metrics"].items()},
        "format_failures": {k: learning.format_failures(evaluation["games"][k]) for k in STAGES},
    }
    if record_secrets:
        figures["held_out_secrets"] = evaluation["secrets"]
    path.write_text(json.dumps(figures), encoding="utf-8")
    return path


@pytest.mark.parametrize("record_secrets", [True, False], ids=["recorded", "from-its-eval-json"])
def test_carried_stages_come_from_games_on_the_same_secrets(tmp_path, learning, record_secrets):
    secrets = held_out_secrets(4, learning.HELD_OUT_SEED)
    earlier = played(secrets, tmp_path / "runs" / "earlier" / "eval", seed=0)
    results = results_file(tmp_path / "earlier.json", earlier, "earlier", record_secrets, learning)
    now = played(secrets, tmp_path / "runs" / "now" / "eval", seed=10)

    merged, carried = learning.with_carried(now, results, tmp_path / "runs", ("base", "sft"))

    for stage in ("base", "sft"):
        assert merged["metrics"][stage]["wins"] == earlier["metrics"][stage]["wins"]
        assert merged["metrics"][stage]["consistency_turns"] == earlier["metrics"][stage]["consistency_turns"]
    assert merged["metrics"]["sft+grpo"] == now["metrics"]["sft+grpo"]
    assert carried["measured_at"] == "2026-01-01T00:00:00+0000"


def test_stages_from_games_on_other_secrets_are_refused(tmp_path, learning):
    earlier = played(held_out_secrets(4, 1), tmp_path / "runs" / "earlier" / "eval", seed=0)
    results = results_file(tmp_path / "earlier.json", earlier, "earlier", False, learning)
    now = played(held_out_secrets(4, learning.HELD_OUT_SEED), tmp_path / "now", seed=0)

    with pytest.raises(ValueError, match="other secrets"):
        learning.with_carried(now, results, tmp_path / "runs", ("base", "sft"))


def test_stages_whose_secrets_cannot_be_checked_are_refused(tmp_path, learning):
    secrets = held_out_secrets(4, learning.HELD_OUT_SEED)
    earlier = played(secrets, tmp_path / "elsewhere" / "eval", seed=0)
    results = results_file(tmp_path / "earlier.json", earlier, "earlier", False, learning)

    with pytest.raises(FileNotFoundError, match=r"earlier\.json"):
        learning.with_carried(earlier, results, tmp_path / "runs", ("base", "sft"))


def test_carried_stages_get_figures_newer_than_their_file_from_its_games(tmp_path, learning):
    secrets = held_out_secrets(4, learning.HELD_OUT_SEED)
    earlier = played(secrets, tmp_path / "runs" / "earlier" / "eval", seed=0)
    results = results_file(tmp_path / "earlier.json", earlier, "earlier", True, learning)
    older = json.loads(results.read_text())
    for stage in STAGES:  # as a file written before the replay rate had an interval
        del older["metrics"][stage]["replayed_guess_rate_ci95"]
    results.write_text(json.dumps(older))
    now = played(secrets, tmp_path / "now", seed=10)

    merged, _ = learning.with_carried(now, results, tmp_path / "runs", ("base", "sft"))

    assert merged["metrics"]["sft"] == earlier["metrics"]["sft"]
    assert "replayed_guess_rate_ci95" in merged["metrics"]["base"]


def rates(**counts: tuple[int, int]) -> dict:
    """Metrics with Wilson intervals from (successes, trials); rates not named are 1 of 2."""
    metrics = {}
    for metric in (
        "win_rate",
        "format_valid_rate",
        "consistency_rate",
        "replayed_guess_rate",
        "rejected_repeated_rate",
        "recovered_after_lost_rate",
    ):
        hits, trials = counts.get(metric, (1, 2))
        metrics[metric], metrics[f"{metric}_ci95"] = hits / trials, list(wilson_interval(hits, trials))
    return metrics


def test_grpo_is_worse_where_its_interval_lies_wholly_on_the_worse_side(learning):
    warm_up = rates(format_valid_rate=(820, 1000), replayed_guess_rate=(446, 1000))
    # More format-valid answers bought with replays: the replay rate is what is worse.
    replaying = rates(format_valid_rate=(950, 1000), replayed_guess_rate=(554, 1000))
    assert learning.worse_beyond_interval(warm_up, replaying) == ["replayed_guess_rate"]
    # Fewer replays is better, and overlapping intervals are no verdict either way.
    fewer_replays = rates(format_valid_rate=(820, 1000), replayed_guess_rate=(300, 1000))
    assert learning.worse_beyond_interval(warm_up, fewer_replays) == []
    close = rates(format_valid_rate=(800, 1000), replayed_guess_rate=(460, 1000))
    assert learning.worse_beyond_interval(warm_up, close) == []
    fewer_valid = rates(format_valid_rate=(700, 1000), replayed_guess_rate=(446, 1000))
    assert learning.worse_beyond_interval(warm_up, fewer_valid) == ["format_valid_rate"]


def test_a_comparison_without_an_interval_names_what_is_missing(learning):
    older = rates()
    del older["rejected_repeated_rate_ci95"]
    with pytest.raises(ValueError, match="sft: no interval for rejected_repeated_rate"):
        learning.worse_beyond_interval(older, rates())


def test_a_grpo_stage_counts_the_steps_whose_groups_had_rewards_to_learn_from(tmp_path, learning):
    from types import SimpleNamespace

    rows = [  # with a KL term every step has a gradient, a spread of rewards or not
        {"reward": 0.5, "grad_norm": 0.2, "frac_reward_zero_std": 1.0},
        {"reward": 0.7, "grad_norm": 0.3, "frac_reward_zero_std": 0.5},
        {"reward": 0.9, "grad_norm": 0.0, "frac_reward_zero_std": 1.0},
    ]
    metrics = tmp_path / "metrics.jsonl"
    metrics.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    summary = learning.stage_summary(SimpleNamespace(metrics_path=metrics, global_step=3), 12.0)
    assert summary["reward_first_last"] == [0.5, 0.9]
    assert (summary["steps_with_updates"], summary["steps_with_reward_spread"]) == (2, 1)


def test_scoring_saved_games_again_keeps_the_budget_split_and_times_their_run_had(tmp_path, learning):
    earlier = {
        "measured_at": "2026-01-01T00:00:00+0000",
        "runs": "cpu-learning-1",
        "stages": {"sft": {"wall_seconds": 1800.0}, "grpo": {"wall_seconds": 1790.0}},
        "sft_share": 0.6,
        "evaluated_saved_runs": False,
        "eval_seconds": 2700.0,
        "grpo_set": ["beta=1.0"],
    }
    results = tmp_path / "cpu_learning-variant.json"
    results.write_text(json.dumps(earlier), encoding="utf-8")
    kept = learning.kept_times(results, "cpu-learning-1")
    assert kept["sft_share"] == 0.6 and kept["stages"] == earlier["stages"]
    assert kept["games_measured_at"] == earlier["measured_at"]
    assert learning.kept_times(results, "cpu-learning-2") is None  # another run's times are not these


def grpo_args(
    runs_dir: Path, *grpo_set: str, preset: str = "cpu-smollm2-wordle-own-games"
) -> argparse.Namespace:
    return argparse.Namespace(
        grpo_preset=preset, grpo_set=list(grpo_set), own_games=24, runs_dir=runs_dir, warm_up_from=None
    )


@pytest.mark.parametrize(
    "setting, message",
    [
        ("learnin_rate=2e-5", "did you mean 'learning_rate'"),
        ("num_generations=3", "must be divisible by num_generations"),
        ("num_rows=0", "num_rows must be a positive integer"),
        ("own_games=many", "own_games: expected int, got 'many'"),
    ],
)
def test_a_wrong_grpo_setting_fails_before_the_warm_up_trains(tmp_path, learning, setting, message):
    with pytest.raises(ValueError, match=message):
        learning.train_both(grpo_args(tmp_path / "runs", setting))
    assert not (tmp_path / "runs").exists()  # no run folder made, no step trained


def test_an_unknown_grpo_preset_fails_before_the_warm_up_trains(tmp_path, learning):
    with pytest.raises(ValueError, match="unknown preset 'cpu-smollm2-wordel'"):
        learning.train_both(grpo_args(tmp_path / "runs", preset="cpu-smollm2-wordel"))
    assert not (tmp_path / "runs").exists()


def test_grpo_settings_are_the_presets_then_the_command_lines(tmp_path, learning):
    args = grpo_args(tmp_path, "learning_rate=2e-5", "rewards=format=1,feedback=2")
    preset = learning.get_preset(learning.GRPO_PRESET)
    settings = learning.grpo_settings(args, preset, "warm-up", own_rounds=1)
    assert settings["init_from"] == "warm-up" and "own_games" not in settings  # the preset's 48
    assert (settings["learning_rate"], settings["rewards"]) == ("2e-5", "format=1,feedback=2")
    assert settings["seed"] == preset.seed + 1  # its own games play answers past round 1
    grpo = learning.apply_overrides(preset, settings, init_from_trained=False)
    assert (grpo.own_games, grpo.dataset.num_rows, grpo.rewards["feedback"]) == (48, 48, 2.0)
    without = learning.grpo_settings(grpo_args(tmp_path, "own_games=0"), preset, "warm-up", own_rounds=1)
    assert "seed" not in without and without["own_games"] == "0"


def test_every_results_file_says_when_where_what_it_varies_and_what_changed():
    for path in sorted((BENCHMARKS / "results").glob("*.json")):
        figures = json.loads(path.read_text(encoding="utf-8"))
        missing = {"benchmark", "measured_at", "machine", "parent", "changes"} - set(figures)
        assert not missing, f"{path.name} lacks {sorted(missing)}"
        assert figures["changes"], path.name  # a baseline says so in words


def test_a_results_file_cannot_be_written_without_its_lineage(monkeypatch, tmp_path):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import _results

    monkeypatch.setattr(_results, "RESULTS", tmp_path)
    with pytest.raises(TypeError, match="parent"):
        _results.write("demo", {"x": 1})
    path = _results.write("demo", {"x": 1}, parent="cpu_learning.json", changes=["--minutes 20"])
    figures = json.loads(path.read_text(encoding="utf-8"))
    assert (figures["parent"], figures["changes"], figures["x"]) == ("cpu_learning.json", ["--minutes 20"], 1)


def test_a_variants_lineage_is_the_file_it_carries_and_the_flags_it_changed(learning):
    parser = learning.build_parser()
    reference = parser.parse_args([])
    assert learning.lineage(parser, reference) == (
        None,
        "none (the reference run: the script's defaults)",
    )
    carried = ["--warm-up-from", "results/cpu_learning.json", "--tag", "kl"]
    variant = parser.parse_args([*carried, "--grpo-set", "beta=0.1", "--games", "50"])
    parent, changes = learning.lineage(parser, variant)
    assert parent == "cpu_learning.json (its warm-up carried)"
    assert changes == ["--games 50", "--grpo-set beta=0.1"]  # --tag and --warm-up-from say no change
    flags_only = parser.parse_args(["--grpo-preset", "cpu-smollm2-wordle"])
    assert learning.lineage(parser, flags_only) == (
        "cpu_learning.json",
        ["--grpo-preset cpu-smollm2-wordle"],
    )


def test_the_qwen_benchmark_is_the_same_protocol_on_its_own_presets(learning):
    import qwen_learning

    protocol = qwen_learning.QWEN
    parser = learning.build_parser(protocol)
    reference = parser.parse_args([])
    assert (reference.sft_preset, reference.grpo_preset) == (protocol.sft_preset, protocol.grpo_preset)
    assert (reference.minutes, reference.own_games, reference.games) == (50, 0, 32)
    for name in (protocol.sft_preset, protocol.grpo_preset):
        assert learning.get_preset(name).model == "pypi:Qwen2.5-Coder-0.5B-Instruct"
    variant = parser.parse_args(["--games", "200"])
    assert learning.lineage(parser, variant, protocol) == ("qwen_learning.json", ["--games 200"])


def test_the_whole_game_benchmark_reads_a_steps_cost_and_compares_with_intervals(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import whole_games

    step = {"reward": 1.0, "frac_reward_zero_std": 0.0, "games/mean_turns": 4.0, "games/cut_rate": 0.0}
    rows = [
        {**step, "step": 1, "wall_seconds": 100.0, "num_tokens": 3000.0, "completions/mean_length": 300.0},
        {**step, "step": 2, "wall_seconds": 80.0, "num_tokens": 7000.0, "completions/mean_length": 400.0},
    ]
    rows[0]["games/win_rate"], rows[1]["games/win_rate"] = 0.25, 0.5
    rows[1]["frac_reward_zero_std"] = 1.0
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    summary = whole_games.arm_summary(tmp_path, 200.0)
    assert (summary["steps"], summary["seconds_per_step"], summary["tokens_per_step"]) == (2, 90.0, 3500)
    assert summary["model_tokens_per_completion"] == 350.0 and summary["steps_with_reward_spread"] == 1
    assert summary["games_per_step"]["games/win_rate"] == [0.25, 0.5]

    secrets = held_out_secrets(40, 0)
    solver_like = evaluate_players(
        {"a": policy_player(random_consistent_policy, 0)}, secrets, tmp_path / "a", progress=False
    )
    from rft.wordle.play import GameRecord, game_metrics

    lost = game_metrics([GameRecord(secret) for secret in secrets])  # no turn played: all lost
    metrics = {"turns": solver_like["metrics"]["a"], "games": lost}
    compared = whole_games.compare(metrics, "turns", "games")
    assert compared["win_rate"]["better"] is False and compared["win_rate"]["intervals_overlap"] is False
    assert compared["win_rate"]["difference"] < -0.5
    assert "consistency_rate" not in compared  # no accepted guess after the first: nothing to compare


def test_the_reward_benchmark_times_every_single_turn_reward_against_a_target(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import rewards as reward_benchmark

    from rft.wordle.rewards import GAME_ONLY_REWARDS, REWARD_FUNCTIONS

    figures = reward_benchmark.measure(groups_count=4)
    assert set(figures) == set(REWARD_FUNCTIONS) - GAME_ONLY_REWARDS
    for name, row in figures.items():
        assert row["completions"] == 4 * reward_benchmark.GROUP_SIZE, name
        assert row["target_per_second"] > 0 and row["completions_per_second"] > 0, name


def test_the_shared_prompt_benchmark_sets_trls_path_beside_the_shared_one(monkeypatch, tmp_path):
    """Both arms of a tiny step, in this process: TRL's path prefills and runs each of the 4 rows'
    prompt, the shared one each distinct prompt once; the file gets both and the speedup."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import shared_prompt_step

    import rft.training.shared_prompt

    written = {}
    monkeypatch.setattr(
        shared_prompt_step,
        "run_arm_in_child",
        lambda preset, arm, steps, overrides: shared_prompt_step.measure_arm(
            preset, arm, tmp_path / arm, steps, overrides
        ),
    )
    monkeypatch.setattr(shared_prompt_step, "write", lambda name, figures, **lineage: written.update(figures))
    shared_prompt_step.main(["--preset", "tiny-test", "--steps", "1"])
    assert (
        rft.training.shared_prompt.grpo_trainer_class("tiny")
        is rft.training.shared_prompt.SharedPromptGRPOTrainer
    )

    case = written["tiny-test"]
    assert case["target"] is None and case["met"] is None and case["speedup"] > 0
    trl, shared = (case["arms"][arm]["step_profile"]["phases"] for arm in ("trl", "shared"))
    width = trl["prefill"]["tokens"] // 4  # the prompt, 4 times
    assert trl["prefill"]["tokens"] == 4 * width and shared["prefill"]["tokens"] == width - 1
    assert trl["decode"]["tokens"] == 4 * 11 and shared["decode"]["tokens"] == 4 * 12
    assert trl["log_prob_forward"]["tokens"] == 4 * (width + 12)
    assert shared["log_prob_forward"]["tokens"] == width - 1 + 4 * 13
    assert all(case["arms"][arm]["full_length"] for arm in ("trl", "shared"))
    assert set(case["share_of_matmul_rate"]) == {"trl", "shared"}
    short_answer = shared_prompt_step.summary(
        {"trl": {"seconds_per_step": 6.0}, "shared": {"seconds_per_step": 2.5}},
        shared_prompt_step.SHORT_ANSWER_TARGET,
    )
    assert (short_answer["speedup"], short_answer["target"], short_answer["met"]) == (2.4, 3.0, False)


@pytest.mark.slow
def test_the_spread_benchmark_checks_the_base_then_the_warm_up_it_trains(monkeypatch, tmp_path):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import spread_before_grpo

    figures = spread_before_grpo.measure("tiny-test-short", sft_steps=1, states=2, runs_dir=tmp_path)
    base, warmed = figures["base"], figures["warm_up"]
    assert (base["states"], base["samples"], warmed["states"], warmed["samples"]) == (2, 8, 2, 8)
    (warm_up_run,) = tmp_path.iterdir()  # the results file names it, not where it lies
    assert base["model"] == "tiny:qwen2-random" and warmed["model"] == warmed["run_dir"] == warm_up_run.name
    assert warmed["sft_steps"] == 1 and 0 <= warmed["groups_with_spread"] <= 2
    assert 0.0 <= warmed["pass@8"] <= 1.0 and "verdict" in warmed


def test_the_short_answer_benchmark_is_the_protocol_with_its_boards_and_a_real_schedule(tmp_path, learning):
    import short_learning

    for protocol in short_learning.PROTOCOLS.values():
        parser = learning.build_parser(protocol)
        reference = parser.parse_args([])
        assert (reference.states, reference.sft_share) == (
            protocol.states,
            protocol.sft_share,
        ) and reference.states >= 300
        for name in (protocol.sft_preset, protocol.grpo_preset):
            assert learning.get_preset(name).constrain_guesses
            assert learning.get_preset(name).prompt_style == "short"
        preset = learning.get_preset(protocol.grpo_preset)
        settings = learning.grpo_settings(reference, preset, "warm-up", own_rounds=0)
        assert settings["max_steps"] == dict(s.split("=") for s in protocol.grpo_set)["max_steps"]
        variant = parser.parse_args(["--grpo-set", "beta=0.1", "--tag", "kl"])
        assert variant.grpo_set == [*protocol.grpo_set, "beta=0.1"]
        assert learning.lineage(parser, variant, protocol) == (
            f"{protocol.name}.json",
            ["--grpo-set beta=0.1"],
        )


def test_an_open_ended_grpo_stage_with_a_schedule_along_its_steps_is_refused_before_the_warm_up(
    tmp_path, learning
):
    args = grpo_args(tmp_path / "runs", preset="cpu-smollm2-wordle-short")
    with pytest.raises(ValueError, match="max_steps=N"):
        learning.train_both(args)
    assert not (tmp_path / "runs").exists()
    constant = grpo_args(
        tmp_path / "runs", "lr_scheduler_type=constant", "warmup_steps=0", preset="cpu-smollm2-wordle-short"
    )
    preset = learning.get_preset("cpu-smollm2-wordle-short")
    assert (
        learning.grpo_settings(constant, preset, "warm-up", own_rounds=0)["lr_scheduler_type"] == "constant"
    )


def test_states_with_carried_stages_are_refused(learning):
    parser = learning.build_parser()
    args = parser.parse_args(["--states", "300", "--warm-up-from", "results/cpu_learning.json"])
    with pytest.raises(SystemExit):
        learning.run(parser, args)


def test_the_results_file_keeps_the_boards_figures_and_pairs_but_not_every_answer(learning):
    section = {
        "count": 2,
        "seed": 0,
        "fingerprint": "f",
        "composition": {},
        "metrics": {"base": {"consistent_rate": 0.0}},
        "paired": {"sft": {"parent": "base", "p_value": 1.0}},
        "boards": [{}, {}],
        "results": {"base": [{}, {}]},
    }
    kept = learning.states_figures({"states": section})["held_out_states"]
    assert set(kept) == {"count", "seed", "fingerprint", "composition", "metrics", "paired"}
    assert learning.states_figures({}) == {}


@pytest.mark.slow
def test_the_protocol_pairs_every_stage_on_held_out_boards_from_a_warm_up_trained_before(
    tmp_path, monkeypatch, learning
):
    """The tiny model through the whole short-answer protocol: a warm-up trained before, GRPO for
    the protocol's steps over it, then boards and games for base, warm-up and GRPO, each paired."""
    import _results

    monkeypatch.setattr(_results, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(learning, "RESULTS", tmp_path / "results")
    monkeypatch.chdir(tmp_path)
    warm = learning.train(
        learning.get_preset("tiny-test-short-sft"), runs_dir=tmp_path / "before", progress=False
    )
    protocol = learning.Protocol(
        "tiny_short",
        "tiny-test-short-sft",
        "tiny-test-short",
        "tiny",
        minutes=5.0,
        games=2,
        own_games=0,
        sft_share=0.2,
        states=3,
        samples=2,
        grpo_set=("max_steps=1",),
    )
    parser = learning.build_parser(protocol)
    wrong = parser.parse_args(["--warm-up-run", str(warm.run_dir), "--grpo-preset", "tiny-test"])
    with pytest.raises(ValueError, match="not a warm-up of"):
        learning.train_both(wrong, protocol)  # the full style's GRPO cannot continue a short warm-up
    args = parser.parse_args(["--warm-up-run", str(warm.run_dir), "--runs-dir", str(tmp_path / "runs")])
    learning.run(parser, args, protocol)
    figures = json.loads((tmp_path / "results" / "tiny_short.json").read_text(encoding="utf-8"))
    assert figures["stages"]["sft"]["trained_before"] == warm.run_dir.name
    assert figures["stages"]["grpo"]["steps"] == 1 and figures["grpo_set"] == ["max_steps=1"]
    boards = figures["held_out_states"]
    assert boards["count"] == 3 and set(boards["metrics"]) == set(STAGES)
    assert {k: v["parent"] for k, v in boards["paired"].items()} == {"sft": "base", "sft+grpo": "sft"}
    assert all("pass@2" in m for m in boards["metrics"].values())
    assert figures["games"] == 2 and set(STAGES) <= set(figures["metrics"])


@pytest.mark.slow
def test_the_lr_sweep_pairs_each_arm_with_the_warm_up_it_continues(tmp_path, learning):
    import short_lr_sweep

    warm = learning.train(
        learning.get_preset("tiny-test-short-sft"), runs_dir=tmp_path / "before", progress=False
    )
    grpo = learning.get_preset("tiny-test-short")
    with pytest.raises(ValueError, match="not a warm-up of"):
        short_lr_sweep.plan(learning.get_preset("tiny-test"), warm.run_dir, ["1e-3"], steps=1)
    with pytest.raises(ValueError, match="learning_rate"):
        short_lr_sweep.plan(grpo, warm.run_dir, ["1e-3", "fast"], steps=1)  # before any arm trains
    arms = short_lr_sweep.plan(grpo, warm.run_dir, ["1e-3"], steps=1)
    figures = short_lr_sweep.sweep(
        grpo, warm.run_dir, arms, 3, 0, merge=True, runs_dir=tmp_path / "runs", games=2
    )
    warmed, arm = figures["warm_up"], figures["arms"]["1e-3"]
    assert warmed["run"] == warm.run_dir.name and warmed["states"] == arm["states"] == 3
    assert arm["training"]["steps"] == 1 and figures["adapters_merged"]
    pairs = arm["vs_warm_up"]
    assert (pairs["states"], pairs["parent_rate"], pairs["rate"]) == (
        3,
        warmed["consistent_rate"],
        arm["consistent_rate"],
    )
    assert 0.0 <= pairs["p_value"] <= 1.0
    assert warmed["games"]["games"] == arm["games"]["games"] == 2
    assert len(arm["games"]["consistency_rate_ci95"]) == 2  # an interval over games

    # The arm again, trained before: answered and played the same, its training not repeated.
    (run,) = (tmp_path / "runs").iterdir()
    with pytest.raises(ValueError, match="not of tiny-test-short continuing"):
        short_lr_sweep.trained_arm(grpo, run, run)
    rate, given = short_lr_sweep.trained_arm(grpo, warm.run_dir, run)
    assert (rate, given) == ("0.001", run)
    again = short_lr_sweep.sweep(grpo, warm.run_dir, {rate: given}, 3, 0, merge=True, runs_dir=None, games=2)
    repeated = again["arms"][rate]
    assert repeated["training"]["trained_before"] == run.name and repeated["training"]["steps"] == 1
    assert repeated["vs_warm_up"] == pairs and repeated["games"] == arm["games"]
