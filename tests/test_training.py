import json
import math
from dataclasses import replace

import pytest

from rft.cli import main, parse_overrides
from rft.gsm8k.problems import GSM8KDatasetConfig
from rft.runtime import MissingDependencyError, require
from rft.training.config import Preset, apply_overrides, validate
from rft.training.policy import check_device
from rft.training.presets import PRESETS, get_preset
from rft.training.run import last_checkpoint, new_run_dir, read_metrics, read_run_config, train
from rft.wordle.dataset import WordleDatasetConfig


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_is_valid_and_survives_a_round_trip(name, tmp_path):
    preset = get_preset(name)
    if preset.own_games:  # it continues a warm-up, named when it runs
        with pytest.raises(ValueError, match="own_games is for a Wordle run with init_from"):
            validate(preset)
        (tmp_path / "adapter").mkdir()
        (tmp_path / "adapter" / "adapter_config.json").write_text("{}", encoding="utf-8")
        preset = replace(preset, init_from=str(tmp_path))
    preset = validate(preset)
    assert Preset.from_dict(json.loads(json.dumps(preset.to_dict()))) == preset


def test_a_config_json_with_an_unknown_or_misplaced_field_is_named():
    """No release carried the older field names, so they are unknown fields now, like any other."""
    preset = get_preset("cpu-smollm2-wordle").to_dict()
    with pytest.raises(ValueError, match="unknown preset field 'use_vllm'"):
        Preset.from_dict({**preset, "use_vllm": True})
    with pytest.raises(ValueError, match="unknown WordleDatasetConfig field 'problems' in dataset"):
        Preset.from_dict({**preset, "dataset": {**preset["dataset"], "problems": "x"}})
    with pytest.raises(ValueError, match="dataset: expected an object of WordleDatasetConfig fields"):
        Preset.from_dict({**preset, "dataset": [1]})


def test_overrides_take_the_type_of_their_field():
    preset = apply_overrides(
        get_preset("tiny-test"),
        {
            "learning_rate": "1e-5",
            "max_steps": "7",
            "--lora-r": "8",
            "gradient_checkpointing": "false",
            "rewards": "format=1,guess_value=2.5",
            "lora_target_modules": "q_proj,v_proj",
            "history_players": "solver=3,random-consistent=1",
            "rejected-share": "0.5",
            "report_to": "none",
        },
    )
    assert preset.trainer_args["learning_rate"] == 1e-5 and preset.trainer_args["max_steps"] == 7
    assert preset.lora_r == 8 and preset.trainer_args["gradient_checkpointing"] is False
    assert preset.rewards == {"format": 1.0, "guess_value": 2.5}
    assert preset.lora_target_modules == ("q_proj", "v_proj")
    assert preset.dataset.history_players == {"solver": 3.0, "random-consistent": 1.0}
    assert preset.dataset.rejected_share == 0.5


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"learning_rat": "1"}, "unknown setting 'learning_rat' \\(did you mean 'learning_rate'\\?\\)"),
        ({"num_generations": "3"}, "must be divisible by num_generations = 3"),
        (
            {"num_generations": "1", "per_device_train_batch_size": "1"},
            "num_generations must be an integer >= 2",
        ),
        ({"max_steps": "abc"}, "max_steps: expected int, got 'abc'"),
        ({"learning_rate": "-1"}, "learning_rate must be a positive number"),
        ({"fp16": "true"}, "fp16=True needs a GPU"),
        ({"rewards": "format=1,lenght=2"}, "unknown reward 'lenght'"),
        ({"rewards": "format"}, "name=weight pairs"),
        ({"history_players": "solver=1,human=2"}, "unknown player 'human' in history_players"),
        ({"history_players": "solver=-1"}, "history_players: the weight of 'solver' must be a number >= 0"),
        ({"history_players": "solver=0,random-valid=0"}, "history_players: weights must not all be zero"),
        ({"history_players": "oracle=1"}, "unknown player 'oracle' in history_players"),
        ({"history_players": "solver"}, "history_players: expected name=weight pairs"),
        ({"num_rows": "0"}, "num_rows must be a positive integer"),
        ({"max_history": "9"}, "max_history"),
        ({"rejected_share": "1.5"}, "rejected_share must be a number in \\[0, 1\\]"),
        ({"own_games": "-1"}, "own_games must be a whole number >= 0"),
        ({"own_games": "4"}, "own_games is for a Wordle run with init_from"),
        ({"gradient_checkpointing": "maybe"}, "expected true or false"),
        ({"gradient_accumulation_steps": "0"}, "gradient_accumulation_steps must be a positive integer"),
        ({"per_device_train_batch_size": "0"}, "per_device_train_batch_size must be a positive integer"),
        ({"seed": "-1"}, "seed must be a whole number >= 0"),
        ({"temperature": "-1"}, "temperature must be a positive number"),
        ({"beta": "-0.1"}, "beta must be a number >= 0"),
        ({"loss_type": "bogus"}, "loss_type must be one of .*'dapo'"),
        ({"max_steps": "-5"}, "max_steps must be a positive integer \\(or -1"),
        ({"save_steps": "0"}, "save_steps must be a positive number"),
        ({"push_to_hub": "true", "hub_token": "hf_x"}, "give the token as HF_TOKEN"),
    ],
)
def test_bad_settings_are_named_before_any_model_loads(overrides, message):
    with pytest.raises(ValueError, match=message):
        apply_overrides(get_preset("tiny-test"), overrides)


