"""benchmarks/gpu_check.py in its CPU mode, as CI runs it: the same training path the GPU check takes,
with the tiny preset, so that the script a GPU machine runs rarely cannot rot in between."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rft.training.presets import get_preset

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
SCRIPT = BENCHMARKS / "gpu_check.py"


@pytest.fixture
def gpu_check(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import gpu_check

    return gpu_check


def run_script(argv: list[str]) -> None:
    """The script as CI runs it, in its own process, offline; it must succeed."""
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *argv],
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]


def test_cpu_mode_times_full_length_grpo_steps(tmp_path):
    out = tmp_path / "results" / "gpu_check-cpu.json"
    argv = ["--cpu", "--steps", "2", "--out", str(out), "--work-dir", str(tmp_path)]
    run_script(argv)
    results = json.loads(out.read_text(encoding="utf-8"))

    assert results["benchmark"] == "gpu_check"
    assert results["mode"] == "cpu" and results["preset"] == "tiny-test" and results["gpu"] is None
    assert results["error"] is None
    assert results["steps"] == results["steps_asked"] == 2
    assert len(results["step_seconds"]) == 2 and all(s > 0 for s in results["step_seconds"])
    assert results["seconds_per_step"] > 0 and results["first_step_seconds"] > 0

    length = results["settings"]["trainer_args"]["max_completion_length"]
    lengths = results["completion_length"]
    assert lengths["max_completion_length"] == length
    assert lengths["logged_steps"] == 2
    assert lengths["min"] == lengths["mean"] == lengths["max"] == length
    assert lengths["full_length"] is True
    assert results["generation_kwargs"] == {"min_new_tokens": length}

    assert results["memory"]["peak_rss_mb"] > 0
    assert {"torch", "transformers", "trl", "peft"} <= set(results["versions"])
    assert results["loader"] == "transformers" and results["load_in_4bit"] is False
    # Like Qwen's, the model's vocabulary is larger than the tokenizer's: the run decoded such ids.
    assert results["model"]["architecture"]["vocab_size"] > results["model"]["tokenizer_ids"]
    # The steps ran in the run folder the project's training path made, not in the results folder.
    assert list((tmp_path / "runs").glob("tiny-test-*/metrics.jsonl"))
    assert sorted(p.name for p in out.parent.iterdir()) == [out.name]


@pytest.mark.parametrize(
    ("argv", "cuda", "message"),
    [
        (["--steps", "1"], True, "--steps must be at least 2"),
        (["--cpu", "--steps", "1"], False, "--steps must be at least 2"),
        (["--cap-gib", "0"], True, "--cap-gib must be a positive number of GiB, got 0.0"),
        (["--cpu", "--cap-gib", "15"], True, "--cap-gib is for the GPU mode only, and --cpu was given"),
        (
            ["--loader", "unsloth"],
            False,
            "--loader is for the GPU mode only, and this machine has no CUDA GPU",
        ),
        (["--loader", "vllm"], True, "invalid choice: 'vllm'"),
    ],
)
def test_wrong_arguments_are_named_before_anything_loads(gpu_check, capsys, argv, cuda, message):
    with pytest.raises(SystemExit) as exit_info:
        gpu_check.parse_args(argv, cuda=cuda)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_a_gpu_machine_gets_the_gpu_mode_and_its_defaults(gpu_check):
    args = gpu_check.parse_args([], cuda=True)
    assert not args.cpu and args.steps == 3 and args.cap_gib == 15.0 and args.loader == "auto"
    assert args.out == gpu_check.GPU_RESULTS
    assert gpu_check.parse_args([], cuda=False).out == gpu_check.CPU_RESULTS != gpu_check.GPU_RESULTS


def test_the_gpu_model_has_qwen2_5_3b_instruct_shape(gpu_check):
    """3.09 B parameters, counted without allocating them."""
    import torch
    from transformers import AutoModelForCausalLM, Qwen2Config

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(Qwen2Config(**gpu_check.QWEN25_3B), dtype=torch.float16)
    assert round(sum(p.numel() for p in model.parameters()) / 1e9, 2) == 3.09
    assert model.lm_head.weight is model.model.embed_tokens.weight  # tied, as in Qwen's config


def test_the_t4_preset_takes_the_settings_the_gpu_mode_gives_it(gpu_check, tmp_path):
    """The GPU mode's overrides go through the project's own checks on any machine, so a renamed or
    refused setting shows up in CI, not first on a rented GPU."""
    changes: list[str] = []
    overrides = {"loader": "transformers", "load_in_4bit": False, "model": str(tmp_path)}
    preset, generation = gpu_check.check_preset(gpu_check.GPU_PRESET, overrides, 3, 15 / 80, changes)

    assert preset.device == "cuda" and preset.loader == "transformers" and preset.model == str(tmp_path)
    args = preset.trainer_args
    assert args["fp16"] is True and args["bf16"] is False  # as a T4 must
    assert args["max_steps"] == 3 and args["save_steps"] > 3 and args["logging_steps"] == 1
    assert generation == args["generation_kwargs"] == {"min_new_tokens": args["max_completion_length"]}
    assert (args["optim"] == "adamw_8bit") == (not changes)  # 8-bit Adam only with bitsandbytes

    # Where generation goes through vLLM, its own name for the same thing, and its pool scaled to the cap.
    vllm = {**overrides, "use_vllm": True}  # TRL's own vLLM; Unsloth's fast_inference reads the same
    preset, generation = gpu_check.check_preset(gpu_check.GPU_PRESET, vllm, 3, 0.25, [])
    assert generation == {"min_tokens": preset.trainer_args["max_completion_length"]}
    share = get_preset(gpu_check.GPU_PRESET).gpu_memory_utilization
    assert preset.gpu_memory_utilization == pytest.approx(0.25 * share, abs=1e-4)


def test_cpu_mode_times_whole_game_steps(tmp_path):
    """--games: the -games preset's steps, every turn forced to full length until the budget cuts."""
    out = tmp_path / "gpu_check-games-cpu.json"
    argv = ["--cpu", "--games", "--steps", "2", "--out", str(out), "--work-dir", str(tmp_path)]
    run_script(argv)
    results = json.loads(out.read_text(encoding="utf-8"))
    assert results["preset"] == "tiny-test-games" and results["settings"]["rollout"] == "games"
    turn = results["settings"]["trainer_args"]["max_completion_length"]
    lengths = results["completion_length"]
    assert lengths["full_length"] is True and lengths["min"] >= turn  # at least one whole turn a game
    assert lengths["max"] > turn  # and more than one: a game, not a turn
    assert results["settings"]["max_game_tokens"] == get_preset("tiny-test-games").max_game_tokens
