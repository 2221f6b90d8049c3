"""Can GRPO learn play from here? The spread of the groups a short-answer run would start from.

    python benchmarks/spread_before_grpo.py                       # SmolLM2-135M and Qwen2.5-Coder-0.5B
    python benchmarks/spread_before_grpo.py --preset cpu-smollm2-wordle-short --sft-steps 30

GRPO learns only from groups whose rewards differ, and it can only reinforce guesses the model
already samples. So before a long run, for each short-answer preset (guesses held to allowed
words), this measures ``rft preflight --spread`` (8 answers at temperature 1 on the first 50
held-out boards, scored with the preset's rewards: the share of groups with spread, the greedy
consistent-guess rate and pass@8) twice: on the base model (no warm-up) and on its warm-up (the
solver's word alone, ``PRESET-sft``, trained here for ``--sft-steps``). Which of the two gives
GRPO something to reinforce is the question; a warm-up whose pass@8 stays at the greedy rate
has no better guesses for GRPO to find. Writes results/spread_before_grpo.json.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from _results import changed_flags, write

from rft.training.config import apply_overrides
from rft.training.presets import get_preset
from rft.training.run import train
from rft.training.spread import spread_check

PRESETS = ("cpu-smollm2-wordle-short", "cpu-qwen2.5-coder-0.5b-wordle-short")
SFT_STEPS = 30
STATES = 50


def measure(preset_name: str, sft_steps: int, states: int, runs_dir: Path) -> dict:
    """The base model's spread, then the warm-up's, for one short-answer preset."""
    grpo = get_preset(preset_name)
    base = spread_check(grpo, states=states)
    started = time.monotonic()
    warm_up = train(
        apply_overrides(get_preset(f"{preset_name}-sft"), {"max_steps": str(sft_steps)}),
        runs_dir=runs_dir,
        progress=False,
    )
    sft_seconds = round(time.monotonic() - started, 1)
    warmed = spread_check(apply_overrides(grpo, {"init_from": str(warm_up.run_dir)}), states=states)
    warmed["model"] = warm_up.run_dir.name  # the folder's name only: where it lies is the machine's business
    return {
        "base": base,
        "warm_up": {
            **warmed,
            "sft_steps": warm_up.global_step,
            "sft_seconds": sft_seconds,
            "run_dir": warm_up.run_dir.name,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", action="append", help="a short-answer GRPO preset (default: both)")
    parser.add_argument("--sft-steps", type=int, default=SFT_STEPS, help="warm-up steps before the check")
    parser.add_argument("--states", type=int, default=STATES, help="held-out boards the check samples")
    parser.add_argument("--name", default="spread_before_grpo", help="the results file's name")
    parser.add_argument(
        "--runs-dir", type=Path, help="keep the warm-ups' run folders here (a GRPO run can --init-from them)"
    )
    args = parser.parse_args()
    figures = {}
    with tempfile.TemporaryDirectory() as scratch:
        runs = args.runs_dir or Path(scratch)
        for name in args.preset or PRESETS:
            print(f"{name} ...", flush=True)
            figures[name] = measure(name, args.sft_steps, args.states, runs)
            if not args.runs_dir:  # a temporary folder, gone with the script
                del figures[name]["warm_up"]["run_dir"]
    changes = changed_flags(parser, args, ignore=("--name", "--runs-dir")) or "baseline: base against warm-up"
    write(args.name, {"presets": figures}, parent=None, changes=changes)


if __name__ == "__main__":
    main()
