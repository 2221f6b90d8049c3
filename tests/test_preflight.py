"""`rft preflight`: real measurements of two full-length steps, a projection of the whole run against a
session, and a model that does not fit as advice rather than a traceback."""

from __future__ import annotations

import json

import pytest

from rft import cli
from rft.training import preflight
from rft.training.config import apply_overrides
from rft.training.presets import get_preset


def test_measured_steps_force_every_completion_to_full_length():
    preset = preflight.full_length(get_preset("t4-qwen2.5-3b-wordle"))
    assert preset.trainer_args["max_steps"] == preflight.MEASURED_STEPS
    assert preset.trainer_args["generation_kwargs"] == {"min_new_tokens": 256}
    engine = apply_overrides(get_preset("t4-qwen2.5-3b-wordle"), {"fast_inference": "true"})
    assert preflight.full_length(engine).trainer_args["generation_kwargs"] == {"min_tokens": 256}
    warm_up = preflight.full_length(get_preset("tiny-test-sft"))
    assert "generation_kwargs" not in warm_up.trainer_args  # SFT generates nothing


def test_bad_requests_fail_before_anything_loads(tmp_path, capsys):
    runs = tmp_path / "runs"
    assert cli.main(["preflight", "--preset", "tiny-tset", "--runs-dir", str(runs)]) == 2
    assert "did you mean 'tiny-test'" in capsys.readouterr().err
    assert (
        cli.main(["preflight", "--preset", "tiny-test", "--session-hours", "-1", "--runs-dir", str(runs)])
        == 2
    )
    assert cli.main(["preflight", "--preset", "tiny-test", "--max_stepz", "3", "--runs-dir", str(runs)]) == 2
    assert not runs.exists()


@pytest.mark.slow
def test_tiny_preset_and_its_warm_up_measured_and_projected(tmp_path, capsys):
    status = cli.main(
        [
            "preflight",
            *("--preset", "tiny-test", "--warm-up", "tiny-test-sft", "--max_steps", "40"),
            *("--session-hours", "100", "--runs-dir", str(tmp_path), "--no-progress"),
        ]
    )
    assert status == 0
    (written,) = tmp_path.glob("preflight-tiny-test-*/preflight.json")
    report = json.loads(written.read_text(encoding="utf-8"))
    grpo, warm_up = report["stages"]["grpo"], report["stages"]["warm_up"]
    assert grpo["steps_measured"] == warm_up["steps_measured"] == 2
    assert grpo["completion_length"] == grpo["max_completion_length"] == 12 and grpo["full_length"]
    assert warm_up["full_length"] is None  # SFT generates nothing
    assert grpo["seconds_per_step"] > 0 and report["peak_memory_gib"] > 0.1
    expected = grpo["first_step_seconds"] + 39 * grpo["seconds_per_step"]
    assert abs(report["projected_seconds"]["grpo"] - expected) <= 1
    assert report["after_training"]["how"] == "estimated" and report["fits_memory"]
    assert report["fits_session"] and report["steps_that_fit"] == 40
    assert [p.name for p in written.parent.iterdir()] == ["preflight.json"]  # the measuring runs are gone
    printed = capsys.readouterr().out
    assert "s/step" in printed
    # The last step in parts: one prompt (its prefix prefilled once), 4 completions of 12 tokens.
    profile = grpo["step_profile"]
    phases = profile["phases"]
    assert phases["decode"]["tokens"] == 4 * 12  # each row's last prompt token, then 11 new ones
    prefix = phases["prefill"]["tokens"]
    assert prefix > 50 and phases["log_prob_forward"]["tokens"] == prefix + 4 * (12 + 1)
    assert phases["backward"]["tokens"] == phases["log_prob_forward"]["tokens"]
    assert all(phases[name]["seconds"] > 0 for name in ("prefill", "decode", "log_prob_forward", "backward"))
    assert sum(part["seconds"] for part in phases.values()) == pytest.approx(
        profile["step_seconds"], abs=0.01
    )
    assert profile["matmul_rate"]["dtype"] == "float32" and profile["matmul_rate"]["flops_per_second"] > 1e8
    assert 0 < profile["share_of_matmul_rate"] < 1 and 0 < phases["prefill"]["share_of_matmul_rate"] < 1
    assert "generation: prefill" in printed and "of the matmul rate" in printed
    assert warm_up["step_profile"]["phases"]["prefill"]["tokens"] == 0  # SFT generates nothing


@pytest.mark.slow
def test_the_real_cpu_model_is_held_to_full_length(tmp_path):
    """SmolLM2 stops early by itself; the measured steps must not."""
    preset = apply_overrides(get_preset("cpu-smollm2-wordle"), {"max_completion_length": "24"})
    report = preflight.preflight(preset, tmp_path, session_hours=0.05)
    grpo = report["stages"]["grpo"]
    assert grpo["completion_length"] == 24
    # 3 minutes hold the 30 minutes kept for evaluation and export, and no step of training
    assert not report["fits_session"] and report["steps_that_fit"] == 0


