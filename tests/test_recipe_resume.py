"""Resuming the recipe (rft recipe / rft demo / notebook 01, one orchestrator: rft.recipe): a
finished stage is never trained again, and a resume target is a run of the recipe's own presets."""

import json
import shutil

import pytest

from rft.cli import main
from rft.files import write_json
from rft.recipe import grpo_stage, plan_recipe, warm_up_stage
from rft.training.presets import get_preset
from rft.training.run import mark_running, read_run_config, read_status

ARGUMENTS = ["--sft-preset", "tiny-test-sft", "--grpo-preset", "tiny-test", "--sft-steps", "1"]
ARGUMENTS += ["--grpo-steps", "1", "--eval-games", "0", "--no-progress"]


def test_a_resume_after_a_stop_between_the_stages_keeps_the_finished_warm_up(tmp_path, capsys):
    """The session ended just after the GRPO run folder appeared (before its first checkpoint):
    --resume latest goes on in the same recipe folder from the finished warm-up, and trains GRPO;
    it does not warm up again."""
    assert main(["recipe", *ARGUMENTS, "--runs-dir", str(tmp_path)]) == 0
    (folder,) = tmp_path.glob("recipe-*")
    (sft,) = folder.glob("tiny-test-sft-*")
    (grpo,) = folder.glob("tiny-test-2*")
    for item in grpo.iterdir():  # what a kill right after the GRPO run began leaves: its settings
        if item.name != "config.json":
            shutil.rmtree(item) if item.is_dir() else item.unlink()
    mark_running(grpo, 0)
    warm_up_metrics = (sft / "metrics.jsonl").read_text()
    capsys.readouterr()

    assert main(["recipe", *ARGUMENTS, "--runs-dir", str(tmp_path), "--resume", "latest"]) == 0
    printed = capsys.readouterr().out
    assert list(tmp_path.glob("recipe-*")) == [folder] and list(folder.glob("tiny-test-sft-*")) == [sft]
    assert f"The warm-up {sft} is finished: GRPO continues its adapter." in printed
    assert (sft / "metrics.jsonl").read_text() == warm_up_metrics  # not one step trained again
    (again,) = [run for run in folder.glob("tiny-test-2*") if run != grpo]
    assert read_status(again)["state"] == "finished" and read_run_config(again).init_from == str(
        sft.resolve()
    )

    # Once that recipe is done, "latest" has nothing of it left to carry on: a new recipe.
    assert main(["recipe", *ARGUMENTS, "--runs-dir", str(tmp_path), "--resume", "latest"]) == 0
    assert len(list(tmp_path.glob("recipe-*"))) == 2


def test_a_resume_target_from_another_preset_is_refused_in_one_line(tmp_path, capsys):
    other = tmp_path / "other-run"
    other.mkdir()
    write_json(other / "config.json", {"preset": get_preset("tiny-test-games").to_dict()})
    runs = tmp_path / "runs"
    for command in ("recipe", "demo"):
        assert main([command, *ARGUMENTS, "--runs-dir", str(runs), "--resume", str(other)]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "Traceback" not in err
        assert (
            f"resume: {other} is a run of tiny-test-games, not of this recipe's tiny-test-sft or tiny-test"
            in err
        )
    assert not runs.exists() or not any(runs.iterdir())  # no recipe folder, no run
    # The notebook's cells call the stages one by one: each refuses it too.
    plan = plan_recipe(get_preset("tiny-test-sft"), get_preset("tiny-test"), runs)
    with pytest.raises(ValueError, match="is a run of tiny-test-games, not of this recipe's"):
        warm_up_stage(plan, runs, other, None, progress=False)
    with pytest.raises(ValueError, match="is a run of tiny-test-games, not of this recipe's"):
        grpo_stage(plan, runs, None, other, None, progress=False)
    assert json.loads((other / "config.json").read_text())["preset"]["name"] == "tiny-test-games"


def test_a_notebook_resume_of_another_presets_run_is_refused(tmp_path):
    """Notebook 02 continues one run (rft.notebook.train_or_continue): RESUME set to a run of another
    preset is an error naming both, not a new run started without a word."""
    from rft import notebook

    other = tmp_path / "other-run"
    other.mkdir()
    write_json(other / "config.json", {"preset": get_preset("tiny-test-games").to_dict()})
    with pytest.raises(
        ValueError, match=f"RESUME: {other} is a run of tiny-test-games, not of tiny-test-gsm8k"
    ):
        notebook.run_to_continue(other, tmp_path, get_preset("tiny-test-gsm8k"))
    assert notebook.run_to_continue(other, tmp_path, get_preset("tiny-test-games")) == other