def test_a_preset_holds_its_tasks_dataset_config_and_takes_its_fields_by_name():
    gsm8k = apply_overrides(get_preset("tiny-test-gsm8k"), {"num_rows": "8"})
    assert gsm8k.dataset == GSM8KDatasetConfig(num_rows=8, problems="sample")
    with pytest.raises(
        ValueError, match=r"unknown setting 'rejected_share'.*GSM8KDatasetConfig field \(gsm8k\)"
    ):
        apply_overrides(gsm8k, {"rejected_share": "0.5"})
    switched = apply_overrides(get_preset("tiny-test"), {"task": "gsm8k", "problems": "sample"})
    assert switched.dataset == GSM8KDatasetConfig(problems="sample")
    with pytest.raises(
        ValueError, match="dataset: task 'gsm8k' reads a GSM8KDatasetConfig, got WordleDatasetConfig"
    ):
        validate(replace(gsm8k, dataset=WordleDatasetConfig()))
    with pytest.raises(ValueError, match="unknown WordleDatasetConfig field 'problems' in dataset"):
        Preset.from_dict({**get_preset("tiny-test").to_dict(), "dataset": {"problems": "sample"}})


def test_unknown_preset_suggests_the_closest():
    with pytest.raises(ValueError, match="did you mean 'cpu-smollm2-wordle'"):
        get_preset("cpu-smollm2-wordl")


def test_a_gpu_preset_on_a_cpu_machine_names_the_cpu_preset():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(RuntimeError, match=r"needs a CUDA GPU.*--preset cpu-smollm2-wordle"):
        check_device(get_preset("t4-qwen2.5-3b-wordle"))


def test_a_missing_package_comes_with_its_pip_command():
    with pytest.raises(MissingDependencyError, match="install it with: pip install no-such-package"):
        require("no_such_package_for_rft", "pip install no-such-package")


def test_parse_overrides_reads_both_spellings():
    assert parse_overrides(["--max_steps", "3", "--learning_rate=1e-4"]) == {
        "max_steps": "3",
        "learning_rate": "1e-4",
    }
    with pytest.raises(ValueError, match="--max_steps needs a value"):
        parse_overrides(["--max_steps"])
    with pytest.raises(ValueError, match="expected a setting"):
        parse_overrides(["3"])


def test_cli_reports_a_bad_setting_without_a_traceback(capsys):
    assert main(["train", "--preset", "tiny-test", "--num_generations", "3"]) == 2
    assert "must be divisible by num_generations" in capsys.readouterr().err


def test_run_folders_are_never_reused(tmp_path):
    first, second = new_run_dir(tmp_path, "tiny-test"), new_run_dir(tmp_path, "tiny-test")
    assert first != second and first.is_dir() and second.is_dir()


class StopAt:
    """Stops training after a given step, as a closed laptop or an ended Colab session would."""

    def __new__(cls, step):
        from transformers import TrainerCallback

        class _StopAt(TrainerCallback):
            def on_step_end(self, args, state, control, **kwargs):
                if state.global_step >= step:
                    control.should_training_stop = True

        return _StopAt()


