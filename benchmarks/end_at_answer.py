"""Ending each completion at its closing tag: what it saves and what it changes, on the demo's recipe.

``make demo`` trains the CPU warm-up (30 SFT steps), continues it with 8 GRPO steps and plays 16
held-out games. This trains that warm-up once, then the same GRPO stage (same seed, same rows)
three times:

- ``before``: completions run on to ``max_completion_length`` or an end-of-sequence token;
- ``after``: each ends right after ``</guess>`` (``end_at_answer``, the presets' default);
- ``after+mask``: that, and TRL's ``mask_truncated_completions`` (a completion cut by the cap
  adds nothing to the loss).

For each: tokens generated per step (TRL's ``completions/mean_length`` × completions a step),
the share cut by the cap, seconds a step, the rewards by step; then every adapter plays the same
held-out games. The ``before`` adapter also plays without the end (the evaluation before this
change), which measures what ending the turn saves in evaluation alone.

    python benchmarks/end_at_answer.py            # about 35 minutes on 2 cores

Writes ``results/end_at_answer.json``; the run folders keep adapters, samples and games.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from _results import write

from rft.training.config import apply_overrides
from rft.training.presets import get_preset
from rft.training.run import new_run_dir, read_metrics, read_run_result, train

VARIANTS: dict[str, dict[str, Any]] = {
    "before": {"end_at_answer": False},
    "after": {"end_at_answer": True},
    "after+mask": {"end_at_answer": True, "mask_truncated_completions": True},
    # Room for the longest warm-up trace (153 tokens; 6% of them run past 128).
    "after-160": {"end_at_answer": True, "max_completion_length": 160},
    "after+mask-160": {
        "end_at_answer": True,
        "mask_truncated_completions": True,
        "max_completion_length": 160,
    },
}
DEFAULT_VARIANTS = ("before", "after", "after+mask")
STEP_FIGURES = ("completions/mean_length", "completions/clipped_ratio", "reward", "step_time")
EVAL_FIGURES = ("win_rate", "format_valid_rate", "valid_guess_rate", "consistency_rate", "turns")


def step_rows(metrics_path: Path) -> list[dict[str, Any]]:
    """The figures of each training step this benchmark compares (rewards by name included)."""
    rows = []
    for row in read_metrics(metrics_path):
        if "reward" not in row:
            continue
        kept = {"step": row["step"], "wall_seconds": row.get("wall_seconds")}
        kept |= {key: row[key] for key in row if key in STEP_FIGURES or key.startswith("rewards/")}
        rows.append(kept)
    return rows


def stage_figures(rows: list[dict[str, Any]], completions_per_step: int) -> dict[str, Any]:
    def mean(key: str) -> float:
        values = [row[key] for row in rows if row.get(key) is not None]
        return round(sum(values) / len(values), 4) if values else float("nan")

    return {
        "tokens_per_step": round(mean("completions/mean_length") * completions_per_step, 1),
        "mean_completion_tokens": mean("completions/mean_length"),
        "clipped_share": mean("completions/clipped_ratio"),
        "seconds_per_step": mean("wall_seconds"),
        "reward_first_last": [rows[0]["reward"], rows[-1]["reward"]] if rows else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sft-steps", type=int, default=30)
    parser.add_argument("--grpo-steps", type=int, default=8)
    parser.add_argument("--games", type=int, default=16)
    parser.add_argument("--runs-dir", type=Path, default=Path("runs"))
    parser.add_argument("--label", default="", help="names the results file: end_at_answer-LABEL.json")
    parser.add_argument(
        "--warm-up", type=Path, help="a finished warm-up run to continue instead of training one"
    )
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=DEFAULT_VARIANTS)
    parser.add_argument(
        "--eval-tokens", type=int, help="new tokens a turn in the games (default: the preset's)"
    )
    args = parser.parse_args()

    from rft.models import load_base, with_adapter
    from rft.wordle.held_out_games import ModelPlayer, evaluate_players, held_out_secrets

    folder = new_run_dir(args.runs_dir, "end-at-answer")
    if args.warm_up:
        sft = read_run_result(args.warm_up)
    else:
        sft = train(
            apply_overrides(get_preset("cpu-smollm2-wordle-sft"), {"max_steps": args.sft_steps}),
            runs_dir=folder,
        )
    stages: dict[str, Any] = {}
    runs: dict[str, Path] = {}
    for name in args.variants:
        settings = VARIANTS[name]
        preset = apply_overrides(
            get_preset("cpu-smollm2-wordle"),
            {**settings, "max_steps": args.grpo_steps, "init_from": str(sft.run_dir)},
        )
        result = train(preset, runs_dir=folder)
        rows = step_rows(result.metrics_path)
        per_step = preset.trainer_args["per_device_train_batch_size"] * preset.trainer_args.get(
            "gradient_accumulation_steps", 1
        )
        stages[name] = {"settings": settings, **stage_figures(rows, per_step), "steps": rows}
        runs[name] = result.run_dir

    preset = get_preset("cpu-smollm2-wordle")
    players: dict[str, ModelPlayer] = {}
    for name, run_dir in {"sft": sft.run_dir, **runs}.items():
        loaded = with_adapter(load_base(preset), run_dir)
        players[name] = ModelPlayer(
            loaded.model,
            loaded.tokenizer,
            loaded.prompt_style,
            args.eval_tokens or preset.eval_max_new_tokens,
        )
    if "before" in players:
        before = players["before"]
        players["before, evaluated without the end"] = ModelPlayer(
            before.model, before.tokenizer, before.prompt_style, before.max_new_tokens, end_after=None
        )
    secrets = held_out_secrets(args.games, preset.seed)
    evaluations: dict[str, Any] = {}
    for name, player in players.items():
        started = time.monotonic()
        out = folder / "eval" / name.split(",")[0].replace("+", "-")
        result = evaluate_players(
            {name: player}, secrets, out / ("no-end" if player.end_after is None else "end")
        )
        metrics = result["metrics"][name]
        evaluations[name] = {
            "seconds": round(time.monotonic() - started, 1),
            **{key: metrics[key] for key in EVAL_FIGURES},
        }

    write(
        "end_at_answer" + (f"-{args.label}" if args.label else ""),
        parent="make demo: cpu-smollm2-wordle-sft for 30 steps, cpu-smollm2-wordle for 8, 16 games",
        changes=", ".join(f"{name}: {VARIANTS[name]}" for name in args.variants),
        figures={
            "question": "Does ending each completion at </guess> make the demo's GRPO faster and better?",
            "runs": str(folder),
            "warm_up": str(sft.run_dir),
            "eval_tokens": args.eval_tokens or preset.eval_max_new_tokens,
            "metrics": {"grpo": stages, "evaluation": evaluations},
        },
    )


if __name__ == "__main__":
    main()
