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
    """The checkpoint ``--resume`` continues from; a clear error for a run with none, or a finished
    one (resuming it would train past its last step and overwrite its adapter)."""
    checkpoint = last_checkpoint(run_dir)
    if checkpoint is None:
        raise FileNotFoundError(f"{run_dir} has no checkpoint-N folder to resume from")
    status = read_status(run_dir)
    if status is not None and status.get("state") == "finished":
        raise ValueError(
            f"{run_dir} is finished ({status['step']} of {status['max_steps']} steps); to train further, "
            f'start a new run from it: rft train --preset NAME --init-from "{run_dir}"'
        )
    return checkpoint


def last_checkpoint(run_dir: Path) -> Path | None:
    checkpoints = [p for p in run_dir.glob("checkpoint-*") if p.is_dir() and p.name.split("-")[-1].isdigit()]
    return max(checkpoints, key=lambda p: int(p.name.split("-")[-1]), default=None)


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
    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir} is not a run folder: it has no {CONFIG_FILE}")
    data = json.loads(path.read_text(encoding="utf-8"))["preset"]
    if data.get("init_from") and not Path(data["init_from"]).is_dir():
        # A finished run holds its whole adapter: it stays usable when moved or downloaded
        # without the warm-up run it started from.
        data = {**data, "init_from": None}
    return Preset.from_dict(data)


def read_metrics(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


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


def redact_secrets(value: Any) -> Any:
    """``value`` with every setting whose name says it holds a credential replaced by a marker."""
    if isinstance(value, Mapping):
        return {
            key: "<redacted>" if item and SECRET_NAME.search(str(key)) else redact_secrets(item)
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [redact_secrets(item) for item in value]
    return value


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
    checkpoint = None
    if resume_dir is not None:
        run_dir = Path(resume_dir)
        preset = read_run_config(run_dir)
        checkpoint = resumable_checkpoint(run_dir)
    elif preset is None:
        raise ValueError("give a preset to train, or a run folder to resume")
    policy = load_policy(preset)  # before trl is imported: Unsloth must patch first
    if resume_dir is None:
        run_dir = new_run_dir(runs_dir, preset.name)
        config = {"preset": preset.to_dict(), "versions": versions(), "loader": policy.loader}
        (run_dir / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    else:
        for name in (METRICS_FILE, SAMPLES_FILE):
            _keep_lines_up_to(run_dir / name, int(checkpoint.name.split("-")[-1]))

    limit = [] if deadline is None else [time_limit_callback(deadline)]
    trainer = build_trainer(preset, policy, run_dir, progress, [*extra_callbacks, *limit])
    trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    status = write_status(
        run_dir, trainer.state.global_step, trainer.state.max_steps, bool(limit and limit[0].stopped_at)
    )

    adapter_dir = adapter_dir_of(run_dir)
    trainer.save_model(str(adapter_dir))
    # With beta > 0 and an adapter continued (init_from), TRL trains against a frozen copy of it, the
    # adapter "ref", which PEFT saves beside the trained one. It is init_from's adapter again: not
    # part of what this run made, and not to be exported or pushed with it.
    if (adapter_dir / "ref" / "adapter_config.json").is_file():
        shutil.rmtree(adapter_dir / "ref")
    policy.tokenizer.save_pretrained(str(adapter_dir))
    plot_path = plot_training_curves(
        read_metrics(run_dir / METRICS_FILE), run_dir / PLOT_FILE, title=preset.name
    )
    steps = trainer.state.global_step
    del trainer, policy  # the next stage (GRPO after the warm-up, evaluation) needs the GPU memory
    release_memory()
    return RunResult(run_dir, adapter_dir, run_dir / METRICS_FILE, plot_path, steps, status)
