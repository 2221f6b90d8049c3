"""Know before the long run starts: does the preset fit this machine, and how long will it take?

:func:`preflight` trains two optimizer steps of a preset exactly as ``rft train`` will (same loader,
same trainer, same settings), with every GRPO completion forced to ``max_completion_length``: a
trained model usually stops earlier, so this is the worst case for memory and time. For whole-game
GRPO (``rollout games``) every turn is forced to full length, so every game runs on until its
token budget (``max_game_tokens``) cuts it: the worst case of a game, about six turns' worth. It reports
peak memory against the device's total (GPU: PyTorch's allocator; CPU: the process's peak resident
memory), seconds per step, the projected time of the preset's steps, its warm-up's and what comes
after training, and, given a session length, whether the run fits it and how many steps would. A
model that does not fit is a message saying what to change, not an out-of-memory traceback.

Two options answer "would it fit a T4?" on any CUDA machine without downloading the model:
``memory_cap_gib`` holds PyTorch's allocator to a T4's memory (``set_per_process_memory_fraction``:
a bigger GPU then runs out where a T4 would; the CUDA context, a few hundred MB, comes on top, and a
T4 shows PyTorch about 14.75 GiB), and ``random_weights`` trains random weights in the preset model's
shape (:mod:`rft.training.random_model`). Seconds per step are the GPU's own: read them as a T4's
only on a T4.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from rft.checks import check_number
from rft.files import write_json
from rft.runtime import cuda_available, release_memory
from rft.training.config import Preset, apply_overrides
from rft.training.run import new_run_dir, read_metrics, train
from rft.training.run_folder import versions
from rft.weights import remove_leftovers

MEASURED_STEPS = 2
PREFLIGHT_FILE = "preflight.json"
# What comes after training (evaluating 100 games with base and trained model, the export) before
# an evaluation was measured in the runs folder: an estimate, not a measurement.
ESTIMATED_AFTER_TRAINING_SECONDS = 30 * 60
# On top of a measured evaluation: watching a game and the export.
AFTER_EVALUATION_SECONDS = 10 * 60
ADVICE = (
    "to fit, lower max_completion_length or num_generations (with per_device_train_batch_size), "
    "or take a smaller model (say t4-gemma3-1b-wordle on a T4, cpu-smollm2-wordle on a CPU)"
)


def after_training_seconds(runs: str | Path) -> tuple[float, str]:
    """Time to keep for evaluation, watching and export: measured when an evaluation under ``runs``
    recorded how long it took (the newest), else :data:`ESTIMATED_AFTER_TRAINING_SECONDS`."""
    measured = []
    for path in Path(runs).glob("**/eval.json"):
        try:
            seconds = json.loads(path.read_text(encoding="utf-8")).get("seconds")
        except (OSError, ValueError, AttributeError):  # torn or hand-edited: it cannot say
            print(f"note: skipping {path}: it does not read as an evaluation's eval.json")
            continue
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not math.isfinite(seconds):
            if seconds is not None:  # hand-edited ("12", NaN): it cannot be trusted as a time
                print(f"note: skipping {path}: its seconds ({seconds!r}) is not a number of seconds")
            continue
        if seconds > 0:
            measured.append((path.stat().st_mtime, seconds, path))
    if not measured:
        return ESTIMATED_AFTER_TRAINING_SECONDS, "estimated"
    _, seconds, path = max(measured)
    return 1.25 * seconds + AFTER_EVALUATION_SECONDS, f"measured: the evaluation in {path.parent}"


def full_length(preset: Preset, steps: int = MEASURED_STEPS) -> Preset:
    """``preset`` for ``steps`` measured steps: no checkpoint, and every GRPO completion generated to
    ``max_completion_length`` (``min_new_tokens``; ``min_tokens`` where vLLM generates)."""
    args = {**preset.trainer_args, "max_steps": steps, "save_steps": 10**6, "logging_steps": 1}
    if preset.trainer == "grpo":
        length = int(args.get("max_completion_length", 256))
        vllm = preset.fast_inference or args.get("use_vllm")
        args["generation_kwargs"] = {
            **(args.get("generation_kwargs") or {}),
            "min_tokens" if vllm else "min_new_tokens": length,
        }
        # A completion held to allowed words must end at its answer, which a forced length forbids.
        return replace(preset, trainer_args=args, constrain_guesses=False)
    return replace(preset, trainer_args=args)


def device_memory() -> dict[str, Any]:
    """The device training uses and its memory: the GPU's, else the machine's RAM."""
    import torch

    if torch.cuda.is_available():
        properties = torch.cuda.get_device_properties(0)
        return {"device": properties.name, "total_gib": properties.total_memory / 2**30}
    total = None
    if hasattr(os, "sysconf") and "SC_PHYS_PAGES" in os.sysconf_names:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    else:
        try:
            import psutil

            total = psutil.virtual_memory().total / 2**30
        except ImportError:
            pass
    return {"device": f"CPU ({os.cpu_count()} cores)", "total_gib": total}


def peak_memory_gib() -> float | None:
    """Peak memory so far: the GPU allocator's peak reserved, else the process's peak resident
    memory (Linux: VmHWM; Windows: the peak working set; elsewhere the current RSS)."""
    import torch

    if torch.cuda.is_available():
        return torch.cuda.max_memory_reserved() / 2**30
    status = Path("/proc/self/status")
    if sys.platform.startswith("linux") and status.is_file():
        for line in status.read_text(encoding="utf-8").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**20  # kB
    try:
        import psutil

        info = psutil.Process().memory_info()
        return getattr(info, "peak_wset", info.rss) / 2**30
    except ImportError:
        return None


def is_out_of_memory(error: BaseException) -> bool:
    import torch

    return isinstance(error, torch.cuda.OutOfMemoryError) or "out of memory" in str(error).lower()


def measure(
    preset: Preset, folder: Path, progress: bool = False, steps: int = MEASURED_STEPS
) -> dict[str, Any]:
    """Train ``steps`` full-length steps of ``preset`` in ``folder``; the figures, or why it ran out
    of memory. The run folder it trained is removed: two steps are nothing to keep."""
    import torch

    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    from rft.training.step_profile import StepProfile  # imports transformers: only when measuring

    profile = StepProfile()
    started = time.monotonic()
    try:
        result = train(
            full_length(preset, steps), runs_dir=folder, progress=progress, extra_callbacks=[profile]
        )
    except (RuntimeError, MemoryError) as error:
        if not is_out_of_memory(error):
            raise
        return {"preset": preset.name, "out_of_memory": True, "error": str(error).splitlines()[0]}
    finally:
        profile.remove()
    rows = [row for row in read_metrics(result.metrics_path) if row.get("wall_seconds") is not None]
    seconds = [row["wall_seconds"] for row in rows]
    lengths = [row["completions/mean_length"] for row in rows if "completions/mean_length" in row]
    shutil.rmtree(result.run_dir, ignore_errors=True)
    longest = preset.trainer_args.get("max_completion_length")
    return {
        "preset": preset.name,
        "out_of_memory": False,
        "steps_measured": len(seconds),
        "first_step_seconds": round(seconds[0], 2),
        "seconds_per_step": round(statistics.mean(seconds[1:] or seconds), 2),
        "completion_length": round(statistics.mean(lengths), 1) if lengths else None,
        "max_completion_length": longest,
        "full_length": ran_full_length(rows, longest, games=preset.rollout == "games")
        if preset.trainer == "grpo"
        else None,
        # Whole games: every turn at full length, so each game runs to its token budget (answers
        # and replies), about six single turns' worth; completion_length counts the model's tokens.
        **({"max_game_tokens": preset.max_game_tokens} if preset.rollout == "games" else {}),
        "peak_memory_gib": peak_memory_gib(),
        "wall_seconds": round(time.monotonic() - started, 1),
        "step_profile": profile.report,  # the last step, in parts (rft.training.step_profile)
    }


def ran_full_length(rows: list[dict[str, Any]], length: Any, games: bool = False) -> bool:
    """Whether every logged completion ran to ``length`` (TRL logs the shortest and longest of a
    step): the proof that the measurement is the worst case. For whole games TRL counts the model's
    tokens of a game, and full length is at least one whole turn in every game."""
    lows = [row.get("completions/min_length", row.get("completions/mean_length")) for row in rows]
    highs = [row.get("completions/max_length", row.get("completions/mean_length")) for row in rows]
    lows, highs = [v for v in lows if v is not None], [v for v in highs if v is not None]
    if not lows or length is None:
        return False
    return min(lows) >= length if games else min(lows) == max(highs) == length


def check_memory_cap(cap_gib: Any) -> None:
    """A cap is a positive number of GiB, on a machine with a CUDA GPU to hold to it."""
    check_number("--memory-cap", cap_gib)
    if not cuda_available():
        raise RuntimeError("--memory-cap holds a GPU's memory, and this machine has no CUDA GPU")


def cap_gpu_memory(cap_gib: float) -> dict[str, Any]:
    """Hold PyTorch's allocator to ``cap_gib`` on GPU 0, before the model loads: a T4's memory on
    any GPU. What the GPU is, and the share of it the cap leaves."""
    import torch

    check_memory_cap(cap_gib)
    properties = torch.cuda.get_device_properties(0)
    fraction = min(1.0, cap_gib * 2**30 / properties.total_memory)
    torch.cuda.set_per_process_memory_fraction(fraction, 0)
    capability = torch.cuda.get_device_capability(0)
    return {
        "cap_gib": cap_gib,
        "gpu_total_gib": round(properties.total_memory / 2**30, 2),
        "memory_fraction": round(fraction, 4),
        "capability": ".".join(map(str, capability)),
        "native_bf16": capability[0] >= 8,
    }


def under_cap(preset: Preset, memory_fraction: float) -> Preset:
    """vLLM sizes its pool on the GPU's whole memory: under a cap its share shrinks with the cap's."""
    if memory_fraction >= 1 or not (preset.fast_inference or preset.trainer_args.get("use_vllm")):
        return preset
    share = round(preset.gpu_memory_utilization * memory_fraction, 4)
    return apply_overrides(preset, {"gpu_memory_utilization": share})


def with_random_weights(stages: dict[str, Preset], folder: Path) -> tuple[dict[str, Preset], dict[str, Any]]:
    """The stages on random weights of their model's shape, written once to ``folder`` (float32 on a
    CPU; on a GPU the dtype the preset trains in). The tiny loader's model is read from the folder
    through transformers, as a downloaded model is."""
    import torch

    from rft.training.random_model import architecture_of, write_random_model

    first = next(iter(stages.values()))
    architecture = architecture_of(first)
    for stage in stages.values():
        if architecture_of(stage) != architecture:
            raise ValueError(
                f"--random-weights: the stages train different models ({first.model}, {stage.model})"
            )
    cuda = torch.cuda.is_available() and first.device == "cuda"
    dtype = "float32" if not cuda else "float16" if first.trainer_args.get("fp16") else "bfloat16"
    model = write_random_model(folder, architecture, dtype, "cuda" if cuda else "cpu", seed=first.seed)
    release_memory()  # the built model's cached blocks go back before the peak is measured
    moved = {
        name: apply_overrides(
            stage,
            {"model": str(folder), "loader": "transformers" if stage.loader == "tiny" else stage.loader},
        )
        for name, stage in stages.items()
    }
    return moved, model


def projected_seconds(figures: dict[str, Any], steps: int) -> float:
    """The first step as measured (it also warms up), the rest at the later steps' pace."""
    return figures["first_step_seconds"] + (steps - 1) * figures["seconds_per_step"]