@pytest.mark.slow
def test_tiny_preset_trains_logs_saves_and_resumes(tmp_path):
    preset = apply_overrides(get_preset("tiny-test"), {"max_steps": "4", "save_steps": "2"})
    interrupted = train(preset, runs_dir=tmp_path, progress=False, extra_callbacks=[StopAt(3)])
    run_dir = interrupted.run_dir
    assert interrupted.global_step == 3
    assert last_checkpoint(run_dir).name == "checkpoint-2"
    assert (run_dir / "config.json").is_file() and (run_dir / "adapter" / "adapter_config.json").is_file()
    assert (run_dir / "curves.png").stat().st_size > 0
    assert [row["step"] for row in read_metrics(run_dir / "metrics.jsonl")] == [1, 2, 3]
    samples = [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]
    assert samples and set(samples[0]["rewards"]) == {
        "format_reward",
        "feedback_reward",
        "guess_value_reward",
    }
    assert {"secret", "history", "history_player", "rejected"} <= set(
        samples[0]
    )  # which state each group met

    resumed = train(resume_dir=run_dir, progress=False)
    assert resumed.run_dir == run_dir and resumed.global_step == 4
    rows = read_metrics(run_dir / "metrics.jsonl")
    assert [row["step"] for row in rows] == [1, 2, 3, 4]  # step 3 redone once, none lost
    sampled = [json.loads(line)["step"] for line in (run_dir / "samples.jsonl").read_text().splitlines()]
    assert sorted(set(sampled)) == [1, 2, 3, 4] and len(sampled) == 4 * len(samples) // 3
    assert all(math.isfinite(row["loss"]) for row in rows)
    for key in ("reward", "rewards/format_reward/mean", "completions/mean_length", "step_time"):
        assert key in rows[-1]

    import torch

    state = json.loads((run_dir / "checkpoint-4" / "trainer_state.json").read_text())
    assert state["global_step"] == 4
    optimizer = torch.load(run_dir / "checkpoint-4" / "optimizer.pt", weights_only=False)
    # 4 optimizer steps: the 2 before the checkpoint were restored, not started afresh (that gives 2)
    assert {int(s["step"]) for s in optimizer["state"].values()} == {4}


@pytest.mark.slow
def test_sft_warm_up_then_grpo_continues_its_adapter(tmp_path):
    warm_up = train(get_preset("tiny-test-sft"), runs_dir=tmp_path, progress=False)
    assert warm_up.global_step == 2
    losses = [row["loss"] for row in read_metrics(warm_up.metrics_path)]
    assert len(losses) == 2 and all(math.isfinite(loss) for loss in losses)
    adapter = warm_up.adapter_dir / "adapter_model.safetensors"
    assert adapter.is_file() and (warm_up.run_dir / "curves.png").is_file()

    preset = apply_overrides(get_preset("tiny-test"), {"init_from": str(warm_up.run_dir), "max_steps": "1"})
    grpo = train(preset, runs_dir=tmp_path, progress=False)
    assert grpo.global_step == 1 and grpo.run_dir != warm_up.run_dir

    from safetensors.torch import load_file

    before, after = load_file(adapter), load_file(grpo.adapter_dir / "adapter_model.safetensors")
    assert before.keys() == after.keys()  # the same adapter, continued


@pytest.mark.slow
def test_a_kl_term_after_the_warm_up_holds_grpo_to_the_warm_up_not_the_base(tmp_path):
    import torch
    from safetensors.torch import load_file

    from rft.training.policy import load_policy
    from rft.training.run import build_trainer

    warm_up = train(get_preset("tiny-test-sft"), runs_dir=tmp_path, progress=False)
    warm_weights = load_file(warm_up.adapter_dir / "adapter_model.safetensors")
    trained_b = [tensor for name, tensor in warm_weights.items() if name.endswith("lora_B.weight")]
    assert any(tensor.abs().sum() > 0 for tensor in trained_b)  # so the warm-up is not the base
    preset = apply_overrides(
        get_preset("tiny-test"), {"init_from": str(warm_up.run_dir), "max_steps": "1", "beta": "0.04"}
    )
    trainer = build_trainer(preset, load_policy(preset), tmp_path / "built", progress=False, callbacks=[])
    reference = {
        name.replace(".ref.", "."): parameter
        for name, parameter in trainer.model.named_parameters()
        if ".ref." in name
    }
    assert reference.keys() == warm_weights.keys()  # the reference is the warm-up's adapter, ...
    assert all(torch.equal(reference[name], warm_weights[name]) for name in warm_weights)
    assert not any(parameter.requires_grad for parameter in reference.values())  # ... frozen

    grpo = train(preset, runs_dir=tmp_path, progress=False)
    assert grpo.global_step == 1
    assert not (grpo.adapter_dir / "ref").exists()  # the frozen copy is not saved as the run's work
    assert load_file(grpo.adapter_dir / "adapter_model.safetensors").keys() == warm_weights.keys()


