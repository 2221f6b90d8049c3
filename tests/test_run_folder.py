"""Run folders survive what users do to them: no credential in any file written, one writer at a
time, resume past whatever a crash leaves, and a finished run never trained past its end."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rft.training.config import apply_overrides
from rft.training.lock import LOCK_FILE, STALE_AFTER_SECONDS, RunFolderLocked, writer_lock
from rft.training.presets import PRESETS, get_preset
from rft.training.run import (
    CHECKPOINT_MARKER,
    checkpoint_problem,
    read_metrics,
    read_run_config,
    read_status,
    redact_secrets,
    resumable_checkpoint,
    train,
)

SECRET = "hf_SECRETtoken123"


def files_holding(folder: Path, needle: bytes) -> list[str]:
    return sorted(
        str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and needle in p.read_bytes()
    )


def stop_after(step: int):
    """Ends training after ``step`` with a checkpoint, as a kill right after that save would."""
    from transformers import TrainerCallback

    class Stop(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == step:
                control.should_save = control.should_training_stop = True

    return Stop()


def test_redaction_covers_credential_names_and_passwords_in_urls():
    settings = {
        "hub_token": SECRET,
        "wandb_api_key": "k",
        "nested": [{"password": "p"}],
        "vllm_server_base_url": "http://user:pw@host:8000/v1",
        "learning_rate": 1e-5,
        "hub_model_id": "me/model",
    }
    assert redact_secrets(settings) == {
        "hub_token": "<redacted>",
        "wandb_api_key": "<redacted>",
        "nested": [{"password": "<redacted>"}],
        "vllm_server_base_url": "http://<redacted>@host:8000/v1",
        "learning_rate": 1e-5,
        "hub_model_id": "me/model",
    }


HOSTILE_SETTINGS = {
    "lr_scheduler_kwargs": {"headers": {"Authorization": "Bearer hf_abcDEF1234567890"}},
    "model_init_kwargs": {
        "apikey": "k1secret",
        "api-key": "k2secret",
        "auth": "k3secret",
        "passwd": "k4secret",
        "hf-token": "k5secret",
        "cookie": "k6secret",
        "X-Api-Key": "k7secret",
        "proxy": "https://TOKENk8secret@proxy.example/x",
        "mirror": "https://hub.example/api?token=k9secret&page=2",
        "note": "Authorization: Basic dXNlcjprMTBzZWNyZXQ=",
        "keys": ["sk-proj-abcdefghijklmnop1234", "ghp_abcdefghijklmnopqrstuvwxyz0123"],
        "wandb": "0123456789abcdef0123456789abcdef01234567",
    },
}
HOSTILE_SECRETS = ["hf_abcDEF1234567890", "dXNlcjprMTBzZWNyZXQ", "sk-proj-", "ghp_", "0123456789abcdef0123"]
HOSTILE_SECRETS += [f"k{i}secret" for i in range(1, 10)]


def test_credentials_are_redacted_by_value_and_by_more_names_at_any_depth():
    assert redact_secrets(HOSTILE_SETTINGS) == {
        "lr_scheduler_kwargs": {"headers": "<redacted>"},
        "model_init_kwargs": {
            **{name: "<redacted>" for name in ("apikey", "api-key", "auth", "passwd", "hf-token", "cookie")},
            "X-Api-Key": "<redacted>",
            "proxy": "https://<redacted>@proxy.example/x",
            "mirror": "https://hub.example/api?token=<redacted>&page=2",
            "note": "Authorization: Basic <redacted>",
            "keys": ["<redacted>", "<redacted>"],
            "wandb": "<redacted>",
        },
    }
    assert redact_secrets("curl -H 'Authorization: Bearer hf_abcDEF1234567890' x") == (
        "curl -H 'Authorization: Bearer <redacted>' x"
    )
    # What is not a credential stays as it was: every preset, special tokens, prose.
    for preset in PRESETS.values():
        assert redact_secrets(preset.to_dict()) == preset.to_dict()
    plain = {"eos_token": "<|im_end|>", "max_new_tokens": 8, "author": "me", "why": "Basic settings"}
    assert redact_secrets(plain) == plain


def test_dry_run_and_the_trainers_config_hold_no_credential(capsys, tmp_path):
    from rft import cli
    from rft.training.run import build_trainer_config

    overrides = {name: json.dumps(value) for name, value in HOSTILE_SETTINGS.items()}
    preset = apply_overrides(get_preset("tiny-test"), overrides)
    saved = json.dumps(build_trainer_config(preset, tmp_path, [1.0, 1.0, 1.0]).to_dict())  # training_args.bin
    flags = [token for name, value in overrides.items() for token in (f"--{name}", value)]
    assert cli.main(["train", "--preset", "tiny-test", "--runs-dir", str(tmp_path), *flags, "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert '"lr_scheduler_kwargs": {\n      "headers": "<redacted>"' in printed
    for secret in HOSTILE_SECRETS:
        assert secret not in printed and secret not in saved


def test_a_push_target_with_credentials_is_refused_before_anything_and_never_echoed(tmp_path, capsys):
    from rft import cli

    target = "https://me:hf_abcDEF1234567890@huggingface.co/me/x"
    assert cli.main(["export", str(tmp_path), "--push-to", target]) == 2
    printed = capsys.readouterr()
    assert printed.err == (
        "rft export: error: --push-to https://<redacted>@huggingface.co/me/x: give a Hub repo id like "
        "USER/REPO, not a URL; the token comes from HF_TOKEN in the environment (or Colab's secrets), "
        "never from the target\n"
    )
    assert "hf_abcDEF" not in printed.out and list(tmp_path.iterdir()) == []


def test_the_trainer_never_gets_a_credential_at_any_depth():
    from rft.training.run import build_trainer_config, without_secrets

    settings = {
        "hub_token": SECRET,
        "model_init_kwargs": {"token": SECRET, "nested": {"api_key": SECRET}, "revision": "main"},
        "learning_rate": 1e-5,
    }
    assert without_secrets(settings) == {
        "model_init_kwargs": {"token": "<redacted>", "nested": {"api_key": "<redacted>"}, "revision": "main"},
        "learning_rate": 1e-5,
    }
    preset = apply_overrides(
        get_preset("tiny-test"), {"hub_token": SECRET, "model_init_kwargs": '{"token": "x"}'}
    )
    config = build_trainer_config(preset, Path("unused"), [1.0, 1.0, 1.0])
    assert config.hub_token is None and config.model_init_kwargs == {"token": "<redacted>"}


@pytest.mark.slow
def test_a_token_given_as_a_setting_reaches_no_file_written_or_exported(tmp_path):
    from rft.export import export_run

    settings = {
        "max_steps": "1",
        "save_steps": "1",
        "hub_token": SECRET,
        "run_name": "http://me:pw123@host/x",
        "model_init_kwargs": json.dumps({"token": SECRET, "revision": "main"}),  # a dict-valued setting
        "hub_model_id": "me/x?token=k9secret",
    }
    run = train(apply_overrides(get_preset("tiny-test"), settings), runs_dir=tmp_path, progress=False)
    saved = run.run_dir / "checkpoint-1" / "training_args.bin"
    assert saved.is_file()  # kept (resume reads it), and never held the token: the trainer never had it
    import torch

    args = torch.load(saved, weights_only=False)
    assert args.hub_token is None and args.model_init_kwargs == {"token": "<redacted>", "revision": "main"}
    export_run(run.run_dir, merged=False)
    assert (run.run_dir / "export" / "lora" / "adapter_model.safetensors").is_file()
    assert not (run.run_dir / "export" / "lora" / "training_args.bin").exists()
    assert files_holding(run.run_dir, SECRET.encode()) == []
    assert files_holding(run.run_dir, b"pw123") == []
    assert files_holding(run.run_dir, b"k9secret") == []
    assert "hub_token" not in read_run_config(run.run_dir).trainer_args  # resume takes HF_TOKEN


def test_a_torn_last_line_is_dropped_and_a_bad_line_elsewhere_is_named(tmp_path, capsys):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 1}\n{"step": 2}\n{"step": 3, "lo', encoding="utf-8")
    assert read_metrics(path) == [{"step": 1}, {"step": 2}]
    assert "dropped its last line 3" in capsys.readouterr().out
    path.write_text('{"step": 1}\n{"step": 2\n{"step": 3}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"metrics.jsonl, line 2: not a JSON object"):
        read_metrics(path)
    path.write_text('{"step": 1}\n[1, 2]\n', encoding="utf-8")
    with pytest.raises(ValueError, match="line 2"):
        read_metrics(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [("{not json", "is not valid JSON"), ('{"versions": {}}', 'no "preset" object'), ("[]", 'no "preset"')],
)
def test_a_damaged_config_is_one_line_naming_the_file(tmp_path, text, message):
    (tmp_path / "config.json").write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=message) as error:
        read_run_config(tmp_path)
    assert str(tmp_path / "config.json") in str(error.value)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("lora_dropout", "0.1", "lora_dropout: expected float, got '0.1'"),
        ("lora_target_modules", None, "lora_target_modules: expected tuple[str, ...], got None"),
        ("rewards", {"format": "1"}, "rewards: expected Mapping[str, float]"),
        ("max_seq_length", 1.5, "max_seq_length: expected int, got 1.5"),
        ("end_at_answer", "yes", "end_at_answer: expected bool"),
        ("init_from", 3, "init_from: expected str | None, got 3"),
    ],
)
def test_a_hand_edited_config_of_the_wrong_type_names_the_file_and_the_field(tmp_path, field, value, message):
    preset = get_preset("tiny-test").to_dict()
    (tmp_path / "config.json").write_text(json.dumps({"preset": {**preset, field: value}}), encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape(message)) as error:
        read_run_config(tmp_path)
    assert str(error.value).startswith(f"{tmp_path / 'config.json'}: ")


def test_a_metrics_line_of_the_wrong_shape_is_named(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 1}\n{"step": "two"}\n{"step": 3}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"metrics.jsonl, line 2: its step is not a whole number"):
        read_metrics(path)


def test_every_preset_keeps_two_checkpoints():
    assert {name: p.trainer_args.get("save_total_limit") for name, p in PRESETS.items()} == dict.fromkeys(
        PRESETS, 2
    )


@pytest.fixture(scope="module")
def stopped_run(tmp_path_factory):
    """A tiny run stopped after step 3 of 5, with checkpoints 2 and 3 (two are kept)."""
    preset = apply_overrides(get_preset("tiny-test"), {"max_steps": "5", "save_steps": "1"})
    runs = tmp_path_factory.mktemp("runs")
    result = train(preset, runs_dir=runs, progress=False, extra_callbacks=[stop_after(3)])
    assert sorted(p.name for p in result.run_dir.glob("checkpoint-*")) == ["checkpoint-2", "checkpoint-3"]
    assert all((p / CHECKPOINT_MARKER).is_file() for p in result.run_dir.glob("checkpoint-*"))
    return result.run_dir


def copy_of(run_dir: Path, target: Path) -> Path:
    import shutil

    return Path(shutil.copytree(run_dir, target / run_dir.name))


def truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        ("only_readme", "trainer_state.json is missing"),
        ("adapter_model.safetensors", "weights"),
        ("optimizer.pt", "optimizer.pt is cut short"),
        ("trainer_state.json", "trainer_state.json is missing or cut short"),
        ("no_marker", "still being written"),
    ],
)
def test_resume_skips_an_incomplete_last_checkpoint_and_keeps_it(
    stopped_run, tmp_path, capsys, damage, reason
):
    run_dir = copy_of(stopped_run, tmp_path)
    last = run_dir / "checkpoint-3"
    if damage == "only_readme":
        for path in last.iterdir():
            if path.name != "README.md":
                path.unlink()
    elif damage == "no_marker":
        (last / CHECKPOINT_MARKER).unlink()
    else:
        truncate(last / damage)
    assert reason in checkpoint_problem(last)
    assert resumable_checkpoint(run_dir).name == "checkpoint-2"
    assert "skipping checkpoint-3" in capsys.readouterr().out
    assert last.is_dir()  # never deleted


@pytest.mark.slow
def test_resume_after_a_crash_trains_each_step_once(stopped_run, tmp_path):
    run_dir = copy_of(stopped_run, tmp_path)
    for path in (run_dir / "checkpoint-3").iterdir():
        if path.name != "README.md":
            path.unlink()  # a kill -9 right after the folder appeared
    with (run_dir / "metrics.jsonl").open("a", encoding="utf-8") as handle:
        handle.write('{"step": 4, "lo')  # and one mid-write
    resumed = train(resume_dir=run_dir, progress=False)
    assert resumed.global_step == 5 and read_status(run_dir)["state"] == "finished"
    assert [row["step"] for row in read_metrics(run_dir / "metrics.jsonl")] == [1, 2, 3, 4, 5]


@pytest.mark.slow
def test_a_kill_during_the_final_save_finishes_on_resume_without_a_step(stopped_run, tmp_path, capsys):
    import shutil

    run_dir = copy_of(stopped_run, tmp_path)
    finished = train(resume_dir=run_dir, progress=False)
    assert finished.global_step == 5
    shutil.rmtree(run_dir / "adapter")  # the final save never happened ...
    (run_dir / "status.json").unlink()  # ... nor the status written after it
    again = train(resume_dir=run_dir, progress=False)
    assert "had trained all 5 steps" in capsys.readouterr().out
    assert again.global_step == 5 and read_status(run_dir)["state"] == "finished"
    assert (run_dir / "adapter" / "adapter_model.safetensors").is_file()
    assert not (run_dir / "adapter" / "optimizer.pt").exists()
    assert not (run_dir / "checkpoint-6").exists()
    assert [row["step"] for row in read_metrics(run_dir / "metrics.jsonl")] == [1, 2, 3, 4, 5]
    with pytest.raises(ValueError, match="is finished"):
        train(resume_dir=run_dir, progress=False)


def write_lock(run_dir: Path, pid: int, host: str) -> Path:
    path = run_dir / LOCK_FILE
    path.write_text(json.dumps({"pid": pid, "host": host, "since": "earlier"}), encoding="utf-8")
    return path


HOLDER = """
import sys, time
from rft.training.lock import writer_lock
with writer_lock(sys.argv[1]):
    print("holding", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def test_a_second_writer_is_refused_while_the_first_runs(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path), "60"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        refused = pytest.raises(RunFolderLocked, match=f"process {holder.pid} on this machine")
        with refused, writer_lock(tmp_path):
            pass
        old = time.time() - 2 * 3600
        os.utime(tmp_path / LOCK_FILE, (old, old))  # two hours without a heartbeat: still held
        with pytest.raises(RunFolderLocked), writer_lock(tmp_path):
            pass
    finally:
        holder.kill()
        holder.wait()
    with writer_lock(tmp_path):  # killed: the OS freed its lock at once
        pass


RACER = """
import sys, time
from rft.training.lock import RunFolderLocked, writer_lock
start = float(sys.argv[2])
time.sleep(max(0.0, start - time.time()))
try:
    with writer_lock(sys.argv[1]):
        print("won", flush=True)
        time.sleep(3.0)  # held well past the last racer's arrival
except RunFolderLocked:
    print("refused", flush=True)
"""


def test_writers_racing_for_a_dead_writers_lock_never_both_win(tmp_path):
    """Four writers arrive together at a lock its dead writer left, three times over: exactly one
    takes it each time (taking it over is one operation, not check-then-delete)."""
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True)
    for trial in range(3):
        folder = tmp_path / f"trial{trial}"
        folder.mkdir()
        write_lock(folder, int(finished.stdout), socket.gethostname())
        start = str(time.time() + 2.0)
        racers = [
            subprocess.Popen(
                [sys.executable, "-c", RACER, str(folder), start], stdout=subprocess.PIPE, text=True
            )
            for _ in range(4)
        ]
        outcomes = sorted(racer.communicate(timeout=60)[0].split()[-1] for racer in racers)
        assert outcomes == ["refused", "refused", "refused", "won"], f"trial {trial}: {outcomes}"


