"""The SFT warm-up alone: a fixed CPU budget of supervised steps on solver traces, then held-out games.

The warm-up is where the 135M model learns the answer format, so a trace design that loses here
loses in the whole benchmark too. This measures one in about 40 minutes on 2 cores (30 minutes of
training, as in ``cpu_learning.py``'s default split, then 50 games: the first 50 of its 200), a
third of the full benchmark's time. Settings of the warm-up preset are given with ``--set``:

    python benchmarks/sft_warmup.py --set trace_guesser=best-answer --label best-answer

Writes ``results/sft_warmup-LABEL.json``; the run folder keeps the adapter and the games.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from _results import write
from cpu_learning import OPEN_ENDED, format_failures, saved_run, stage_summary, step_seconds, stop_after

from rft.training.presets import apply_overrides, get_preset
from rft.training.run import new_run_dir, read_run_config, train

PRESET = "cpu-smollm2-wordle-sft"
REPORTED = ("trace_guesser", "policies", "rejected_share", "num_rows", "prompt_style", "lora_r")


def parse_settings(pairs: list[str]) -> dict[str, str]:
    settings = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"--set {pair!r}: expected KEY=VALUE, e.g. --set trace_guesser=best-answer")
        settings[key] = value
    return settings


def play(run_dir: Path, games: int, max_new_tokens: int) -> dict:
    """The warm-up's adapter plays the first ``games`` held-out secrets (the full benchmark's)."""
    from rft.evaluate import ModelPlayer, evaluate, held_out_secrets, load_base, with_adapter

    preset = read_run_config(run_dir)
    loaded = with_adapter(load_base(preset), run_dir)
    player = ModelPlayer(loaded.model, loaded.tokenizer, loaded.prompt_style, max_new_tokens)
    details = {"run": str(run_dir), "max_new_tokens": max_new_tokens}
    return evaluate({"sft": player}, held_out_secrets(games, preset.seed), run_dir / "eval", details)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--games", type=int, default=50)
    parser.add_argument("--max-new-tokens", type=int, default=160)
    parser.add_argument("--runs-dir", type=Path, default=Path("runs"))
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a warm-up setting")
    parser.add_argument("--label", default="default", help="names the results file: sft_warmup-LABEL.json")
    parser.add_argument(
        "--evaluate-only", type=Path, metavar="FOLDER", help="play an earlier call's runs/sft-warmup-*"
    )
    args = parser.parse_args()

    if args.evaluate_only:
        run = saved_run(args.evaluate_only, "sft")
        seconds = step_seconds(run)
    else:
        preset = apply_overrides(get_preset(PRESET), {**OPEN_ENDED, **parse_settings(args.set)})
        folder = new_run_dir(args.runs_dir, "sft-warmup")
        started = time.monotonic()
        run = train(preset, runs_dir=folder, progress=False, extra_callbacks=[stop_after(args.minutes * 60)])
        seconds = time.monotonic() - started
    preset = read_run_config(run.run_dir)

    eval_started = time.monotonic()
    evaluation = play(run.run_dir, args.games, args.max_new_tokens)
    metrics = evaluation["metrics"]["sft"]
    write(
        f"sft_warmup-{args.label}",
        {
            "model": "SmolLM2-135M-Instruct + LoRA (embedded)",
            "preset": PRESET,
            "settings": {name: json.loads(json.dumps(getattr(preset, name))) for name in REPORTED},
            "learning_rate": preset.trainer_args.get("learning_rate"),
            "budget_minutes": args.minutes,
            "games": args.games,
            "stage": stage_summary(run, seconds),
            "run": run.run_dir.name,
            "eval_seconds": round(time.monotonic() - eval_started, 1),
            "metrics": {k: v for k, v in metrics.items() if k != "guess_distribution"},
            "guess_distribution": metrics["guess_distribution"],
            "format_failures": format_failures(evaluation["games"]["sft"]),
        },
    )


if __name__ == "__main__":
    main()
