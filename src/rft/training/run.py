"""One training run: a preset in, a run folder out, with TRL's GRPOTrainer doing the training.

The run folder (``runs/<preset>-<timestamp>/``) holds everything a user needs afterwards:
``config.json`` (the resolved preset and library versions), ``metrics.jsonl`` (one line per logged
step: each reward, the total, KL, completion lengths, step time; the loss for SFT),
``samples.jsonl`` (GRPO completions with their rewards every few steps), ``curves.png``, TRL's
``checkpoint-N`` folders (for ``--resume``) and the final LoRA adapter in ``adapter/``. A new run
never writes into an old one.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import re
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from rft.generation import end_turns_after_answer
from rft.rewarding import completion_text
from rft.training.lock import writer_lock
from rft.training.models import LoadedPolicy, adapter_dir_of, load_policy, release_memory
from rft.training.plots import plot_training_curves
from rft.training.presets import Preset, task_rewards
from rft.training.trl_compat import enable_cpu_training
from rft.wordle.dataset import build_dataset, check_rows, own_game_rows
from rft.wordle.play import GameRecord, game_metrics
from rft.wordle.traces import build_trace_rows, own_game_secrets, own_game_trace_rows

CONFIG_FILE, METRICS_FILE, SAMPLES_FILE, PLOT_FILE, STATUS_FILE = (
    "config.json",
    "metrics.jsonl",
    "samples.jsonl",
    "curves.png",
    "status.json",
)
# Written into a checkpoint folder after everything else: the checkpoint is complete.
CHECKPOINT_MARKER = "rft-complete.json"


@dataclass
class RunResult:
    run_dir: Path
    adapter_dir: Path
    metrics_path: Path
    plot_path: Path | None
    global_step: int
    status: dict[str, Any] | None = None  # what status.json says: finished, or stopped and how to resume


# ---------------------------------------------------------------------------------------------
# Run folders
# ---------------------------------------------------------------------------------------------


def new_run_dir(runs_dir: str | Path, preset_name: str) -> Path:
    """A folder no earlier run has used: ``<preset>-<YYYYmmdd-HHMMSS>`` (+ ``-2``, ``-3`` … if taken)."""
    runs_dir = Path(runs_dir)
    runs_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{preset_name}-{time.strftime('%Y%m%d-%H%M%S')}"
    for attempt in range(1, 1000):
        candidate = runs_dir / (stem if attempt == 1 else f"{stem}-{attempt}")
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            continue
    raise RuntimeError(f"could not find a free run folder under {runs_dir}")


def resumable_checkpoint(run_dir: Path) -> Path:
    """The checkpoint ``--resume`` continues from: the newest complete one (an incomplete one, left
    by a crash while it was written, is named and skipped, never deleted); a clear error for a run
    with none, or a finished one (resuming it would train past its last step and overwrite its
    adapter)."""
    checkpoint = None
    for candidate in checkpoints_newest_first(run_dir):
        problem = checkpoint_problem(candidate)
        if problem is None:
            checkpoint = candidate
            break
        print(f"note: skipping {candidate.name}: {problem}; resuming from an earlier one (kept as it is)")
    if checkpoint is None:
        raise FileNotFoundError(
            f"{run_dir} has no complete checkpoint-N folder to resume from: it stopped before its first "
            "checkpoint (every save_steps steps); start it again with rft train --preset NAME"
        )
    status = read_status(run_dir)
    if status is not None and status.get("state") == "finished":
        raise ValueError(
            f"{run_dir} is finished ({status['step']} of {status['max_steps']} steps); to train further, "
            f'start a new run from it: rft train --preset NAME --init-from "{run_dir}"'
        )
    return checkpoint


def checkpoints_newest_first(run_dir: Path) -> list[Path]:
    checkpoints = [p for p in run_dir.glob("checkpoint-*") if p.is_dir() and p.name.split("-")[-1].isdigit()]
    return sorted(checkpoints, key=lambda p: int(p.name.split("-")[-1]), reverse=True)


def last_checkpoint(run_dir: Path) -> Path | None:
    return next(iter(checkpoints_newest_first(run_dir)), None)


def checkpoint_problem(checkpoint: Path) -> str | None:
    """Why ``checkpoint`` cannot be resumed from, or None. The trainer writes the weights, the
    optimizer and ``trainer_state.json``, then this project writes :data:`CHECKPOINT_MARKER`: a
    checkpoint without it, in a run that writes markers, was cut short; and every file must read."""
    import zipfile

    state = checkpoint / "trainer_state.json"
    try:
        json.loads(state.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "its trainer_state.json is missing or cut short"
    weights = [checkpoint / name for name in ("adapter_model.safetensors", "model.safetensors")]
    weights = [path for path in weights if path.is_file()]
    if not weights or not safetensors_complete(weights[0]):
        return "its weights (adapter_model.safetensors) are missing or cut short"
    optimizer = checkpoint / "optimizer.pt"
    if optimizer.is_file() and not zipfile.is_zipfile(optimizer):
        return "its optimizer.pt is cut short"
    marked = any((other / CHECKPOINT_MARKER).is_file() for other in checkpoint.parent.glob("checkpoint-*"))
    if marked and not (checkpoint / CHECKPOINT_MARKER).is_file():
        return "it was still being written when the run stopped"
    return None


def safetensors_complete(path: Path) -> bool:
    """The header parses and the file is as long as the header says."""
    try:
        with path.open("rb") as handle:
            size = int.from_bytes(handle.read(8), "little")
            header = json.loads(handle.read(size))
        end = max((entry["data_offsets"][1] for k, entry in header.items() if k != "__metadata__"), default=0)
        return path.stat().st_size >= 8 + size + end
    except (OSError, ValueError, KeyError, TypeError):
        return False


def versions() -> dict[str, str]:
    found = {}
    for package in (
        *("rft", "torch", "transformers", "trl", "peft", "datasets", "accelerate"),
        *("unsloth", "unsloth_zoo", "bitsandbytes", "vllm"),
    ):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return found


def parse_duration(text: str) -> float:
    """Seconds in ``3h10m``, ``45m``, ``900s``, ``1.5h``: every number carries its unit, so that a
    budget is never misread as minutes when seconds were meant."""
    match = re.fullmatch(
        r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?", text.strip().lower()
    )
    if not match or not any(match.groups()):
        raise ValueError(f"time limit: expected a duration like 3h10m, 45m or 900s, got {text!r}")
    hours, minutes, seconds = (float(part or 0) for part in match.groups())
    total = 3600 * hours + 60 * minutes + seconds
    if total <= 0:
        raise ValueError(f"time limit: must be more than zero, got {text!r}")
    return total


def read_status(run_dir: Path) -> dict[str, Any] | None:
    path = Path(run_dir) / STATUS_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def read_run_config(run_dir: Path) -> Preset:
    """The preset a run folder was trained with. Credentials were redacted when it was written: a
    resumed run takes them from the environment (``HF_TOKEN``), as a new one does."""
    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir} is not a run folder: it has no {CONFIG_FILE}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))["preset"]
        if not isinstance(data, dict):
            raise TypeError
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is not valid JSON ({error}); it cannot be resumed or read") from None
    except (KeyError, TypeError):
        raise ValueError(f'{path} has no "preset" object: it was not written by rft train') from None
    data["trainer_args"] = {
        key: value for key, value in (data.get("trainer_args") or {}).items() if value != REDACTED
    }
    if data.get("init_from") and not Path(data["init_from"]).is_dir():
        # A finished run holds its whole adapter: it stays usable when moved or downloaded
        # without the warm-up run it started from.
        data = {**data, "init_from": None}
    return Preset.from_dict(data)


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """The rows of a run's ``.jsonl`` file. A kill in the middle of a write leaves a torn last line:
    it is dropped with a note (its step is trained again on resume). A bad line anywhere else means
    the file was damaged otherwise: an error naming the file and the line."""
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    numbered = [(number, line) for number, line in enumerate(lines, start=1) if line.strip()]
    rows = []
    for position, (number, line) in enumerate(numbered):
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            if position == len(numbered) - 1 and not path.read_bytes().endswith(b"\n"):
                print(f"note: {path}: dropped its last line {number}, cut short by an interrupted write")
                continue
            raise ValueError(f"{path}, line {number}: not a JSON object; the file is damaged") from None
        if not isinstance(row, dict):
            raise ValueError(f"{path}, line {number}: not a JSON object; the file is damaged")
        rows.append(row)
    return rows


def _keep_lines_up_to(path: Path, step: int) -> None:
    """On resume, drop metrics and samples of steps after the checkpoint: they are trained again."""
    kept = [row for row in read_metrics(path) if row.get("step", 0) <= step]
    path.write_text("".join(json.dumps(row) + "\n" for row in kept), encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# What the run records while it trains
# ---------------------------------------------------------------------------------------------


# Wordle's game state, where it came from (a policy, or "own-games") and the answers the game turned
# down since the last accepted guess; GSM8K's gold answer.
RECORDED_COLUMNS = ("secret", "history", "policy", "rejected", "answer")


class SampleRecorder:
    """Keeps the latest batch of completions and what each reward gave them.

    The reward functions are wrapped (names kept, so TRL logs them as usual); this sees the same
    completions GRPO scores without reaching into the trainer's internals.
    """

    def __init__(self) -> None:
        self.batch: dict[str, Any] = {}

    def wrap(self, reward: Callable[..., list[float]]) -> Callable[..., list[float]]:
        @functools.wraps(reward)
        def recorded(completions: Sequence[Any], **kwargs: Any) -> list[float]:
            scores = reward(completions, **kwargs)
            texts = [completion_text(c) for c in completions]
            if self.batch.get("completions") != texts:
                self.batch = {
                    "completions": texts,
                    "columns": {k: list(kwargs[k]) for k in RECORDED_COLUMNS if kwargs.get(k) is not None},
                    "rewards": {},
                }
            self.batch["rewards"][reward.__name__] = [float(s) for s in scores]
            return scores

        return recorded


def make_callbacks(run_dir: Path, recorder: SampleRecorder | None, sample_every: int) -> list[Any]:
    from transformers import TrainerCallback

    metrics_path, samples_path = run_dir / METRICS_FILE, run_dir / SAMPLES_FILE

    class RunFolderCallback(TrainerCallback):
        def __init__(self) -> None:
            self.step_started = time.perf_counter()

        def on_step_begin(self, args, state, control, **kwargs):
            self.step_started = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            self.last_step_seconds = time.perf_counter() - self.step_started
            if recorder is not None and recorder.batch and state.global_step % sample_every == 0:
                batch = recorder.batch
                with samples_path.open("a", encoding="utf-8") as handle:
                    for i, text in enumerate(batch["completions"]):
                        row = {
                            "step": state.global_step,
                            **{k: v[i] if i < len(v) else None for k, v in batch["columns"].items()},
                            "completion": text,
                            "rewards": {name: values[i] for name, values in batch["rewards"].items()},
                        }
                        handle.write(json.dumps(row) + "\n")

        def on_save(self, args, state, control, **kwargs):
            checkpoint = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if checkpoint.is_dir():
                save_training_args(args, checkpoint)
                marker = {"step": state.global_step, "written_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
                (checkpoint / CHECKPOINT_MARKER).write_text(json.dumps(marker) + "\n", encoding="utf-8")

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not logs or "train_runtime" in logs:  # the end-of-training summary is not a step
                return
            row = {
                "step": state.global_step,
                "wall_seconds": getattr(self, "last_step_seconds", None),
                **logs,
            }
            with metrics_path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(row) + "\n")

    return [RunFolderCallback()]


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------


def build_trainer_config(
    preset: Preset, run_dir: Path, reward_weights: list[float] | None = None, progress: bool = True
) -> Any:
    from rft.training.presets import trainer_config_class

    settings = {"seed": preset.seed, **preset.trainer_args, "output_dir": str(run_dir)}
    if not progress:
        settings["disable_tqdm"] = True
    if preset.trainer == "grpo":
        settings["reward_weights"] = reward_weights
    return trainer_config_class(preset.trainer)(**settings)


# Setting names whose values are credentials: never printed or written by the project.
SECRET_NAME = re.compile(r"(^|_)(token|key)$|password|secret|credential", re.IGNORECASE)
# A user and password inside a URL (https://user:password@host/...).
URL_CREDENTIALS = re.compile(r"(?<=://)[^/\s@:]+:[^/\s@]+@")
REDACTED = "<redacted>"


def redact_secrets(value: Any) -> Any:
    """``value`` with every setting whose name says it holds a credential, and every password in a
    URL, replaced by a marker."""
    if isinstance(value, Mapping):
        return {
            key: REDACTED if item and SECRET_NAME.search(str(key)) else redact_secrets(item)
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [redact_secrets(item) for item in value]
    if isinstance(value, str):
        return URL_CREDENTIALS.sub(REDACTED + "@", value)
    return value


def save_training_args(args: Any, folder: Path) -> None:
    """Transformers pickles the whole trainer config into ``training_args.bin`` beside every
    checkpoint and adapter, a hub token given as a setting included. This writes it again with
    every credential replaced, so that no folder the project writes (or pushes) holds one."""
    import copy

    import torch

    clean = copy.copy(args)
    for name, value in vars(args).items():
        if isinstance(value, str) and value:
            setattr(clean, name, REDACTED if SECRET_NAME.search(name) else redact_secrets(value))
    torch.save(clean, folder / "training_args.bin")


def check_before_loading(preset: Preset, runs_dir: str | Path | None = None) -> None:
    """What can fail once the model has loaded, found before: TRL's own validation of the trainer
    config (a scheduler name, a batch that does not split into groups), GSM8K problems that do not
    read, and a runs folder that cannot be written. Raises ``ValueError`` with one line."""
    weights = task_rewards(preset)[1] if preset.trainer == "grpo" else None
    try:
        build_trainer_config(preset, Path(runs_dir or ".") / f"{preset.name}-<check>", weights)
    except (ValueError, TypeError) as error:
        raise ValueError(
            f"{type(error).__name__} from the {preset.trainer.upper()} trainer config: {error}"
        ) from None
    if preset.task == "gsm8k" and preset.problems.endswith(".jsonl"):
        from rft.gsm8k import load_problems

        load_problems(preset.problems)  # a bad line is a ValueError naming the file and the line
    if runs_dir is not None:
        check_writable(Path(runs_dir))


def check_writable(folder: Path) -> None:
    """``folder`` exists as a folder (created if missing) and this process can write into it."""
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"runs folder {folder} is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".rft-write-check-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise ValueError(f"runs folder {folder} cannot be written: {error.strerror or error}") from None


def describe_run(preset: Preset, runs_dir: str | Path) -> dict[str, Any]:
    """What ``rft train`` would do, loading nothing: the resolved preset, and every field of the
    trainer's TRL config that differs from TRL's default, as TRL itself reads it (a flag that
    lands in the preset instead shows up there), secrets redacted."""
    run_dir = Path(runs_dir) / f"{preset.name}-<timestamp>"
    weights = task_rewards(preset)[1] if preset.trainer == "grpo" else None
    config = build_trainer_config(preset, run_dir, weights)
    declared = {f.name: f for f in dataclasses.fields(config) if f.init}
    defaults = {
        name: f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        for name, f in declared.items()
    }
    changed = {name: value for name, value in config.to_dict().items() if defaults.get(name) != value}
    return redact_secrets(
        {
            "preset": preset.to_dict(),
            "trainer_config_class": type(config).__name__,
            "trainer_config": changed,
            "run_dir": str(run_dir),
            "versions": versions(),
        }
    )


def time_limit_callback(deadline: float) -> Any:
    """Stops training at a step boundary, with a checkpoint, when one more step and its save might
    end past ``deadline`` (``time.monotonic()``): twice the slowest step so far is the margin."""
    from transformers import TrainerCallback

    class TimeLimit(TrainerCallback):
        def __init__(self) -> None:
            self.step_started = time.monotonic()
            self.slowest = 0.0
            self.stopped_at: int | None = None

        def on_step_begin(self, args, state, control, **kwargs):
            self.step_started = time.monotonic()

        def on_step_end(self, args, state, control, **kwargs):
            now = time.monotonic()
            self.slowest = max(self.slowest, now - self.step_started)
            if state.global_step < state.max_steps and now + 2 * self.slowest > deadline:
                control.should_save = True  # the checkpoint --resume continues from
                control.should_training_stop = True
                self.stopped_at = state.global_step

    return TimeLimit()


def write_status(run_dir: Path, steps: int, max_steps: int, stopped_by_time_limit: bool) -> dict[str, Any]:
    """``status.json``: finished, or stopped at step N of M with the exact command that continues."""
    if steps >= max_steps:
        status: dict[str, Any] = {"state": "finished", "step": steps, "max_steps": max_steps}
    else:
        status = {
            "state": "stopped",
            "reason": "time limit" if stopped_by_time_limit else "stopped before max_steps",
            "step": steps,
            "max_steps": max_steps,
            "resume": f'rft train --resume "{run_dir}"',
        }
    status["written_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    (run_dir / STATUS_FILE).write_text(json.dumps(status, indent=2) + "\n", encoding="utf-8")
    return status


OWN_GAME_TOKENS = 160  # as many as an evaluation allows, so the games are the ones it would see


def play_own_games(preset: Preset, policy: LoadedPolicy, run_dir: Path, progress: bool) -> list[GameRecord]:
    """``preset.own_games`` games by the model being continued, on training answers. They are kept
    in the run folder (``own_games.json``): where the model stood before this run."""
    from rft.evaluate import ModelPlayer, played_with_progress

    player = ModelPlayer(policy.model, policy.tokenizer, preset.prompt_style, OWN_GAME_TOKENS)
    secrets = own_game_secrets(preset.own_games, preset.seed)
    padding_side = policy.tokenizer.padding_side  # generation pads on the left, training may not
    started = time.monotonic()
    records = played_with_progress("its own games", player, secrets, progress)
    policy.tokenizer.padding_side = padding_side
    summary = {
        "states": sum(len(record.turns) for record in records),  # the state before each turn
        "seconds": round(time.monotonic() - started, 1),  # they count against a time-boxed run
        "metrics": game_metrics(records),
        "games": [record.to_dict() for record in records],
    }
    (run_dir / "own_games.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    return records


def build_trainer(
    preset: Preset, policy: LoadedPolicy, run_dir: Path, progress: bool, callbacks: Sequence[Any]
) -> Any:
    """TRL's GRPOTrainer on game states (or GSM8K problems), or its SFTTrainer on solver traces for
    the Wordle warm-up."""
    enable_cpu_training()  # TRL 1.15 (the GPU version set) has no CPU path of its own
    if preset.trainer == "sft":
        from datasets import Dataset
        from trl import SFTTrainer

        rows = build_trace_rows(preset.dataset_config(), progress=progress, guesser=preset.trace_guesser)
        if preset.own_games:
            records = play_own_games(preset, policy, run_dir, progress)
            rows = own_game_trace_rows(records, preset.trace_guesser, preset.prompt_style) + rows
        return SFTTrainer(
            model=policy.model,
            args=build_trainer_config(preset, run_dir, progress=progress),
            train_dataset=Dataset.from_list(
                [{"prompt": r["prompt"], "completion": r["completion"]} for r in rows]
            ),
            processing_class=policy.tokenizer,
            peft_config=policy.peft_config,
            callbacks=[*make_callbacks(run_dir, None, preset.sample_every), *callbacks],
        )

    from trl import GRPOTrainer

    if preset.task == "gsm8k":
        from rft.gsm8k import build_dataset as build_gsm8k_dataset
        from rft.gsm8k import load_problems

        dataset = build_gsm8k_dataset(load_problems(preset.problems), preset.num_rows, preset.seed)
    else:
        dataset = build_dataset(preset.dataset_config(), progress=progress)
        if preset.own_games:
            from datasets import Dataset, concatenate_datasets

            records = play_own_games(preset, policy, run_dir, progress)
            rows = own_game_rows(records, preset.prompt_style, preset.own_lost_repeats)
            own = Dataset.from_list(rows, features=dataset.features)
            dataset = concatenate_datasets([own, dataset])
        check_rows(dataset)
    if preset.end_at_answer:
        end_turns_after_answer(policy.model, policy.tokenizer, preset.closing_tag)
    functions, weights = task_rewards(preset)
    recorder = SampleRecorder()
    return GRPOTrainer(
        model=policy.model,
        reward_funcs=[recorder.wrap(f) for f in functions],
        args=build_trainer_config(preset, run_dir, weights, progress),
        train_dataset=dataset,
        processing_class=policy.tokenizer,
        peft_config=policy.peft_config,
        callbacks=[*make_callbacks(run_dir, recorder, preset.sample_every), *callbacks],
    )


def train(
    preset: Preset | None = None,
    runs_dir: str | Path = "runs",
    resume_dir: str | Path | None = None,
    progress: bool = True,
    extra_callbacks: Sequence[Any] = (),
    time_limit: float | None = None,
) -> RunResult:
    """Train a preset (or continue the run in ``resume_dir`` from its last checkpoint).

    ``time_limit`` (seconds from this call) ends training early at a step boundary with a
    checkpoint, so that a session that is about to end keeps every step: the adapter is saved as
    usual (evaluation and export work on what was trained), and ``status.json`` says the run stopped
    at step N of M and how to continue it."""
    deadline = None if time_limit is None else time.monotonic() + time_limit
    if resume_dir is not None:
        run_dir = Path(resume_dir)
        preset = read_run_config(run_dir)
        check_before_loading(preset, run_dir)
        with writer_lock(run_dir):
            checkpoint = resumable_checkpoint(run_dir)
            if checkpoint_step(checkpoint)[0] >= checkpoint_step(checkpoint)[1]:
                return finish_from_checkpoint(preset, run_dir, checkpoint)
            policy = load_policy(preset)  # before trl is imported: Unsloth must patch first
            for name in (METRICS_FILE, SAMPLES_FILE):
                _keep_lines_up_to(run_dir / name, checkpoint_step(checkpoint)[0])
            return _train_in(run_dir, preset, policy, checkpoint, progress, extra_callbacks, deadline)
    if preset is None:
        raise ValueError("give a preset to train, or a run folder to resume")
    check_before_loading(preset, runs_dir)
    policy = load_policy(preset)  # before trl is imported: Unsloth must patch first
    run_dir = new_run_dir(runs_dir, preset.name)
    with writer_lock(run_dir):
        config = {"preset": redact_secrets(preset.to_dict()), "versions": versions(), "loader": policy.loader}
        (run_dir / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        return _train_in(run_dir, preset, policy, None, progress, extra_callbacks, deadline)


def checkpoint_step(checkpoint: Path) -> tuple[int, int]:
    """The step a checkpoint was saved at, and the run's last step (its ``trainer_state.json``)."""
    state = json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
    step = int(state.get("global_step") or checkpoint.name.split("-")[-1])
    return step, int(state.get("max_steps") or 0) or step + 1


