"""A time budget that ends training cleanly: a bad budget is an error before anything loads; a run
that meets its budget stops at a step boundary with a checkpoint, an adapter and a status that says
how to continue; resuming it loses and repeats no step; a finished run is not trained past its end."""

from __future__ import annotations

import json
import time

import pytest

from rft import cli
from rft.training.config import apply_overrides
from rft.training.presets import get_preset
from rft.training.run import last_checkpoint, parse_duration, read_metrics, read_status, train


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("3h10m", 11400), ("45m", 2700), ("900s", 900), ("1.5h", 5400), ("1h0m30s", 3630), (" 2M ", 120)],
)
def test_durations_read_with_their_units(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "90", "3x", "h", "0s", "-5m", "10m3h", "1 h"])
def test_a_bad_duration_names_the_expected_form(text):
    with pytest.raises(ValueError, match=r"like 3h10m, 45m or 900s|more than zero"):
        parse_duration(text)


def test_a_bad_time_limit_fails_before_anything_loads(tmp_path, capsys):
    runs = tmp_path / "runs"
    assert cli.main(["train", "--preset", "tiny-test", "--time-limit", "90", "--runs-dir", str(runs)]) == 2
    assert "expected a duration like 3h10m" in capsys.readouterr().err
    assert not runs.exists()


def slow_steps(seconds: float):
    """Every step takes ``seconds`` longer: a budget of seconds then ends a run after a step or two."""
    from transformers import TrainerCallback

    class SlowSteps(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            time.sleep(seconds)

    return SlowSteps()


@pytest.mark.slow
def test_a_run_stopped_by_its_budget_resumes_with_no_step_lost_or_repeated(tmp_path, capsys):
    # No regular checkpoint before the end: the one the time limit saves is the only way back.
    preset = apply_overrides(get_preset("tiny-test"), {"max_steps": "5", "save_steps": "100"})
    stopped = train(preset, runs_dir=tmp_path, progress=False, extra_callbacks=[slow_steps(3)], time_limit=12)
    run_dir = stopped.run_dir
    status = read_status(run_dir)
    assert status["state"] == "stopped" and status["reason"] == "time limit"
    assert 1 <= stopped.global_step == status["step"] < 5 and status["max_steps"] == 5
    assert status["resume"] == f'rft train --resume "{run_dir}"'
    assert last_checkpoint(run_dir).name == f"checkpoint-{stopped.global_step}"
    assert (run_dir / "adapter" / "adapter_config.json").is_file()  # evaluation and export can run
    assert [row["step"] for row in read_metrics(run_dir / "metrics.jsonl")] == list(
        range(1, stopped.global_step + 1)
    )

    assert cli.main(["train", "--resume", str(run_dir), "--no-progress"]) == 0
    assert [row["step"] for row in read_metrics(run_dir / "metrics.jsonl")] == [1, 2, 3, 4, 5]
    assert read_status(run_dir)["state"] == "finished"
    state = json.loads((run_dir / "checkpoint-5" / "trainer_state.json").read_text(encoding="utf-8"))
    assert state["global_step"] == 5
    capsys.readouterr()

    adapter = (run_dir / "adapter" / "adapter_model.safetensors").read_bytes()
    assert cli.main(["train", "--resume", str(run_dir)]) == 2  # finished: nothing trained past the end
    assert "is finished (5 of 5 steps)" in capsys.readouterr().err
    assert (run_dir / "adapter" / "adapter_model.safetensors").read_bytes() == adapter
    assert not (run_dir / "checkpoint-6").exists()
