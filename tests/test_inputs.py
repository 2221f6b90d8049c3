"""Every bad input to the commands is one line on stderr, exit status 2, before any model loads and
before any folder is made: train's trainer settings and runs folder, eval's numbers, model and
adapter, play's secret, export's run folder; a failed push keeps the local export."""

from __future__ import annotations

import json

import pytest

from rft import cli
from rft.training.config import apply_overrides
from rft.training.presets import get_preset
from rft.training.run import check_before_loading


def one_line_error(capsys, command: list[str]) -> str:
    assert cli.main(command) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    return err


def test_trl_s_own_validation_runs_before_loading(no_model_loads, capsys, tmp_path):
    runs = tmp_path / "runs"
    err = one_line_error(
        capsys, ["train", "--preset", "tiny-test", "--runs-dir", str(runs), "--lr_scheduler_type", "bogus"]
    )
    assert "not a valid SchedulerType" in err
    assert not runs.exists()


def test_a_runs_folder_that_is_a_file_is_refused(no_model_loads, capsys, tmp_path):
    runs = tmp_path / "runs"
    runs.write_text("", encoding="utf-8")
    err = one_line_error(capsys, ["train", "--preset", "tiny-test", "--runs-dir", str(runs)])
    assert "is a file, not a folder" in err


def test_a_malformed_problems_file_is_named_with_its_line_before_loading(tmp_path):
    problems = tmp_path / "problems.jsonl"
    problems.write_text('{"question": "1+1?", "answer": "1+1=2\\n#### 2"}\n{"question": \n', encoding="utf-8")
    preset = apply_overrides(get_preset("tiny-test-gsm8k"), {"problems": str(problems)})
    with pytest.raises(ValueError, match=r"problems.jsonl.*line 2"):
        check_before_loading(preset, tmp_path / "runs")


def test_a_hub_dataset_out_of_reach_is_one_line_before_loading(no_model_loads, capsys, tmp_path, monkeypatch):
    import datasets.config
    import huggingface_hub.constants

    # Offline with nothing cached, as on a machine without the Hub; set where the libraries read it
    # (at their import, which an earlier test may have done), not only in the environment.
    cache = tmp_path / "empty-cache"
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", cache / "datasets")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(cache))
    runs = tmp_path / "runs"
    err = one_line_error(
        capsys,
        ["train", "--preset", "tiny-test-gsm8k", "--problems", "openai/gsm8k", "--runs-dir", str(runs)],
    )
    assert "problems: openai/gsm8k could not be loaded" in err and "problems=sample" in err
    assert not runs.exists()


def test_the_demo_checks_the_grpo_stage_s_device_before_the_warm_up(no_model_loads, capsys, tmp_path):
    if __import__("torch").cuda.is_available():
        pytest.skip("this machine has the GPU the preset needs")
    runs = tmp_path / "runs"
    err = one_line_error(
        capsys,
        ["demo", "--grpo-preset", "t4-qwen2.5-3b-wordle", "--sft-steps", "1", "--runs-dir", str(runs)],
    )
    assert "needs a CUDA GPU" in err and not runs.exists()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--games", "0"], "games must be a positive integer"),
        (["--games", "-3"], "games must be a positive integer"),
        (["--batch-size", "0"], "batch_size must be a positive integer"),
        (["--max-new-tokens", "0"], "max_new_tokens must be a positive integer"),
        (["--temperature", "-1"], "temperature must be a number >= 0"),
        (["--model", "tiny-tset"], "did you mean 'tiny-test'"),
        (["--adapter", "missing-run"], "no trained adapter there"),
    ],
)
def test_eval_arguments_are_checked_before_anything_loads(
    no_model_loads, capsys, tmp_path, arguments, message
):
    out = tmp_path / "out"
    command = ["eval", "--model", "tiny-test", "--out", str(out), *arguments]
    if "--model" in arguments:
        command = ["eval", "--out", str(out), *arguments]
    assert message in one_line_error(capsys, command)
    assert not out.exists()


def finished_run(folder, preset_name: str):
    """A run folder as far as the checks before loading can tell: its preset and a whole adapter."""
    (folder / "adapter").mkdir(parents=True)
    (folder / "config.json").write_text(
        json.dumps({"preset": get_preset(preset_name).to_dict()}), encoding="utf-8"
    )
    (folder / "adapter" / "adapter_config.json").write_text("{}", encoding="utf-8")
    (folder / "adapter" / "adapter_model.safetensors").write_bytes(b"\x02\x00\x00\x00\x00\x00\x00\x00{}")
    return folder


def test_eval_refuses_a_model_and_an_adapter_of_different_tasks(no_model_loads, capsys, tmp_path):
    run = finished_run(tmp_path / "run", "tiny-test")
    out = tmp_path / "out"
    err = one_line_error(
        capsys, ["eval", "--model", "tiny-test-gsm8k", "--adapter", str(run), "--out", str(out)]
    )
    assert "is a gsm8k model and --adapter" in err and "a wordle run" in err and not out.exists()