def _train_in(
    run_dir: Path,
    preset: Preset,
    policy: LoadedPolicy,
    checkpoint: Path | None,
    progress: bool,
    extra_callbacks: Sequence[Any],
    deadline: float | None,
) -> RunResult:
    limit = [] if deadline is None else [time_limit_callback(deadline)]
    trainer = build_trainer(preset, policy, run_dir, progress, [*extra_callbacks, *limit])
    trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    steps, max_steps = trainer.state.global_step, trainer.state.max_steps
    adapter_dir = adapter_dir_of(run_dir)
    trainer.save_model(str(adapter_dir))
    save_training_args(trainer.args, adapter_dir)
    _drop_reference_adapter(adapter_dir)
    policy.tokenizer.save_pretrained(str(adapter_dir))
    # Last: a run marked finished has its adapter. A kill before this line leaves a run that
    # --resume finishes from its final checkpoint without training a step (finish_from_checkpoint).
    status = write_status(run_dir, steps, max_steps, bool(limit and limit[0].stopped_at))
    plot_path = plot_training_curves(
        read_metrics(run_dir / METRICS_FILE), run_dir / PLOT_FILE, title=preset.name
    )
    del trainer, policy  # the next stage (GRPO after the warm-up, evaluation) needs the GPU memory
    release_memory()
    return RunResult(run_dir, adapter_dir, run_dir / METRICS_FILE, plot_path, steps, status)


