"""The notebooks themselves run under nbmake (``notebooks/conftest.py``, smoke mode); these tests
check what running them cannot: that each ``.ipynb`` matches its reviewed ``.py`` twin, carries
no outputs, and installs from the same repository the README's badges open; and the glue in
``rft.notebook`` that their cells call."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import jupytext
import nbformat
import pytest

from rft import hosting, notebook
from rft.training import preflight
from rft.training.config import task_rewards
from rft.training.presets import get_preset
from rft.wordle import teaching

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
REPOSITORY = re.search(r'^Repository = "(.+)"$', (ROOT / "pyproject.toml").read_text(), re.MULTILINE)[1]


def test_the_four_notebooks_are_there():
    assert [p.stem for p in NOTEBOOKS] == [
        "00_grpo_explained",
        "01_wordle_grpo",
        "02_gsm8k_grpo",
        "03_evaluate",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_matches_its_py_twin_and_has_no_outputs(path):
    committed = nbformat.read(path, as_version=4)
    twin = jupytext.read(path.with_suffix(".py"))
    assert [(c.cell_type, c.source) for c in committed.cells] == [
        (c.cell_type, c.source) for c in twin.cells
    ], f"{path.name} and {path.stem}.py differ: run `make notebooks`"
    for cell in committed.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name} has outputs"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_install_cell_and_badge_point_at_the_repository(path):
    text = path.with_suffix(".py").read_text()
    assert f'REPOSITORY = "{REPOSITORY}"' in text
    badge = f"https://colab.research.google.com/github/{REPOSITORY.removeprefix('https://github.com/')}"
    assert f"{badge}/blob/main/notebooks/{path.name}" in text
    assert f"{badge}/blob/main/notebooks/{path.name}" in (ROOT / "README.md").read_text()


@pytest.mark.parametrize("path", NOTEBOOKS[1:], ids=lambda p: p.name)
def test_training_notebooks_have_a_parameters_cell_and_short_cells(path):
    cells = nbformat.read(path, as_version=4).cells
    assert any("parameters" in c.metadata.get("tags", []) for c in cells)
    for cell in cells:
        if cell.cell_type == "code":
            code = [line for line in cell.source.splitlines() if line.strip() and not line.startswith("#")]
            assert len(code) <= 16, f"a cell of {path.name} has {len(code)} lines: move logic to rft"
            assert not re.search(r"^\s*(def|class) ", cell.source, re.MULTILINE), "logic belongs in rft"


def test_pick_preset_swaps_in_smoke_and_cpu_presets(monkeypatch):
    monkeypatch.setenv(notebook.SMOKE_VARIABLE, "1")
    assert notebook.pick_preset("t4-qwen2.5-3b-wordle", smoke="tiny-test").name == "tiny-test"
    assert notebook.scaled(100, 2) == 2
    monkeypatch.setenv(notebook.SMOKE_VARIABLE, "0")
    monkeypatch.setattr(notebook, "cuda_available", lambda: False)
    assert notebook.pick_preset("t4-qwen2.5-3b-wordle", smoke="tiny-test").name == "cpu-smollm2-wordle"
    warm_up = notebook.pick_preset("t4-qwen2.5-3b-wordle-sft", smoke="tiny-test-sft", max_steps=7, seed=None)
    assert warm_up.name == "cpu-smollm2-wordle-sft" and warm_up.trainer_args["max_steps"] == 7
    assert notebook.pick_preset("t4-qwen2.5-3b-gsm8k", smoke="tiny-test-gsm8k").name == "cpu-smollm2-gsm8k"
    assert notebook.scaled(100, 2) == 100
    assert not notebook.gpu_only("GGUF export")
    with pytest.raises(ValueError, match="max_stepz"):
        notebook.pick_preset("tiny-test", smoke="tiny-test", max_stepz=3)


def test_reward_table_scores_a_group_and_centres_its_advantages():
    preset = get_preset("tiny-test")
    (row,) = notebook.example_rows(preset, count=1)
    references = teaching.reference_completions(row)
    table = notebook.reward_table(preset, row, list(references.values()), list(references))
    assert list(table.columns) == [
        "from",
        "completion",
        "format",
        "feedback",
        "guess_value",
        "total",
        "advantage",
    ]
    assert table.loc[0, "format"] == 1.0 and table.loc[0, "feedback"] == 1.0  # the solver fits every clue
    assert table.loc[2, "total"] == 0.0  # a bare word without tags earns nothing
    assert abs(table["advantage"].sum()) < 1e-3 and table["advantage"].idxmax() == 0


def test_gsm8k_rows_and_rewards_go_through_the_same_glue():
    preset = get_preset("tiny-test-gsm8k")
    (row,) = notebook.example_rows(preset, count=1)
    right = f"<think>\nsteps\n</think>\n<answer>{row['answer']}</answer>"
    table = notebook.reward_table(preset, row, [right, "no idea"], ["right", "wrong"])
    assert table["total"].tolist() == [3.0, 0.0] and table.loc[0, "advantage"] > 0


def test_latest_run_finds_the_newest_trained_run_of_a_task(tmp_path):
    assert notebook.latest_run(tmp_path) is None
    runs = [
        ("older", "tiny-test"),
        ("newer", "tiny-test"),
        ("maths", "tiny-test-gsm8k"),
        ("warm-up", "tiny-test-sft"),
    ]
    for name, preset in runs:
        run = tmp_path / "recipe" / name
        (run / "adapter").mkdir(parents=True)
        (run / "config.json").write_text(json.dumps({"preset": get_preset(preset).to_dict()}))
        (run / "adapter" / "adapter_config.json").write_text("{}")
    (tmp_path / "untrained").mkdir()
    (tmp_path / "untrained" / "config.json").write_text("{}")
    assert notebook.latest_run(tmp_path, task="wordle").name == "newer"
    assert notebook.latest_run(tmp_path, task="gsm8k").name == "maths"


def test_runs_go_to_drive_on_colab_and_a_declined_mount_is_a_loud_warning(tmp_path, monkeypatch, capsys):
    import sys
    import types

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(hosting.RUNS_VARIABLE, raising=False)
    monkeypatch.setattr(hosting, "environment", lambda: "colab")
    monkeypatch.setattr(hosting, "DRIVE", tmp_path / "drive")
    monkeypatch.setitem(hosting.HOSTED_RUNS, "colab", tmp_path / "drive" / "MyDrive" / "rft-runs")

    def declined(mountpoint):
        raise ValueError("mount failed")

    colab = types.ModuleType("google.colab")
    colab.drive = types.SimpleNamespace(mount=declined)
    monkeypatch.setitem(sys.modules, "google", types.ModuleType("google"))
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    assert hosting.runs_dir() == Path("runs")
    assert "LOST when the session ends" in capsys.readouterr().out

    colab.drive = types.SimpleNamespace(
        mount=lambda mountpoint: (Path(mountpoint) / "MyDrive").mkdir(parents=True)
    )
    assert hosting.runs_dir() == tmp_path / "drive" / "MyDrive" / "rft-runs"
    assert "LOST" not in capsys.readouterr().out
    assert hosting.runs_dir("elsewhere") == Path("elsewhere")  # a folder given is a folder used


def test_kaggle_runs_go_to_the_saved_output_and_each_host_has_its_session_length(tmp_path, monkeypatch):
    monkeypatch.delenv(hosting.RUNS_VARIABLE, raising=False)
    monkeypatch.setattr(hosting, "environment", lambda: "kaggle")
    monkeypatch.setitem(hosting.HOSTED_RUNS, "kaggle", tmp_path / "kaggle" / "working" / "runs")
    assert hosting.runs_dir() == tmp_path / "kaggle" / "working" / "runs"
    assert hosting.session_hours("auto") == 12.0 and hosting.session_hours(2) == 2.0
    monkeypatch.setattr(hosting, "environment", lambda: "colab")
    assert hosting.session_hours("auto") == 3.0 and hosting.session_hours(None) is None
    monkeypatch.setattr(hosting, "environment", lambda: "local")
    assert hosting.session_hours("auto") is None and hosting.training_time_limit("auto", tmp_path) is None


def test_training_gets_the_session_left_less_a_measured_or_estimated_allowance(tmp_path, monkeypatch):
    monkeypatch.setattr(hosting, "session_started", lambda: time.time() - 1800)  # half an hour in
    estimated = hosting.training_time_limit(2, tmp_path)
    assert abs(estimated - (5400 - preflight.ESTIMATED_AFTER_TRAINING_SECONDS)) < 5
    assert hosting.training_time_limit(0.5, tmp_path) == 60.0  # no time left: one step, then stop
    (tmp_path / "run" / "eval").mkdir(parents=True)
    (tmp_path / "run" / "eval" / "eval.json").write_text(json.dumps({"seconds": 400}))
    reserve, how = preflight.after_training_seconds(tmp_path)
    assert reserve == 1.25 * 400 + preflight.AFTER_EVALUATION_SECONDS and how.startswith("measured")
    assert abs(hosting.training_time_limit(2, tmp_path) - (5400 - reserve)) < 5
    for torn in ('{"seconds": 9', "[]"):  # a kill mid-write (before files were replaced whole), a hand edit
        (tmp_path / "newer" / "eval").mkdir(parents=True, exist_ok=True)
        (tmp_path / "newer" / "eval" / "eval.json").write_text(torn)
        assert preflight.after_training_seconds(tmp_path) == (reserve, how)  # skipped with a note


def test_latest_finds_the_newest_unfinished_run_of_the_same_preset(tmp_path):
    preset = get_preset("tiny-test")

    def run(name, preset_name, checkpoint, state=None, complete=True):
        folder = tmp_path / name
        saved = folder / f"checkpoint-{checkpoint}"
        saved.mkdir(parents=True)
        if complete:  # what the trainer and rft write into a checkpoint, the weights' header included
            (saved / "trainer_state.json").write_text(json.dumps({"global_step": checkpoint}))
            header = json.dumps({"__metadata__": {}}).encode()
            (saved / "adapter_model.safetensors").write_bytes(len(header).to_bytes(8, "little") + header)
        (folder / "config.json").write_text(json.dumps({"preset": get_preset(preset_name).to_dict()}))
        if state:
            (folder / "status.json").write_text(json.dumps({"state": state, "step": 2, "max_steps": 2}))
        time.sleep(0.02)  # distinct checkpoint times
        return folder

    assert notebook.run_to_continue("latest", tmp_path, preset) is None
    stopped = run("stopped", "tiny-test", 1, "stopped")
    cut_off = run("cut-off", "tiny-test", 1)  # the session ended mid-run: no status written
    run("finished", "tiny-test", 2, "finished")
    run("warm-up", "tiny-test-sft", 1, "stopped")
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{}")  # a model's config, not a run's
    assert notebook.run_to_continue("latest", tmp_path, preset) == cut_off
    run("cut-before-its-first-checkpoint", "tiny-test", 1, complete=False)  # it can never resume
    torn = run("torn-status", "tiny-test", 1)
    (torn / "status.json").write_text('{"state": "sto')
    assert notebook.run_to_continue("latest", tmp_path, preset) == cut_off  # both skipped
    assert notebook.run_to_continue(stopped, tmp_path, preset) == stopped
    with pytest.raises(ValueError, match="is a run of tiny-test, not of tiny-test-sft"):
        notebook.run_to_continue(stopped, tmp_path, get_preset("tiny-test-sft"))  # never ignored
    assert notebook.run_to_continue(None, tmp_path, preset) is None
    assert notebook.run_to_continue("latest", tmp_path, get_preset("tiny-test-sft")).name == "warm-up"


def test_reward_table_pays_the_format_the_rows_style_asked_for():
    """In the short style the answer is the tag alone: the table scores it as GRPO does (1.0), not
    as the full style would (a tag without its reasoning)."""
    preset = get_preset("tiny-test-short")
    (row,) = notebook.example_rows(preset, count=1)
    assert row["prompt_style"] == "short"
    table = notebook.reward_table(preset, row, ["<guess>CRANE</guess>", "CRANE"], ["tag", "bare"])
    assert table["format"].tolist()[0] == 1.0 and table["format"].tolist()[1] < 1.0
    functions, _ = task_rewards(preset)
    (format_reward,) = [f for f in functions if f.__name__ == "format_reward"]
    assert format_reward(["<guess>CRANE</guess>"])[0] < 1.0  # the full style's verdict, without the column
