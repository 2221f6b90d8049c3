"""Whole-game GRPO against single-turn GRPO, at equal wall-clock, from the same warm-up.

    python benchmarks/whole_games.py                              # results/whole_games.json
    python benchmarks/whole_games.py --warm-up-from runs/<sft-run> --games 200
    python benchmarks/whole_games.py --evaluate-from runs/whole-games-<timestamp>   # play its runs again

One SFT warm-up (cpu-smollm2-wordle-sft, stopped at --warm-up-minutes, or an earlier one), then two
GRPO runs from it, each stopped after --minutes: single-turn (cpu-smollm2-wordle: one answer to one
game state a completion) and whole games (cpu-smollm2-wordle-games: each group plays one game to its
end, every turn scored and the outcome paid). Then the same held-out games, greedy, for each model
as it trained (single-turn prompts, or one chat a game), and the warm-up both ways, so that what
the chat format alone changes is told apart from what whole-game training changes; the solver and
random players beside them. Reports wins, consistent guesses and format with 95% intervals, and
what a step costs (seconds, tokens the model wrote, tokens trained on).

SmolLM2-135M, not the Qwen 0.5B: its warm-up writes the format on 82% of turns (the 0.5B's on 40%,
results/qwen_learning.json), so its games run past the first turn, and a whole-game step and the
evaluation fit a session (a 0.5B game step is minutes). Writes results/whole_games*.json and
images/whole-games-rates.png.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from _learning import HIGHER_IS_BETTER, OPEN_ENDED, format_failures
from _results import changed_flags, write

from rft.models import load_base, with_adapter
from rft.stats import intervals_overlap
from rft.tasks import EvalRequest
from rft.training.config import Preset, apply_overrides
from rft.training.presets import get_preset
from rft.training.run import RunResult, new_run_dir, read_metrics, read_run_config, read_run_result, train

SFT, TURNS, GAMES = "cpu-smollm2-wordle-sft", "cpu-smollm2-wordle", "cpu-smollm2-wordle-games"
IMAGES = Path(__file__).resolve().parents[1] / "images"


def arm_summary(run_dir: Path, seconds: float) -> dict:
    """A GRPO run's steps and what they cost: seconds, the model's tokens and all tokens a step."""
    rows = [row for row in read_metrics(run_dir / "metrics.jsonl") if "reward" in row]
    seen = [row["num_tokens"] for row in rows]
    steps = len(rows)
    summary = {
        "steps": steps,
        "wall_seconds": round(seconds, 1),
        "seconds_per_step": round(sum(row["wall_seconds"] or 0 for row in rows) / max(1, steps), 1),
        # num_tokens counts prompts and completions (a whole game's replies too) a step trained on
        "tokens_per_step": round(seen[-1] / steps) if steps else None,
        "model_tokens_per_completion": round(
            sum(r["completions/mean_length"] for r in rows) / max(1, steps), 1
        ),
        "reward_first_last": [rows[0]["reward"], rows[-1]["reward"]] if rows else None,
        "steps_with_reward_spread": sum(1 for row in rows if row.get("frac_reward_zero_std", 1) < 1),
    }
    if rows and "games/win_rate" in rows[0]:
        summary["games_per_step"] = {
            key: [round(row[key], 3) for row in rows]
            for key in ("games/win_rate", "games/mean_turns", "games/cut_rate")
        }
    return summary


def train_warm_up(args: argparse.Namespace, folder: Path) -> tuple[RunResult, dict]:
    """The warm-up both arms start from: an earlier one (--warm-up-from), or one trained now."""
    if args.warm_up_from:
        warm_up = read_run_result(Path(args.warm_up_from))
        return warm_up, {"from": str(warm_up.run_dir), "steps": warm_up.global_step}
    began = time.monotonic()
    warm_up = train(get_preset(SFT), runs_dir=folder, progress=False, time_limit=args.warm_up_minutes * 60)
    return warm_up, {"steps": warm_up.global_step, "wall_seconds": round(time.monotonic() - began, 1)}


def trained_in(folder: Path) -> tuple[RunResult, dict[str, tuple[Preset, Path]], dict[str, dict]]:
    """The warm-up and the two arms an earlier run of this script left in ``folder``; each arm's
    wall time is the sum of its steps' (the stage's own clock was not saved)."""
    found = {}
    for run_dir in sorted(p for p in folder.iterdir() if (p / "config.json").is_file()):
        found[read_run_config(run_dir).name] = run_dir
    missing = [name for name in (SFT, TURNS, GAMES) if name not in found]
    if missing:
        raise SystemExit(f"{folder}: no {missing[0]} run in it")
    runs = {
        label: (read_run_config(found[name]), found[name])
        for label, name in (("turns", TURNS), ("games", GAMES))
    }
    arms = {}
    for label, (_, run_dir) in runs.items():
        steps = sum(
            row["wall_seconds"] or 0 for row in read_metrics(run_dir / "metrics.jsonl") if "reward" in row
        )
        arms[label] = arm_summary(run_dir, steps)
    return read_run_result(found[SFT]), runs, arms


def compare(metrics: dict, first: str, second: str) -> dict:
    """``second`` against ``first`` on every rate with an interval: the difference, and whether
    the 95% intervals overlap (no overlap: a clear difference)."""
    out = {}
    for metric, higher_is_better in HIGHER_IS_BETTER.items():
        a, b = metrics[first], metrics[second]
        if a.get(metric) is None or b.get(metric) is None:
            continue
        out[metric] = {
            "difference": round(b[metric] - a[metric], 4),
            "intervals_overlap": intervals_overlap(a[f"{metric}_ci95"], b[f"{metric}_ci95"]),
            "better": (b[metric] > a[metric]) == higher_is_better and b[metric] != a[metric],
        }
    return out


KEPT_METRICS = [
    *("games", "wins", "win_rate", "win_rate_ci95", "cut_games", "turns", "guess_distribution"),
    *("format_valid_rate", "format_valid_rate_ci95", "consistency_turns", "consistency_rate"),
    *("consistency_rate_ci95", "replayed_guess_rate", "replayed_guess_rate_ci95"),
    *("rejected_repeated_rate", "rejected_repeated_rate_ci95", "recovered_after_lost_rate"),
    *("recovered_after_lost_rate_ci95", "top_later_guess", "top_later_guess_share"),
    "mean_guesses_when_won",
]


def carried_players(parent: dict, secrets: list[str]) -> dict[str, dict]:
    """The players of an earlier results file of this script, for a run that trains one arm again:
    only when it played the same held-out games."""
    if parent.get("held_out_secrets", secrets) != secrets or parent["held_out_games"] != len(secrets):
        raise SystemExit("--parent played other held-out games than this run would: nothing to compare")
    return parent["metrics"]


def lineage(
    parser: argparse.ArgumentParser, args: argparse.Namespace, parent: dict | None, games: Preset
) -> Any:
    """What a run changed: its flags, and for a run on a parent's warm-up, the whole-game preset's
    settings that differ from the parent's (the reason it was run)."""
    flags = changed_flags(
        parser, args, ignore=("--runs-dir", "--out", "--evaluate-from", "--parent", "--warm-up-from")
    )
    if parent is None:
        return flags or "none (the first whole-game measurement: both arms and the warm-up in this file)"
    return [
        f"max_game_tokens {games.max_game_tokens} (the parent's {parent['max_game_tokens']})",
        "only the whole-game arm trained again, from the parent's warm-up; the other players carried",
        *flags,
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=12.0, help="each GRPO run's wall-clock budget")
    parser.add_argument("--warm-up-minutes", type=float, default=8.0)
    parser.add_argument("--warm-up-from", help="an earlier cpu-smollm2-wordle-sft run folder to start from")
    # 50 a model is what fits a session beside the training: four models, six rounds each, a
    # round of 100 games took SmolLM2 5 minutes and more (200 games: results/cpu_learning.json).
    parser.add_argument("--games", type=int, default=50, help="held-out games a model")
    parser.add_argument("--runs-dir", default="runs")
    parser.add_argument(
        "--evaluate-from",
        help="a whole-games-<timestamp> folder this script trained: evaluate its runs again, train nothing",
    )
    parser.add_argument(
        "--parent",
        help="an earlier results file of this script: train only the whole-game arm again (give its "
        "warm-up as --warm-up-from) and compare with that file's players",
    )
    parser.add_argument("--out", default="whole_games")
    args = parser.parse_args()
    parent = json.loads(Path(args.parent).read_text(encoding="utf-8")) if args.parent else None
    if parent is not None and not args.warm_up_from:
        parser.error("--parent needs --warm-up-from: the warm-up that file's arms started from")

    started = time.monotonic()
    if args.evaluate_from:
        folder = Path(args.evaluate_from)
        warm_up, runs, arms = trained_in(folder)
        warm_up_summary = {"steps": warm_up.global_step}
    else:
        folder = new_run_dir(args.runs_dir, "whole-games")
        warm_up, warm_up_summary = train_warm_up(args, folder)
        arms, runs = {}, {}
        for label, name in (("turns", TURNS), ("games", GAMES)):
            if parent is not None and label == "turns":
                continue  # carried: the parent's single-turn arm, from the same warm-up
            preset = apply_overrides(get_preset(name), {"init_from": str(warm_up.run_dir), **OPEN_ENDED})
            began = time.monotonic()
            run = train(preset, runs_dir=folder, progress=False, time_limit=args.minutes * 60)
            runs[label] = (preset, run.run_dir)
            arms[label] = arm_summary(run.run_dir, time.monotonic() - began)
            print(f"{label}: {arms[label]}", flush=True)

    # Each model plays as it trained: the warm-up and the single-turn run a fresh prompt a turn, the
    # whole-game run one chat a game; the warm-up also as whole games, the format's own effect.
    games_preset = runs["games"][0]
    turns_preset = apply_overrides(get_preset(TURNS), {})
    models = [replace(with_adapter(load_base(games_preset), runs["games"][1]), label="sft+grpo (games)")]
    if parent is None:
        sft_turns = with_adapter(load_base(turns_preset), warm_up.run_dir)
        models[:0] = [
            replace(sft_turns, label="sft"),
            replace(sft_turns, label="sft (whole games)", whole_games=True),
            replace(with_adapter(load_base(turns_preset), runs["turns"][1]), label="sft+grpo (turns)"),
        ]
    request = EvalRequest(
        count=args.games, seed=0, max_new_tokens=turns_preset.eval_max_new_tokens, progress=True
    )
    began = time.monotonic()
    evaluation = turns_preset.task_definition.evaluate(turns_preset, models, request, folder / "eval", {})
    metrics = evaluation["metrics"]
    if parent is not None:
        carried = carried_players(parent, evaluation["secrets"])
        metrics = {**{k: v for k, v in carried.items() if k != "sft+grpo (games)"}, **metrics}
        arms = {"turns": parent["stages"]["turns"], **arms}
    IMAGES.mkdir(exist_ok=True)
    if parent is None:
        shutil.copyfile(folder / "eval" / "rates.png", IMAGES / "whole-games-rates.png")

    write(
        args.out,
        {
            "model": "SmolLM2-135M-Instruct + LoRA r16 (embedded)",
            "question": "does whole-game GRPO play better than single-turn GRPO at equal wall-clock?",
            "grpo_minutes_each": args.minutes,
            "held_out_games": args.games,
            "held_out_secrets": evaluation["secrets"],
            "presets": {"warm_up": SFT, "turns": TURNS, "games": GAMES},
            "max_game_tokens": games_preset.max_game_tokens,
            # In evaluation a whole-game player has no budget but six turns of max_new_tokens each.
            "eval_max_game_tokens": None,
            "evaluated_saved_runs": bool(args.evaluate_from),
            "carried_from_parent": None
            if parent is None
            else ["sft", "sft (whole games)", "sft+grpo (turns)"],
            "game_rewards": dict(games_preset.rewards),
            "stages": {"sft": warm_up_summary, **arms},
            "eval_seconds": round(time.monotonic() - began, 1),
            "total_seconds": round(time.monotonic() - started, 1),
            "runs": folder.name,
            "metrics": {name: {k: m[k] for k in KEPT_METRICS if k in m} for name, m in metrics.items()},
            "format_failures": {
                name: format_failures(games)
                for name, games in evaluation["games"].items()
                if name.startswith("sft")
            },
            "games_vs_turns": compare(metrics, "sft+grpo (turns)", "sft+grpo (games)"),
            "games_vs_warm_up_as_games": compare(metrics, "sft (whole games)", "sft+grpo (games)"),
            "turns_vs_warm_up": compare(metrics, "sft", "sft+grpo (turns)"),
        },
        parent=None if parent is None else Path(args.parent).name,
        changes=lineage(parser, args, parent, games_preset),
    )


if __name__ == "__main__":
    main()
