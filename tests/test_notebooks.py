"""The notebooks themselves run under nbmake (``notebooks/conftest.py``, smoke mode); these tests
check what running them cannot: that each ``.ipynb`` matches its reviewed ``.py`` twin, carries
no outputs, and installs from the same repository the README's badges open; and the glue in
``rft.notebook`` that their cells call."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jupytext
import nbformat
import pytest

from rft import notebook
from rft.training.presets import get_preset

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
    references = notebook.reference_completions(row)
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