def test_a_lock_naming_this_very_process_is_taken_over(tmp_path, capsys):
    """A restarted container's trainer has the pid its dead predecessor wrote into the lock."""
    write_lock(tmp_path, os.getpid(), socket.gethostname())
    with writer_lock(tmp_path):
        pass
    assert "which no longer holds it; taking the run over" in capsys.readouterr().out


@pytest.mark.parametrize("content", ["", "garbage", "[1, 2]"])
def test_an_empty_or_garbage_lock_is_taken_over_with_a_note(tmp_path, capsys, content):
    (tmp_path / LOCK_FILE).write_text(content, encoding="utf-8")
    with writer_lock(tmp_path) as lock:
        assert json.loads(lock.read_text(encoding="utf-8"))["pid"] == os.getpid()
    assert "taking the run over" in capsys.readouterr().out


def test_a_lock_that_is_a_folder_is_one_clear_error(tmp_path):
    (tmp_path / LOCK_FILE).mkdir()
    with (
        pytest.raises(RunFolderLocked, match="is a folder, not a lock file: remove it"),
        writer_lock(tmp_path),
    ):
        pass


@pytest.mark.parametrize("target", ["notes", "config", "dangling", "devnull", "fifo"])
def test_a_lock_that_is_not_a_plain_file_is_refused_and_nothing_is_written_through_it(tmp_path, target):
    """A symlink is never written through (a user's notes, the run's own config.json, a file outside
    the run), and /dev/null or a FIFO is one line, not an OSError or a hang."""
    run_dir, outside = tmp_path / "run", tmp_path / "outside"
    run_dir.mkdir()
    outside.mkdir()
    notes, config = outside / "notes.txt", run_dir / "config.json"
    notes.write_text("my notes\n", encoding="utf-8")
    config.write_text('{"preset": {}}\n', encoding="utf-8")
    lock = run_dir / LOCK_FILE
    if target == "fifo":
        if not hasattr(os, "mkfifo"):
            pytest.skip("no FIFOs here")
        os.mkfifo(lock)
        kind = "a named pipe"
    else:
        pointee = {"notes": notes, "config": config, "dangling": outside / "new", "devnull": Path(os.devnull)}
        try:
            lock.symlink_to(pointee[target])
        except OSError:
            pytest.skip("no symbolic links here")
        kind = "a symbolic link"
    with pytest.raises(RunFolderLocked) as refused, writer_lock(run_dir):
        pass
    assert str(refused.value) == f"{lock} is {kind}, not a lock file: remove it, then run the command again"
    assert notes.read_text(encoding="utf-8") == "my notes\n"
    assert config.read_text(encoding="utf-8") == '{"preset": {}}\n'
    assert sorted(p.name for p in outside.iterdir()) == ["notes.txt"]