def preflight(
    preset: Preset,
    runs_dir: str | Path = "runs",
    warm_up: Preset | None = None,
    session_hours: float | None = None,
    progress: bool = False,
    random_weights: bool = False,
    memory_cap_gib: float | None = None,
    spread: bool = False,
) -> dict[str, Any]:
    """Measure ``preset`` (and its ``warm_up``, when it has one) and project the whole run, with
    :func:`after_training_seconds` for what follows training; the report is written to
    ``preflight.json`` in a new ``preflight-<preset>-<timestamp>`` folder under ``runs_dir``, and
    returned. ``memory_cap_gib`` and ``random_weights``: see the module's docstring. ``spread``
    (Wordle GRPO): also sample groups on held-out boards and report whether their rewards differ
    at all (:mod:`rft.training.spread`), after the measured steps, so it never adds to their peak."""
    after, after_how = after_training_seconds(runs_dir)
    memory = device_memory()
    cap = cap_gpu_memory(memory_cap_gib) if memory_cap_gib is not None else None
    if cap is not None:
        memory |= {"total_gib": memory_cap_gib, "cap": cap}
    folder = new_run_dir(runs_dir, f"preflight-{preset.name}")
    stages = {"grpo" if preset.trainer == "grpo" else "train": preset}
    if warm_up is not None:
        stages = {"warm_up": warm_up, **stages}
    if cap is not None:
        stages = {name: under_cap(stage, cap["memory_fraction"]) for name, stage in stages.items()}
    model = None
    for earlier in Path(runs_dir).glob("preflight-*"):  # random models of killed preflights (GBs)
        remove_leftovers(earlier)
    if random_weights:  # named for this process: a later preflight knows a dead one's leftover
        stages, model = with_random_weights(stages, folder / f"random-model-{os.getpid()}")
    try:
        measured = {name: measure(stage, folder, progress) for name, stage in stages.items()}
    finally:
        if model is not None:  # gigabytes of random numbers: nothing to keep
            shutil.rmtree(model.pop("folder"), ignore_errors=True)
    report: dict[str, Any] = {
        "device": memory,
        "stages": measured,
        **({"model": model} if model else {}),
        "after_training": {"seconds": after, "how": after_how},
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "versions": versions(),
    }
    failed = [figures["preset"] for figures in measured.values() if figures["out_of_memory"]]
    if failed:
        report.update(fits_memory=False, verdict=f"{', '.join(failed)} ran out of memory: {ADVICE}")
    else:
        peak = max(figures["peak_memory_gib"] or 0 for figures in measured.values())
        total = memory["total_gib"]
        fits_memory = total is None or peak <= 0.95 * total
        training = {
            name: projected_seconds(figures, int(stages[name].trainer_args.get("max_steps", 1)))
            for name, figures in measured.items()
        }
        total_seconds = sum(training.values()) + after
        report.update(
            fits_memory=fits_memory,
            peak_memory_gib=round(peak, 2),
            projected_seconds={**{k: round(v) for k, v in training.items()}, "after_training": round(after)},
            projected_total_seconds=round(total_seconds),
        )
        verdict = f"peak memory {peak:.1f} GiB" + (f" of {total:.1f} GiB" if total else "")
        if not fits_memory:
            verdict += f": too close to the device's total; {ADVICE}"
        report["verdict"] = verdict + f"; the whole run about {total_seconds / 3600:.1f} h"
        if session_hours is not None:
            fits_session(report, measured, stages, session_hours, after)
    if spread:
        from rft.training.spread import spread_check

        report["spread"] = spread_check(preset)
    write_json(folder / PREFLIGHT_FILE, report)
    report["folder"] = str(folder)
    return report