@pytest.mark.slow
def test_a_second_warm_up_learns_from_the_games_the_first_one_plays(tmp_path):
    first = train(get_preset("tiny-test-sft"), runs_dir=tmp_path, progress=False)
    settings = {"init_from": str(first.run_dir), "own_games": "2", "max_steps": "1"}
    second = train(apply_overrides(get_preset("tiny-test-sft"), settings), runs_dir=tmp_path, progress=False)
    assert second.global_step == 1
    own = json.loads((second.run_dir / "own_games.json").read_text())
    assert len(own["games"]) == 2 and own["metrics"]["games"] == 2
    assert own["states"] == sum(game["guesses"] for game in own["games"]) > 0
    assert own["seconds"] > 0  # they count against the run's time, so the time is kept


@pytest.mark.slow
def test_grpo_after_the_warm_up_samples_its_groups_in_the_games_the_warm_up_plays(tmp_path):
    from rft.training.policy import load_policy
    from rft.training.run import build_trainer

    warm_up = train(get_preset("tiny-test-sft"), runs_dir=tmp_path, progress=False)
    settings = {"init_from": str(warm_up.run_dir), "own_games": "2", "num_rows": "3", "max_steps": "1"}
    preset = apply_overrides(get_preset("tiny-test"), settings)
    trainer = build_trainer(preset, load_policy(preset), tmp_path, progress=False, callbacks=[])
    own = json.loads((tmp_path / "own_games.json").read_text())
    assert len(own["games"]) == 2 and own["states"] >= 2
    data = trainer.train_dataset
    assert any(
        r for p, r in zip(data["history_player"], data["rejected"]) if p == "own-games"
    )  # its own misses
    assert len(data) == own["states"] + 3 and data["history_player"].count("own-games") == own["states"]
    trainer.train()
    assert trainer.state.global_step == 1


@pytest.mark.slow
def test_the_short_style_warms_up_on_words_alone_then_trains_grpo_on_several_groups_a_step(tmp_path):
    from rft.training.policy import load_policy
    from rft.training.run import build_trainer
    from rft.wordle.rewards import format_reward

    warm_up = train(get_preset("tiny-test-short-sft"), runs_dir=tmp_path, progress=False)
    assert warm_up.global_step == 2
    assert all(math.isfinite(row["loss"]) for row in read_metrics(warm_up.metrics_path))

    preset = apply_overrides(get_preset("tiny-test-short"), {"init_from": str(warm_up.run_dir)})
    trainer = build_trainer(preset, load_policy(preset), tmp_path / "built", progress=False, callbacks=[])
    data = trainer.train_dataset
    assert set(data["prompt_style"]) == {"short"} and all(data["history"])  # no empty board
    assert data[0]["prompt"][0]["content"].endswith(
        "Answer with the guess tag alone (ABCDE stands for your 5-letter word):\n<guess>ABCDE</guess>"
    )
    # Two prompts of four completions an optimizer step (one a pass), the learning rate warmed up
    # then decayed.
    args = trainer.args
    shape = (args.per_device_train_batch_size, args.gradient_accumulation_steps, args.num_generations)
    assert shape == (4, 2, 4)
    assert (args.lr_scheduler_type, args.warmup_steps, args.beta) == ("cosine", 0.1, 0.04)

    grpo = train(preset, runs_dir=tmp_path, progress=False)
    assert grpo.global_step == 2
    rows = read_metrics(grpo.metrics_path)
    assert [row["step"] for row in rows] == [1, 2] and all(math.isfinite(row["loss"]) for row in rows)
    assert rows[-1]["completions/max_length"] <= 16
    samples = [json.loads(line) for line in (grpo.run_dir / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 2 * 8 and {sample["prompt_style"] for sample in samples} == {"short"}
    # The trainer paid each completion the short style's format score, as the reward computes it.
    for sample in samples:
        expected = format_reward([sample["completion"]], prompt_style=["short"])[0]
        assert sample["rewards"]["format_reward"] == expected


def test_init_from_must_be_a_finished_run(tmp_path):
    with pytest.raises(ValueError, match=r"init_from: .* is not a finished run folder"):
        apply_overrides(get_preset("tiny-test"), {"init_from": str(tmp_path)})


def test_settings_for_a_run_whose_warm_up_is_still_to_train_are_checked_without_it(tmp_path):
    settings = {"init_from": str(tmp_path / "warm-up"), "own_games": "4", "num_rows": "2"}
    preset = apply_overrides(get_preset("tiny-test"), settings, init_from_trained=False)
    assert (preset.own_games, preset.dataset.num_rows) == (4, 2)
    with pytest.raises(ValueError, match="num_rows must be a positive integer"):
        apply_overrides(get_preset("tiny-test"), {**settings, "num_rows": "0"}, init_from_trained=False)
    with pytest.raises(ValueError, match=r"init_from: .* is not a finished run folder"):
        apply_overrides(get_preset("tiny-test"), settings)


def test_init_from_is_kept_absolute_and_a_moved_run_still_reads(tmp_path, monkeypatch):
    import shutil

    warm_up = tmp_path / "warm-up"
    (warm_up / "adapter").mkdir(parents=True)
    (warm_up / "adapter" / "adapter_config.json").write_text("{}")
    monkeypatch.chdir(tmp_path)
    preset = apply_overrides(get_preset("tiny-test"), {"init_from": "warm-up"})
    assert preset.init_from == str(warm_up.resolve())
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"preset": preset.to_dict()}))
    shutil.rmtree(warm_up)  # downloaded elsewhere without its warm-up: still a readable run
    assert read_run_config(run).init_from is None