def _drop_reference_adapter(adapter_dir: Path) -> None:
    """With beta > 0 and an adapter continued (init_from), TRL trains against a frozen copy of it,
    the adapter "ref", which PEFT saves beside the trained one. It is init_from's adapter again:
    not part of what this run made, and not to be exported or pushed with it."""
    if (adapter_dir / "ref" / "adapter_config.json").is_file():
        shutil.rmtree(adapter_dir / "ref")


def finish_from_checkpoint(preset: Preset, run_dir: Path, checkpoint: Path) -> RunResult:
    """A run whose last step was checkpointed but whose final save did not finish (a kill at the
    very end): the adapter is the checkpoint's, so the run finishes without training a step."""
    adapter_dir = adapter_dir_of(run_dir)
    training_state = ("optimizer.pt", "scheduler.pt", "scaler.pt", "rng_state*", "trainer_state.json")
    ignored = shutil.ignore_patterns(*training_state, "training_args.bin", CHECKPOINT_MARKER)
    shutil.copytree(checkpoint, adapter_dir, ignore=ignored, dirs_exist_ok=True)
    _drop_reference_adapter(adapter_dir)
    steps, max_steps = checkpoint_step(checkpoint)
    print(f"note: {run_dir} had trained all {max_steps} steps; its final adapter is {checkpoint.name}'s")
    status = write_status(run_dir, steps, max_steps, False)
    plot_path = plot_training_curves(
        read_metrics(run_dir / METRICS_FILE), run_dir / PLOT_FILE, title=preset.name
    )
    return RunResult(run_dir, adapter_dir, run_dir / METRICS_FILE, plot_path, steps, status)