def fits_session(
    report: dict[str, Any],
    measured: dict[str, dict[str, Any]],
    stages: dict[str, Preset],
    session_hours: float,
    after_training_seconds: float,
) -> None:
    """Add whether the run fits a session of ``session_hours``, and how many steps of the main stage
    would (the warm-up and what comes after training kept whole)."""
    main = next(reversed(stages))
    session = 3600 * session_hours
    others = sum(
        projected_seconds(figures, int(stages[name].trainer_args.get("max_steps", 1)))
        for name, figures in measured.items()
        if name != main
    )
    figures = measured[main]
    room = session - others - after_training_seconds - figures["first_step_seconds"]
    steps_that_fit = max(0, 1 + math.floor(room / figures["seconds_per_step"])) if room >= 0 else 0
    wanted = int(stages[main].trainer_args.get("max_steps", 1))
    fits = report["projected_total_seconds"] <= session
    report.update(session_hours=session_hours, fits_session=fits, steps_that_fit=min(steps_that_fit, wanted))
    report["verdict"] += (
        f"; fits a {session_hours:g} h session"
        if fits
        else f"; a {session_hours:g} h session has room for {steps_that_fit} of {wanted} steps "
        "(the run stops with a checkpoint and continues next session, or set max_steps)"
    )


def print_report(report: dict[str, Any]) -> None:
    """The report as a person reads it."""
    device = report["device"]
    cap = f", PyTorch held to {device['cap']['cap_gib']:g} GiB" if "cap" in device else ""
    print(f"preflight on {device['device']}{cap}:")
    if "model" in report:
        model = report["model"]
        print(f"  random weights: {model['parameters']:,} parameters in {model['dtype']}, the model's shape")
    for name, figures in report["stages"].items():
        if figures["out_of_memory"]:
            print(f"  {name} ({figures['preset']}): out of memory")
            continue
        print(
            f"  {name} ({figures['preset']}): {figures['seconds_per_step']:.1f} s/step after a first "
            f"step of {figures['first_step_seconds']:.1f} s; peak memory "
            f"{figures['peak_memory_gib'] or 0:.2f} GiB"
            + (
                f"; completions {figures['completion_length']:.0f} of "
                f"{figures['max_completion_length']} tokens"
                if figures["completion_length"] is not None
                else ""
            )
            + (
                f" a turn, whole games of up to {figures['max_game_tokens']} tokens with the game's "
                "replies (a step costs about as many turns as a game has)"
                if figures.get("max_game_tokens")
                else ""
            )
            + ("" if figures.get("full_length") is not False else " (NOT all at full length)"),
        )
        if figures.get("step_profile"):
            from rft.training.step_profile import profile_lines

            print("\n".join("    " + line for line in profile_lines(figures["step_profile"])))
    print(f"  {report['verdict']}")
    if "spread" in report:
        spread = report["spread"]
        print(
            f"  reward spread ({spread['model']}, {spread['samples']} answers at temperature 1 on "
            f"{spread['states']} held-out boards): {spread['verdict']}"
        )
    print(f"written to {Path(report['folder']) / PREFLIGHT_FILE}")
