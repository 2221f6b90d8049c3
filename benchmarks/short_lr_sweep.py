"""Which learning rate should GRPO continue a short-answer warm-up with? A short sweep.

    python benchmarks/short_lr_sweep.py --warm-up RUN                     # SmolLM2: 1e-5, 5e-5, 2e-4
    python benchmarks/short_lr_sweep.py --preset cpu-qwen2.5-coder-0.5b-wordle-short --warm-up RUN \\
        --lr 1e-5 --lr 1e-4 --steps 8

GRPO's learning rate after the warm-up is set here, not inherited from the warm-up's or from runs
of another design. Each arm continues the same warm-up (RUN: a finished PRESET-sft run, e.g. one
benchmarks/spread_before_grpo.py --runs-dir kept) for ``--steps`` steps of the short preset (its
cosine schedule over those steps, its KL term), then answers the first ``--states`` held-out boards
greedily, paired with the warm-up on the same boards (McNemar's exact test), with ``--samples``
answers a board at temperature 1 for pass@k. Several arms are compared with one warm-up, so a
single p-value below 0.05 among them is weaker evidence than it reads. Writes
results/short_lr_sweep-<model>.json.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from _learning import stage_summary
from _results import changed_flags, write

from rft.models import load_base, with_adapter
from rft.runtime import release_memory
from rft.training.config import apply_overrides
from rft.training.presets import Preset, get_preset
from rft.training.run import read_run_config, read_run_result, train
from rft.wordle.held_out_states import answer_states, fingerprint, held_out_states, paired, state_metrics

LEARNING_RATES = ("1e-5", "5e-5", "2e-4")
STEPS = 10
STATES = 300
SAMPLES = 0  # greedy alone: the paired test reads only the greedy answer


def answers(preset, run_dir: Path, states, samples: int, merge: bool = False) -> list[dict]:
    """The adapter of ``run_dir`` on ``preset``'s base, held and prompted as the preset trains.
    ``merge``: the adapter is added into the base weights first (PEFT's merge_and_unload), which
    answers about 1.5 times as fast on a CPU as the adapter beside bf16 weights; in bf16 the sum
    is rounded, so a greedy answer may differ where two tokens nearly tie (none of 32 did)."""
    loaded = with_adapter(load_base(preset), run_dir)
    model = loaded.model.merge_and_unload() if merge else loaded.model
    try:
        return answer_states(
            model,
            loaded.tokenizer,
            loaded.prompt_style,
            states,
            samples,
            preset.eval_max_new_tokens,
        )
    finally:
        del loaded, model
        release_memory()


def plan(grpo: Preset, warm_up: Path, rates: list[str], steps: int) -> dict[str, Preset]:
    """Each arm's preset: ``grpo`` continuing ``warm_up`` at one rate for ``steps`` steps. All are
    checked here, so a wrong rate or warm-up fails in seconds, not after the warm-up's boards."""
    warm = read_run_config(warm_up)
    if warm.trainer != "sft" or warm.model != grpo.model or warm.prompt_style != grpo.prompt_style:
        raise ValueError(f"--warm-up: {warm_up} is not a warm-up of {grpo.name}'s model in its prompt style")
    return {
        rate: apply_overrides(
            grpo, {"init_from": str(warm_up), "learning_rate": rate, "max_steps": str(steps)}
        )
        for rate in rates
    }


def sweep(
    grpo: Preset,
    warm_up: Path,
    arms: dict[str, Preset],
    states_count: int,
    samples: int,
    merge: bool,
    runs_dir: Path | None,
) -> dict:
    """The warm-up's answers on the held-out boards, then each arm's after its training, paired
    with the warm-up's on the same boards."""
    states = held_out_states(states_count)
    started = time.monotonic()
    warm_answers = answers(grpo, warm_up, states, samples, merge)
    figures: dict = {
        "preset": grpo.name,
        "warm_up": {
            "run": warm_up.name,
            "steps": read_run_result(warm_up).global_step,
            **state_metrics(warm_answers),
            "eval_seconds": round(time.monotonic() - started, 1),
        },
        "states_fingerprint": fingerprint(states),
        "adapters_merged": merge,
        "arms": {},
    }
    with tempfile.TemporaryDirectory() as scratch:
        runs = runs_dir or Path(scratch)
        for rate, preset in arms.items():
            print(f"learning_rate {rate} ...", flush=True)
            started = time.monotonic()
            run = train(replace(preset), runs_dir=runs, progress=False)
            train_seconds = time.monotonic() - started
            started = time.monotonic()
            arm_answers = answers(grpo, run.run_dir, states, samples, merge)
            figures["arms"][rate] = {
                "training": stage_summary(run, train_seconds),
                **state_metrics(arm_answers),
                "vs_warm_up": paired(warm_answers, arm_answers),
                "eval_seconds": round(time.monotonic() - started, 1),
            }
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="cpu-smollm2-wordle-short", help="the short-answer GRPO preset")
    parser.add_argument("--warm-up", type=Path, required=True, metavar="RUN", help="the finished warm-up run")
    parser.add_argument(
        "--lr", action="append", help=f"a learning rate to try (default {', '.join(LEARNING_RATES)})"
    )
    parser.add_argument("--steps", type=int, default=STEPS, help="GRPO steps an arm trains")
    parser.add_argument("--states", type=int, default=STATES, help="held-out boards each model answers")
    parser.add_argument(
        "--samples", type=int, default=SAMPLES, help="answers a board at temperature 1 (pass@k)"
    )
    parser.add_argument(
        "--runs-dir", type=Path, help="keep the arms' runs here (default: a temporary folder)"
    )
    parser.add_argument(
        "--merge",
        action="store_true",
        help="answer with each adapter merged into the base weights (about 1.5x as fast on a CPU in bf16)",
    )
    args = parser.parse_args()
    grpo = get_preset(args.preset)
    try:
        arms = plan(grpo, args.warm_up, args.lr or list(LEARNING_RATES), args.steps)
    except ValueError as error:
        parser.error(str(error))
    figures = sweep(grpo, args.warm_up, arms, args.states, args.samples, args.merge, args.runs_dir)
    model = "qwen" if "qwen" in grpo.name else "smollm2" if "smollm2" in grpo.name else grpo.name
    changes = changed_flags(parser, args, ignore=("--warm-up", "--runs-dir")) or "baseline: the default arms"
    write(f"short_lr_sweep-{model}", figures, parent="spread_before_grpo.json (its warm-up)", changes=changes)


if __name__ == "__main__":
    main()
