"""The SFT warm-up alone: a fixed CPU budget of supervised steps on solver traces, then held-out games.

The warm-up is where the 135M model learns the answer format, so a trace design that loses here
loses in the whole benchmark too. This measures one in about 40 minutes on 2 cores (30 minutes of
training, as in ``cpu_learning.py``'s default split, then 50 games: the first 50 of its 200), a
third of the full benchmark's time. Settings of the warm-up preset are given with ``--set``:

    python benchmarks/sft_warmup.py --set rejected_share=0 --label no-lost-turns

With ``--own-games N`` the budget is spent in two rounds: the usual warm-up, then a second one
that continues it on the states it reaches in N games of its own, each answered by the trace
player (``own_games``: the way out of its own mistakes), mixed with 100 usual rows.
The second round's games count against the budget.

Writes ``results/sft_warmup-LABEL.json``; the run folders keep the adapters and the games.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from _learning import OPEN_ENDED, format_failures, stage_summary, step_seconds, warm_up
from _results import changed_flags, write

from rft.training.config import apply_overrides
from rft.training.presets import get_preset
from rft.training.run import new_run_dir, read_run_config, read_run_result

BOOKKEEPING = ("--label", "--runs-dir", "--evaluate-only")  # flags that change no figure
REPORTED = ("history_players", "rejected_share", "num_rows", "own_games", "prompt_style", "lora_r")


def parse_settings(pairs: list[str]) -> dict[str, str]:
    settings = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"--set {pair!r}: expected KEY=VALUE, e.g. --set rejected_share=0")
        settings[key] = value
    return settings


def play(run_dir: Path, games: int, max_new_tokens: int) -> dict:
    """The warm-up's adapter plays the first ``games`` held-out secrets (the full benchmark's)."""
    from rft.models import load_base, with_adapter
    from rft.wordle.held_out_games import ModelPlayer, evaluate_players, held_out_secrets

    preset = read_run_config(run_dir)
    loaded = with_adapter(load_base(preset), run_dir)
    player = ModelPlayer(loaded.model, loaded.tokenizer, loaded.prompt_style, max_new_tokens)
    details = {"run": str(run_dir), "max_new_tokens": max_new_tokens}
    return evaluate_players({"sft": player}, held_out_secrets(games, preset.seed), run_dir / "eval", details)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--preset", default="cpu-smollm2-wordle-sft")
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--games", type=int, default=50)
    parser.add_argument("--max-new-tokens", type=int, default=160)
    parser.add_argument("--runs-dir", type=Path, default=Path("runs"))
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a warm-up setting")
    parser.add_argument("--label", default="default", help="names the results file: sft_warmup-LABEL.json")
    parser.add_argument("--own-games", type=int, default=0, help="games of its own for a second round")
    parser.add_argument(
        "--evaluate-only", type=Path, metavar="FOLDER", help="play an earlier call's runs/sft-warmup-*"
    )
    args = parser.parse_args()

    rounds = {}
    if args.evaluate_only:
        runs = sorted(
            (c.parent for c in args.evaluate_only.glob("*/config.json")),
            key=lambda run_dir: read_run_config(run_dir).own_games,
        )
        for number, run_dir in enumerate(runs, start=1):
            run = read_run_result(run_dir)
            rounds[f"round{number}"] = stage_summary(run, step_seconds(run))
    else:
        preset = apply_overrides(get_preset(args.preset), {**OPEN_ENDED, **parse_settings(args.set)})
        folder = new_run_dir(args.runs_dir, "sft-warmup")
        run, rounds = warm_up(preset, folder, args.minutes * 60, args.own_games)
    preset = read_run_config(run.run_dir)

    eval_started = time.monotonic()
    evaluation = play(run.run_dir, args.games, args.max_new_tokens)
    metrics = evaluation["metrics"]["sft"]
    flags = changed_flags(parser, args, ignore=BOOKKEEPING)
    write(
        f"sft_warmup-{args.label}",
        parent="sft_warmup-default.json" if flags else None,
        changes=flags or f"none (the {args.preset} warm-up as the preset has it)",
        figures={
            "model": preset.model,
            "preset": args.preset,
            "settings": {name: json.loads(json.dumps(getattr(preset, name))) for name in REPORTED},
            "learning_rate": preset.trainer_args.get("learning_rate"),
            "budget_minutes": args.minutes,
            "games": args.games,
            "rounds": rounds,
            "run": run.run_dir.name,
            "eval_seconds": round(time.monotonic() - eval_started, 1),
            "metrics": {k: v for k, v in metrics.items() if k != "guess_distribution"},
            "guess_distribution": metrics["guess_distribution"],
            "format_failures": format_failures(evaluation["games"]["sft"]),
        },
    )


if __name__ == "__main__":
    main()
