"""A group's prompt computed once: a full-length GRPO step with TRL's path against the shared prompt.

    python benchmarks/shared_prompt_step.py
    python benchmarks/shared_prompt_step.py --short-answer PRESET   # adds a short-answer step (target 3x)

Each preset runs twice, each arm in its own process, through `rft preflight`'s measurement (the
preset's loader, dtype, LoRA and GRPO settings, every completion forced to its full length, the
first step left out of the mean) with its step profile: where the step's time goes and what share
of this machine's matmul rate each part reached. The arms differ in one thing:

- ``trl``: TRL's own path: ``generate`` with each prompt repeated ``num_generations`` times, and
  TRL's ``GRPOTrainer`` computing every row's prompt again in the log-prob forward;
- ``shared``: what ``rft train`` does: each distinct prompt prefilled once (rft.prompt_cache) and
  run once in the log-prob forward (rft.training.shared_prompt).

Targets: at least 1.6x on the 0.5B's full-length step, at least 3x on a short-answer step (a
prompt of about 240 tokens and an answer of about 8: give its preset with ``--short-answer`` once
that style exists). Writes results/shared_prompt_step.json; run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from _results import write

PRESETS = ("cpu-smollm2-wordle", "cpu-qwen2.5-coder-0.5b-wordle")
ARMS = ("trl", "shared")
# The speedup each step must reach (shared over TRL's path); None: measured, no target.
TARGETS = {"cpu-qwen2.5-coder-0.5b-wordle": 1.6}
SHORT_ANSWER_TARGET = 3.0
STEPS = 2


@contextlib.contextmanager
def trls_path() -> Iterator[None]:
    """Training as TRL does it: its own GRPOTrainer, and ``generate`` left unwrapped."""
    import trl

    import rft.generation
    import rft.training.run
    import rft.training.shared_prompt

    def plain(generate: Any, model: Any, input_ids: Any, attention_mask: Any, **settings: Any) -> Any:
        return generate(input_ids=input_ids, attention_mask=attention_mask, **settings)

    replaced = [
        (rft.training.shared_prompt, "grpo_trainer_class", lambda loader: trl.GRPOTrainer),
        (rft.training.run, "share_prompts_in_generate", lambda model: None),
        (rft.generation, "generate_sharing_prompts", plain),
    ]
    originals = [(owner, name, getattr(owner, name)) for owner, name, _ in replaced]
    for owner, name, value in replaced:
        setattr(owner, name, value)
    try:
        yield
    finally:
        for owner, name, value in originals:
            setattr(owner, name, value)


def measure_arm(preset_name: str, arm: str, out_dir: Path, steps: int, overrides: dict[str, str]) -> dict:
    """One arm's full-length steps of a preset, as `rft preflight` measures them."""
    from rft.training.config import apply_overrides
    from rft.training.policy import cpu_dtype, model_path
    from rft.training.preflight import measure
    from rft.training.presets import get_preset

    preset = apply_overrides(get_preset(preset_name), overrides)
    model_path(preset.model)  # fetched and converted before the clock starts
    with trls_path() if arm == "trl" else contextlib.nullcontext():
        figures = measure(preset, out_dir, steps=steps)
    return {**figures, "dtype": str(cpu_dtype(preset)).removeprefix("torch.")}


def summary(arms: dict[str, dict], target: float | None) -> dict[str, Any]:
    """Both arms side by side: seconds per step, the speedup, and each arm's share of the matmul rate."""
    speedup = arms["trl"]["seconds_per_step"] / arms["shared"]["seconds_per_step"]
    return {
        "seconds_per_step": {arm: figures["seconds_per_step"] for arm, figures in arms.items()},
        "share_of_matmul_rate": {
            arm: (figures.get("step_profile") or {}).get("share_of_matmul_rate")
            for arm, figures in arms.items()
        },
        "speedup": round(speedup, 3),
        "target": target,
        "met": None if target is None else speedup >= target,
        "arms": arms,
    }


def run_arm_in_child(preset: str, arm: str, steps: int, overrides: dict[str, str]) -> dict:
    with tempfile.TemporaryDirectory() as out_dir:
        command = [
            sys.executable,
            __file__,
            "--child",
            preset,
            arm,
            out_dir,
            str(steps),
            json.dumps(overrides),
        ]
        done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"{preset} ({arm}) failed:\n{done.stderr[-3000:]}")
    return json.loads(next(line for line in done.stdout.splitlines() if line.startswith("RESULT "))[7:])


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--child":  # --child PRESET ARM OUT_DIR STEPS OVERRIDES
        preset, arm, out_dir, steps, overrides = argv[1:]
        print(
            "RESULT " + json.dumps(measure_arm(preset, arm, Path(out_dir), int(steps), json.loads(overrides)))
        )
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--preset", action="append", help=f"a preset to measure (default: {', '.join(PRESETS)})"
    )
    parser.add_argument("--short-answer", help="the preset of the short-answer style (target 3x)")
    parser.add_argument("--steps", type=int, default=STEPS, help="measured steps an arm (the first warms up)")
    parser.add_argument("--set", action="append", default=[], help="NAME=VALUE: an override for every preset")
    parser.add_argument("--name", default="shared_prompt_step", help="the results file's name")
    args = parser.parse_args(argv)
    overrides = dict(setting.split("=", 1) for setting in args.set)
    cases = {name: TARGETS.get(name) for name in args.preset or PRESETS}
    if args.short_answer:
        cases[args.short_answer] = SHORT_ANSWER_TARGET
    figures = {}
    for preset, target in cases.items():
        arms = {}
        for arm in ARMS:
            print(f"{preset} ({arm}) ...", flush=True)
            arms[arm] = run_arm_in_child(preset, arm, args.steps, overrides)
        figures[preset] = summary(arms, target)
    write(
        args.name,
        parent=None,
        changes="none (TRL's path against the shared prompt, both arms in this file)",
        figures={
            "steps_an_arm": args.steps,
            "overrides": overrides,
            "short_answer": args.short_answer,
            **figures,
        },
    )


if __name__ == "__main__":
    main()