@pytest.mark.slow
def test_resume_refuses_a_folder_without_checkpoints(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"preset": get_preset("tiny-test").to_dict()}))
    with pytest.raises(FileNotFoundError, match="no complete checkpoint-N folder"):
        train(resume_dir=tmp_path, progress=False)


def test_recipe_checks_the_grpo_stage_before_the_warm_up_trains(tmp_path):
    from rft.recipe import run_recipe

    with pytest.raises(ValueError, match="max_steps must be a positive integer"):
        run_recipe("tiny-test-sft", "tiny-test", sft_steps=1, grpo_steps=0, runs_dir=tmp_path, progress=False)
    assert not list(tmp_path.iterdir())  # no run folder, no warm-up trained


@pytest.mark.slow
def test_recipe_runs_warm_up_grpo_and_evaluates_every_stage(tmp_path, capsys):
    arguments = ["demo", "--sft-preset", "tiny-test-sft", "--grpo-preset", "tiny-test", "--sft-steps", "1"]
    arguments += ["--grpo-steps", "1", "--eval-games", "2", "--runs-dir", str(tmp_path), "--no-progress"]
    assert main(arguments) == 0
    (folder,) = tmp_path.glob("recipe-*")
    assert len(list(folder.glob("tiny-test-sft-*"))) == 1 and len(list(folder.glob("tiny-test-2*"))) == 1
    evaluation = json.loads((folder / "eval" / "eval.json").read_text())
    assert list(evaluation["metrics"]) == [
        "solver",
        "random-consistent",
        "random-valid",
        "base",
        "sft",
        "sft+grpo",
    ]
    assert set(evaluation["vs_base"]) == {"sft", "sft+grpo"}
    printed = capsys.readouterr().out
    assert "SFT warm-up:   1 steps" in printed and "GRPO:          1 steps" in printed
    assert "| sft+grpo |" in printed and f"evaluation:    {folder / 'eval'}" in printed


