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
    assert grpo["completion_length"] == grpo["max_completion_length"] == 12
    assert grpo["seconds_per_step"] > 0 and report["peak_memory_gib"] > 0.1
    expected = grpo["first_step_seconds"] + 39 * grpo["seconds_per_step"]
    assert abs(report["projected_seconds"]["grpo"] - expected) <= 1
    assert report["after_training"]["how"] == "estimated" and report["fits_memory"]
    assert report["fits_session"] and report["steps_that_fit"] == 40
    assert [p.name for p in written.parent.iterdir()] == ["preflight.json"]  # the measuring runs are gone
    assert "s/step" in capsys.readouterr().out


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