def test_eval_reads_a_gsm8k_runs_problems_before_anything_loads(no_model_loads, capsys, tmp_path):
    run = finished_run(tmp_path / "run", "tiny-test-gsm8k")
    config = json.loads((run / "config.json").read_text())
    config["preset"]["dataset"]["problems"] = str(tmp_path / "gone.jsonl")
    (run / "config.json").write_text(json.dumps(config), encoding="utf-8")
    err = one_line_error(capsys, ["eval", "--model", str(run), "--out", str(tmp_path / "out")])
    assert "gone.jsonl" in err and not (tmp_path / "out").exists()


def test_a_damaged_adapter_is_refused_by_eval_and_export(no_model_loads, capsys, tmp_path):
    run = tmp_path / "run"
    (run / "adapter").mkdir(parents=True)
    (run / "config.json").write_text(
        json.dumps({"preset": get_preset("tiny-test").to_dict()}), encoding="utf-8"
    )
    (run / "adapter" / "adapter_config.json").write_text("{}", encoding="utf-8")
    (run / "adapter" / "adapter_model.safetensors").write_bytes(b'\x10\x00\x00\x00\x00\x00\x00\x00{"a": ')
    assert "cut short" in one_line_error(capsys, ["eval", "--model", "tiny-test", "--adapter", str(run)])
    assert "cut short" in one_line_error(capsys, ["export", str(run), "--no-merged"])
    assert not (run / "export").exists()


def test_play_refuses_a_secret_that_is_not_a_word(capsys):
    assert "--secret" in one_line_error(capsys, ["play", "--human", "--secret", "zzzzz"])


@pytest.mark.slow
def test_a_failed_push_keeps_and_reports_the_local_export(tmp_path, capsys, monkeypatch):
    from rft.training.run import train

    run = train(
        apply_overrides(get_preset("tiny-test"), {"max_steps": "1"}), runs_dir=tmp_path, progress=False
    )
    monkeypatch.setenv("HF_TOKEN", "hf_not_a_real_token")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code = cli.main(["export", str(run.run_dir), "--no-merged", "--push-to", "someone/tiny"])
    captured = capsys.readouterr()
    assert code == 1
    assert "pushing to someone/tiny failed" in captured.err and "local export above is kept" in captured.err
    assert str(run.run_dir / "export" / "lora") in captured.out
    assert (run.run_dir / "export" / "lora" / "adapter_model.safetensors").is_file()


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        (["--report_to", "trackio"], "report_to trackio: TrackioCallback requires trackio to be installed"),
        (["--optim", "adamw_8bit"], "optim adamw_8bit: bitsandbytes' optimizers need a CUDA GPU"),
        (["--use_vllm", "true"], "use_vllm: vLLM is not installed"),
    ],
)
def test_a_setting_naming_a_missing_package_or_device_is_one_line(
    no_model_loads, capsys, tmp_path, monkeypatch, setting, message
):
    import importlib.util

    real = importlib.util.find_spec
    missing = {"trackio", "vllm"}
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name in missing else real(name, *a)
    )
    runs = tmp_path / "runs"
    err = one_line_error(capsys, ["train", "--preset", "tiny-test", "--runs-dir", str(runs), *setting])
    assert message in err and not runs.exists()
    err = one_line_error(capsys, ["preflight", "--preset", "tiny-test", "--runs-dir", str(runs), *setting])
    assert message in err and not runs.exists()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--lr_scheduler_type", "bogus"], "not a valid SchedulerType"),
        (["--session-hours", "inf"], "--session-hours must be a positive number, got inf"),
        (["--session-hours", "0"], "--session-hours must be a positive number"),
    ],
)
def test_preflight_checks_everything_before_it_measures(no_model_loads, capsys, tmp_path, arguments, message):
    runs = tmp_path / "runs"
    err = one_line_error(capsys, ["preflight", "--preset", "tiny-test", "--runs-dir", str(runs), *arguments])
    assert message in err and not runs.exists()


def test_preflight_refuses_a_runs_folder_it_cannot_write(no_model_loads, capsys, tmp_path):
    runs = tmp_path / "runs"
    runs.write_text("", encoding="utf-8")
    err = one_line_error(capsys, ["preflight", "--preset", "tiny-test", "--runs-dir", str(runs)])
    assert "is a file, not a folder" in err


def test_eval_and_export_check_their_output_and_seed_first(no_model_loads, capsys, tmp_path):
    taken = tmp_path / "a-file"
    taken.write_text("", encoding="utf-8")
    base = ["eval", "--model", "tiny-test", "--games", "2"]
    err = one_line_error(capsys, [*base, "--out", str(taken)])
    assert err.startswith("rft eval: error: --out ") and "is a file, not a folder" in err
    err = one_line_error(capsys, [*base, "--out", str(taken / "below")])
    assert "is a file, so the folder cannot be made" in err
    assert "seed must be a whole number >= 0, got -1" in one_line_error(capsys, [*base, "--seed", "-1"])
    run = tmp_path / "run"
    (run / "adapter").mkdir(parents=True)
    (run / "adapter" / "adapter_config.json").write_text("{}", encoding="utf-8")
    header = json.dumps({"__metadata__": {}}).encode()
    (run / "adapter" / "adapter_model.safetensors").write_bytes(len(header).to_bytes(8, "little") + header)
    (run / "config.json").write_text(
        json.dumps({"preset": get_preset("tiny-test").to_dict()}), encoding="utf-8"
    )
    err = one_line_error(capsys, ["export", str(run), "--out", str(taken)])
    assert "is a file, not a folder" in err