def test_the_recipe_keeps_its_time_limit_and_resumes_where_it_stopped(tmp_path, capsys):
    """rft recipe --time-limit stops the warm-up with a checkpoint once the time is spent (it trains
    one step), and GRPO waits for it: it starts only from a finished warm-up. --resume latest then
    finishes the warm-up in the same folder and trains GRPO from it, as Run all does in the next
    session."""
    from rft.training.run import read_status

    arguments = ["recipe", "--sft-preset", "tiny-test-sft", "--grpo-preset", "tiny-test", "--sft-steps", "3"]
    arguments += ["--grpo-steps", "2", "--eval-games", "0", "--runs-dir", str(tmp_path), "--no-progress"]
    assert main([*arguments, "--time-limit", "1s"]) == 0
    (folder,) = tmp_path.glob("recipe-*")
    (sft,) = folder.glob("tiny-test-sft-*")
    assert (read_status(sft)["state"], read_status(sft)["step"]) == ("stopped", 1)
    assert not list(folder.glob("tiny-test-2*"))  # no GRPO from an unfinished warm-up
    printed = capsys.readouterr().out
    assert f"GRPO not started: the warm-up {sft} stopped at step 1 of 3" in printed
    assert 'resume "latest"' in printed and "GRPO not started" in printed.split("recipe folder:")[-1]
    assert main([*arguments, "--resume", "latest"]) == 0
    assert list(tmp_path.glob("recipe-*")) == [folder] and list(folder.glob("tiny-test-sft-*")) == [sft]
    (grpo,) = folder.glob("tiny-test-2*")
    assert (read_status(sft)["state"], read_status(sft)["step"]) == ("finished", 3)
    assert (read_status(grpo)["state"], read_status(grpo)["step"]) == ("finished", 2)
    assert read_run_config(grpo).init_from == str(sft.resolve())
    assert f"Continuing {sft} from its last checkpoint." in capsys.readouterr().out


def test_rft_train_resume_latest_finds_the_newest_unfinished_run_of_the_preset(tmp_path, capsys):
    assert main(["train", "--preset", "tiny-test", "--resume", "latest", "--runs-dir", str(tmp_path)]) == 2
    assert "no unfinished run of tiny-test with a complete checkpoint" in capsys.readouterr().err
    arguments = ["train", "--preset", "tiny-test", "--runs-dir", str(tmp_path), "--no-progress"]
    assert main([*arguments, "--max_steps", "2", "--time-limit", "1s"]) == 0
    assert main([*arguments, "--resume", "latest"]) == 0
    printed = capsys.readouterr().out
    assert "steps:        2" in printed and "stopped:" not in printed.split("steps:        2")[-1]


@pytest.mark.slow
def test_export_writes_lora_merged_model_and_card_and_needs_a_token_to_push(tmp_path, monkeypatch):
    from transformers import AutoModelForCausalLM

    from rft.export import export_run, model_card

    run = train(get_preset("tiny-test"), runs_dir=tmp_path, progress=False)
    card = model_card(run.run_dir, "someone/wordle-tiny")
    assert "preset `tiny-test`" in card and "format × 1, feedback × 2, guess_value × 0.5" in card
    assert 'AutoPeftModelForCausalLM.from_pretrained("someone/wordle-tiny")' in card
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(RuntimeError, match="needs a token: set HF_TOKEN"):
        export_run(run.run_dir, tmp_path / "out", merged=False, push_to="someone/wordle-tiny")
    assert (tmp_path / "out" / "lora" / "adapter_config.json").is_file()
    assert "Rewards and weights" in (tmp_path / "out" / "lora" / "README.md").read_text()

    written = export_run(run.run_dir)
    merged_card = (written["merged"] / "README.md").read_text()
    assert (
        "library_name: transformers" in merged_card and "AutoModelForCausalLM.from_pretrained" in merged_card
    )
    merged = AutoModelForCausalLM.from_pretrained(written["merged"])
    assert merged.num_parameters() > 0 and not any("lora" in name for name, _ in merged.named_parameters())
    assert (run.run_dir / "export" / "lora" / "adapter_model.safetensors").is_file()


@pytest.mark.slow
def test_one_grpo_step_of_the_real_cpu_preset(tmp_path):
    """The embedded SmolLM2-135M through the same path `make demo` takes (kept short: 16 tokens)."""
    settings = {"max_steps": "1", "max_completion_length": "16", "num_rows": "4", "save_steps": "1"}
    result = train(
        apply_overrides(get_preset("cpu-smollm2-wordle"), settings), runs_dir=tmp_path, progress=False
    )
    (row,) = read_metrics(result.metrics_path)
    assert row["step"] == 1 and math.isfinite(row["loss"])
    assert row["completions/max_length"] <= 16
    config = json.loads((result.run_dir / "config.json").read_text())
    assert (
        config["loader"] == "transformers" and config["preset"]["model"] == "embedded:SmolLM2-135M-Instruct"
    )
    assert (result.adapter_dir / "adapter_model.safetensors").is_file()