def test_running_out_of_memory_is_advice_not_a_traceback(tmp_path, monkeypatch, capsys):
    import torch

    def out_of_memory(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(preflight, "train", out_of_memory)
    assert cli.main(["preflight", "--preset", "tiny-test", "--runs-dir", str(tmp_path)]) == 1
    printed = capsys.readouterr().out
    assert "out of memory" in printed and "lower max_completion_length or num_generations" in printed
    (written,) = tmp_path.glob("preflight-tiny-test-*/preflight.json")
    assert json.loads(written.read_text(encoding="utf-8"))["fits_memory"] is False


def test_wrong_gpu_options_are_named_before_anything_loads(tmp_path, capsys):
    runs = tmp_path / "runs"
    base = ["preflight", "--runs-dir", str(runs)]
    assert cli.main([*base, "--preset", "tiny-test", "--memory-cap", "0"]) == 2
    assert "--memory-cap must be a positive number, got 0.0" in capsys.readouterr().err
    assert cli.main([*base, "--preset", "tiny-test", "--memory-cap", "15"]) == 2  # this CI has no GPU
    assert "--memory-cap holds a GPU's memory, and this machine has no CUDA GPU" in capsys.readouterr().err
    assert cli.main([*base, "--preset", "cpu-smollm2-wordle", "--random-weights"]) == 2
    error = capsys.readouterr().err
    assert "the shape of 'embedded:SmolLM2-135M-Instruct' (preset cpu-smollm2-wordle) is not known" in error
    assert "unsloth/Qwen2.5-3B-Instruct" in error
    assert not runs.exists()


@pytest.mark.slow
def test_random_weights_measure_whole_games_at_full_length(tmp_path, capsys):
    """What a lent GPU runs for the T4 preset, at test size: random weights in the model's shape,
    written to a folder and read through the loader, whole games with every turn at full length."""
    argv = ["preflight", "--preset", "tiny-test-games", "--random-weights", "--runs-dir", str(tmp_path)]
    assert cli.main([*argv, "--no-progress"]) == 0
    (written,) = tmp_path.glob("preflight-tiny-test-games-*/preflight.json")
    report = json.loads(written.read_text(encoding="utf-8"))
    model, grpo = report["model"], report["stages"]["grpo"]
    assert model["weights"] == "random" and model["dtype"] == "float32"
    # Like Qwen's, the model's vocabulary is larger than the tokenizer's: the run decoded such ids.
    assert model["architecture"]["vocab_size"] > model["tokenizer_ids"]
    assert grpo["full_length"] is True and grpo["steps_measured"] == 2
    assert grpo["completion_length"] > grpo["max_completion_length"]  # a game, not a turn
    assert grpo["max_game_tokens"] == get_preset("tiny-test-games").max_game_tokens
    assert {"torch", "transformers", "trl", "peft"} <= set(report["versions"])
    assert [p.name for p in written.parent.iterdir()] == ["preflight.json"]  # the random model is gone
    assert "random weights:" in capsys.readouterr().out


def test_full_length_is_read_off_the_shortest_and_longest_completions():
    step = {"completions/min_length": 12, "completions/mean_length": 12, "completions/max_length": 12}
    assert preflight.ran_full_length([step, step], 12)
    assert not preflight.ran_full_length([step, {**step, "completions/min_length": 7}], 12)
    assert not preflight.ran_full_length([], 12)
    game = {"completions/min_length": 30, "completions/max_length": 80}
    assert preflight.ran_full_length([game], 12, games=True)  # at least one whole turn a game
    assert not preflight.ran_full_length([{**game, "completions/min_length": 11}], 12, games=True)


def test_the_t4_shape_is_qwen2_5_3b_instruct():
    """3.09 B parameters, counted without allocating them."""
    import torch
    from transformers import AutoModelForCausalLM, Qwen2Config

    from rft.training.random_model import QWEN25_3B, architecture_of

    assert architecture_of(get_preset("t4-qwen2.5-3b-wordle")) is QWEN25_3B
    assert architecture_of(get_preset("t4-qwen2.5-3b-wordle-games")) is QWEN25_3B
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(Qwen2Config(**QWEN25_3B), dtype=torch.float16)
    assert round(sum(p.numel() for p in model.parameters()) / 1e9, 2) == 3.09
    assert model.lm_head.weight is model.model.embed_tokens.weight  # tied, as in Qwen's config


def test_a_memory_cap_scales_vllm_s_pool_and_nothing_else():
    t4 = get_preset("t4-qwen2.5-3b-wordle")
    assert preflight.under_cap(t4, 15 / 80) is t4  # generation through transformers: nothing to scale
    vllm = apply_overrides(t4, {"use_vllm": "true"})
    capped = preflight.under_cap(vllm, 0.25)
    assert capped.gpu_memory_utilization == pytest.approx(0.25 * t4.gpu_memory_utilization, abs=1e-4)
    measured = preflight.full_length(capped, 3).trainer_args
    assert measured["generation_kwargs"] == {"min_tokens": measured["max_completion_length"]}
    assert measured["fp16"] is True and measured["bf16"] is False  # as a T4 must