def test_eval_refuses_folders_that_are_not_a_model_saying_what_to_give(no_model_loads, capsys, tmp_path):
    runs = tmp_path / "runs"
    (runs / "some-run").mkdir(parents=True)
    (runs / "some-run" / "config.json").write_text(json.dumps({"preset": {}}), encoding="utf-8")
    err = one_line_error(capsys, ["eval", "--model", str(runs)])
    assert "not a model or run folder" in err and "give one of its runs" in err
    checkpoint = tmp_path / "checkpoint-3"
    checkpoint.mkdir()
    (checkpoint / "adapter_config.json").write_text("{}", encoding="utf-8")
    err = one_line_error(capsys, ["eval", "--model", str(checkpoint)])
    assert "is an adapter (a checkpoint or an export's lora/), not a model" in err
    other = tmp_path / "other"
    other.mkdir()
    (other / "config.json").write_text('{"colour": "blue"}', encoding="utf-8")
    assert "neither a run's nor a model's" in one_line_error(capsys, ["eval", "--model", str(other)])


def test_play_checks_model_adapter_and_secret_before_loading(no_model_loads, capsys, tmp_path):
    assert "is not a preset" in one_line_error(capsys, ["play", "--model", "bogus"])
    err = one_line_error(capsys, ["play", "--model", "tiny-test", "--secret", "zzzzz"])
    assert "zzzzz" in err
    garbage = tmp_path / "adapter"
    garbage.mkdir()
    (garbage / "adapter_config.json").write_text("{not json", encoding="utf-8")
    assert "is not valid JSON" in one_line_error(
        capsys, ["play", "--model", "tiny-test", "--adapter", str(garbage)]
    )


@pytest.mark.parametrize(
    ("report_to", "message"),
    [
        ("azure_ml", "report_to azure_ml: AzureMLCallback requires azureml to be installed"),
        (
            "dagshub",
            "report_to dagshub: MLflowCallback requires mlflow to be installed",
        ),  # dagshub logs through it
        ("wandb,bogus", "report_to 'bogus': not an integration the installed transformers knows; one of "),
        ("tensorbord", "report_to 'tensorbord' (did you mean 'tensorboard'?): not an integration"),
        ("kubeflow", "report_to kubeflow: KubeflowCallback requires"),
    ],
)
def test_every_report_to_integration_is_checked_by_name_and_package_before_loading(
    no_model_loads, capsys, tmp_path, monkeypatch, report_to, message
):
    """The names are the installed transformers' own list, each integration's package checked by
    its own callback: whatever it is, train and preflight fail in one line with no run folder."""
    from transformers.integrations import INTEGRATION_TO_CALLBACK

    monkeypatch.delenv("KUBEFLOW_TRAINER_SERVER_URL", raising=False)
    runs = tmp_path / "runs"
    for command in ("train", "preflight"):
        err = one_line_error(
            capsys, [command, "--preset", "tiny-test", "--runs-dir", str(runs), "--report_to", report_to]
        )
        assert message in err and not runs.exists()
    assert ", ".join(sorted(INTEGRATION_TO_CALLBACK)) in one_line_error(
        capsys, ["train", "--preset", "tiny-test", "--runs-dir", str(runs), "--report_to", "bogus"]
    )


def test_a_comma_list_of_integrations_reaches_the_trainer_as_a_list():
    preset = apply_overrides(get_preset("tiny-test"), {"report_to": "none, all"})
    assert preset.trainer_args["report_to"] == ["none", "all"]


def test_a_missing_integration_package_is_one_line_on_stderr_in_a_real_process(tmp_path):
    """MLflow's and Neptune's callbacks, built without their package, print a traceback from their
    __del__ when dropped; the check keeps stderr to its one line (pytest would hide that noise)."""
    import os
    import subprocess
    import sys

    runs = tmp_path / "runs"
    command = [sys.executable, "-m", "rft.cli", "preflight", "--preset", "tiny-test", "--runs-dir", str(runs)]
    for name, package in (("mlflow", "mlflow"), ("neptune", "Neptune")):
        if __import__("importlib.util").util.find_spec(name) is not None:
            continue  # installed here: nothing to refuse
        done = subprocess.run(
            [*command, "--report_to", name], capture_output=True, text=True, env={**os.environ}, timeout=300
        )
        err = [
            line for line in done.stderr.splitlines() if "Warning" not in line and "warnings.warn" not in line
        ]
        assert done.returncode == 2 and len(err) == 1 and f"report_to {name}:" in err[0] and package in err[0]
        assert not runs.exists()
