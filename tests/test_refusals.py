"""What a hostile new user gives the commands, refused in one line before anything loads: a resume
folder that is not there, an adapter of another base model, a Hub id out of reach, several
processes (torchrun), and a hand-edited evaluation time that preflight reads."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from test_inputs import one_line_error

from rft.training.presets import get_preset


def tiny_run(folder: Path, rank: int = 4) -> Path:
    """A run folder of the tiny test model as the checks before loading see it: its preset and an
    adapter whose LoRA weights have the tiny model's shape (2 layers, hidden size 64)."""
    import torch
    from safetensors.torch import save_file

    (folder / "adapter").mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"preset": get_preset("tiny-test").to_dict()}))
    config = {"peft_type": "LORA", "r": rank, "target_modules": ["q_proj", "v_proj"]}
    (folder / "adapter" / "adapter_config.json").write_text(json.dumps(config))
    weights = {}
    for layer in range(2):
        for module, width in (("q_proj", 64), ("v_proj", 32)):
            prefix = f"base_model.model.model.layers.{layer}.self_attn.{module}"
            weights[f"{prefix}.lora_A.weight"] = torch.zeros(rank, 64)
            weights[f"{prefix}.lora_B.weight"] = torch.zeros(width, rank)
    save_file(weights, str(folder / "adapter" / "adapter_model.safetensors"))
    return folder


@pytest.mark.parametrize("command", ["recipe", "demo"])
def test_resuming_a_folder_that_is_not_a_run_is_one_line(no_model_loads, capsys, tmp_path, command):
    runs = tmp_path / "runs"
    missing = tmp_path / "nonexistent"
    err = one_line_error(capsys, [command, "--resume", str(missing), "--runs-dir", str(runs)])
    assert err == f"rft {command}: error: --resume {missing}: not a run folder (no config.json there)"
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x", encoding="utf-8")
    assert "not a run folder" in one_line_error(capsys, [command, "--resume", str(a_file)])
    assert not runs.exists()


def test_every_entry_point_taking_a_run_folder_refuses_a_missing_one_in_one_line(
    no_model_loads, capsys, tmp_path
):
    missing = str(tmp_path / "nonexistent")
    for command in (
        ["train", "--resume", missing],
        ["recipe", "--resume", missing],
        ["eval", "--model", missing],
        ["eval", "--model", "tiny-test", "--adapter", missing],
        ["export", missing],
        ["play", "--model", missing],
        ["play", "--model", "tiny-test", "--adapter", missing],
    ):
        assert missing in one_line_error(capsys, command)


def test_an_adapter_trained_on_another_base_is_refused_before_loading(no_model_loads, capsys, tmp_path):
    run = tiny_run(tmp_path / "tiny-run")
    for command in ("eval", "play"):
        err = one_line_error(capsys, [command, "--model", "cpu-smollm2-wordle", "--adapter", str(run)])
        assert err == (
            f"rft {command}: error: --adapter {run} was trained on another base model (tiny:qwen2-random): "
            "its weights fit 2 layers of width 64, --model cpu-smollm2-wordle has 30 layers of width 576; "
            f"--model {run} plays it on its own base"
        )
    adapter_only = run / "adapter"  # an export's lora/ or a checkpoint: the base PEFT wrote, named
    config = json.loads((adapter_only / "adapter_config.json").read_text())
    (adapter_only / "adapter_config.json").write_text(
        json.dumps({**config, "base_model_name_or_path": "org/tiny"})
    )
    err = one_line_error(capsys, ["eval", "--model", "cpu-smollm2-wordle", "--adapter", str(adapter_only)])
    assert err.startswith(
        f"rft eval: error: --adapter {adapter_only} was trained on another base model (org/tiny)"
    )
    assert err.endswith("has 30 layers of width 576; give --model org/tiny")


def test_an_adapter_of_the_same_shape_passes_the_check():
    from rft.models import adapter_shape, base_shape, check_adapter_fits

    run = tiny_run(Path(__import__("tempfile").mkdtemp()) / "run")
    assert adapter_shape(run) == (2, 64)
    assert base_shape(get_preset("tiny-test")) == (2, 64)
    check_adapter_fits("tiny-test", run)


def test_a_hub_id_out_of_reach_is_one_line(no_model_loads, capsys):
    expected = (
        "model nobody/nothing: not in the local Hugging Face cache, and the Hub cannot be reached "
        "(offline); or give a preset or a local model folder"
    )
    assert one_line_error(capsys, ["eval", "--model", "nobody/nothing"]) == f"rft eval: error: {expected}"
    assert one_line_error(capsys, ["play", "--model", "nobody/nothing"]) == f"rft play: error: {expected}"


@pytest.mark.parametrize(
    "command",
    [
        ["train", "--preset", "tiny-test"],
        ["preflight", "--preset", "tiny-test"],
        ["demo", "--preset", "tiny-test"],
    ],
)
def test_several_processes_are_refused_before_anything_loads(
    no_model_loads, capsys, tmp_path, monkeypatch, command
):
    """torchrun sets WORLD_SIZE in each process it starts; each would make a run folder of its own."""
    monkeypatch.setenv("WORLD_SIZE", "2")
    runs = tmp_path / "runs"
    err = one_line_error(capsys, [*command, "--runs-dir", str(runs)])
    assert err.endswith(
        "error: WORLD_SIZE=2: training in several processes (torchrun, accelerate launch) is not "
        "supported; run the command on its own, in one process"
    )
    assert not runs.exists() or list(runs.iterdir()) == []


def test_one_process_passes_the_check():
    from rft.checks import check_single_process

    check_single_process({})
    check_single_process({"WORLD_SIZE": "1"})
    with pytest.raises(ValueError, match="WORLD_SIZE='two' is not a whole number"):
        check_single_process({"WORLD_SIZE": "two"})


@pytest.mark.parametrize("seconds", ["12", float("nan"), float("inf"), True, [1], -5])
def test_a_hand_edited_evaluation_time_is_skipped_with_a_note(tmp_path, capsys, seconds):
    from rft.training.preflight import ESTIMATED_AFTER_TRAINING_SECONDS, after_training_seconds

    (tmp_path / "eval-1").mkdir()
    (tmp_path / "eval-1" / "eval.json").write_text(json.dumps({"seconds": seconds}), encoding="utf-8")
    after, how = after_training_seconds(tmp_path)
    assert math.isfinite(after) and (after, how) == (ESTIMATED_AFTER_TRAINING_SECONDS, "estimated")
    if seconds != -5:
        assert "is not a number of seconds" in capsys.readouterr().out


def test_an_empty_model_and_an_export_of_a_damaged_adapter_config_are_one_line(
    no_model_loads, capsys, tmp_path
):
    """Found trying empty files and arguments: --model '' read as the current folder, and export
    copied an adapter whose adapter_config.json was empty, to fail only where it is loaded."""
    assert "--model is empty" in one_line_error(capsys, ["eval", "--model", ""])
    assert "--model is empty" in one_line_error(capsys, ["play", "--model", " "])
    run = tiny_run(tmp_path / "run")
    (run / "adapter" / "adapter_config.json").write_text("", encoding="utf-8")
    err = one_line_error(capsys, ["export", str(run), "--no-merged"])
    assert (
        err == f"rft export: error: {run}: its adapter/adapter_config.json is damaged; nothing was exported"
    )
    assert not (run / "export").exists()