def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path, capsys):
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True)
    lock = write_lock(tmp_path, int(finished.stdout), socket.gethostname())
    with writer_lock(tmp_path):
        assert json.loads(lock.read_text(encoding="utf-8"))["pid"] == os.getpid()
    assert "which no longer holds it; taking the run over" in capsys.readouterr().out
    assert not lock.exists()  # released


def test_a_lock_from_another_machine_holds_until_it_goes_stale(tmp_path):
    lock = write_lock(tmp_path, 12345, "another-machine")
    with pytest.raises(RunFolderLocked, match=r"on another-machine .*frees itself at"), writer_lock(tmp_path):
        pass
    old = time.time() - STALE_AFTER_SECONDS - 5
    os.utime(lock, (old, old))  # the other session ended minutes ago
    with writer_lock(tmp_path):
        pass


def test_rft_train_resume_on_a_locked_run_is_one_line(stopped_run, tmp_path, capsys):
    from rft.cli import main

    run_dir = copy_of(stopped_run, tmp_path)
    write_lock(run_dir, 12345, "another-machine")
    assert main(["train", "--resume", str(run_dir)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("rft train: error: ") and "is being written by process 12345" in error
    assert len(error.strip().splitlines()) == 1


def test_a_locked_run_is_refused_before_any_model_loads(stopped_run, tmp_path, monkeypatch):
    import rft.training.run as run

    run_dir = copy_of(stopped_run, tmp_path)
    write_lock(run_dir, 12345, "another-machine")
    monkeypatch.setattr(run, "load_policy", lambda preset: pytest.fail("loaded a model"))
    with pytest.raises(RunFolderLocked, match="is being written by"):
        train(resume_dir=run_dir, progress=False)
    assert [row["step"] for row in read_metrics(run_dir / "metrics.jsonl")] == [1, 2, 3]


def test_a_run_that_dies_mid_training_says_it_was_running_not_what_an_earlier_stop_said(tmp_path):
    """status.json is written when training starts too: a run resumed from "stopped at step 1" that
    then crashes must not go on saying it stopped at step 1."""
    from transformers import TrainerCallback

    class Crash(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == 2:
                raise KeyboardInterrupt  # a kill, as far as the run folder can tell

    preset = apply_overrides(get_preset("tiny-test"), {"max_steps": "3"})
    first = train(preset, runs_dir=tmp_path, progress=False, extra_callbacks=[stop_after(1)])
    assert read_status(first.run_dir)["state"] == "stopped"
    with pytest.raises(KeyboardInterrupt):
        train(resume_dir=first.run_dir, progress=False, extra_callbacks=[Crash()])
    status = read_status(first.run_dir)
    assert (status["state"], status["from_step"]) == ("running", 1)
    assert status["resume"] == f'rft train --resume "{first.run_dir}"'
