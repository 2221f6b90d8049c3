"""The learning benchmarks' protocol, shared by cpu_learning.py (SmolLM2-135M) and qwen_learning.py
(Qwen2.5-Coder-0.5B): a fixed time budget split between the SFT warm-up and GRPO, then held-out
games for the base model, the warm-up and the final adapter, with every bookkeeping rule of the
results files. A helper module, not a benchmark: cpu_learning.py's docstring says how to run it."""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

from _results import RESULTS, changed_flags, write

from rft.recipe import RecipeResult, evaluate_stages
from rft.training.config import Preset, apply_overrides
from rft.training.presets import get_preset
from rft.training.run import RunResult, new_run_dir, read_metrics, read_run_config, read_run_result, train
from rft.wordle.held_out_games import plot_rates, versus_base
from rft.wordle.play import GameRecord, game_metrics
from rft.wordle.rewards import parse_completion
from rft.wordle.words import is_allowed

OPEN_ENDED = {"max_steps": "100000", "save_steps": "100000"}
GRPO_PRESET = "cpu-smollm2-wordle-own-games"  # the best GRPO measured after the warm-up
# The warm-up's two rounds: the first round's share of its time, and the usual trace rows the
# second (on the states of the first's own games) trains on beside them.
FIRST_SHARE, LATER_ROWS = 0.55, 100


@dataclass(frozen=True)
class Protocol:
    """One model's learning benchmark: its results files' stem, its presets and default budget.
    benchmarks/qwen_learning.py runs the same protocol on the Qwen 0.5B."""

    name: str
    sft_preset: str
    grpo_preset: str
    model: str  # how the results file names the model
    minutes: float = 60.0
    games: int = 200
    own_games: int = 24
    sft_share: float = 0.5
    # Held-out boards each stage answers (rft.wordle.held_out_states), each stage paired with the
    # one it started from (McNemar's exact test); 0: games only, as the older results files have.
    states: int = 0
    samples: int = 8  # answers a board at temperature 1, for pass@k (0: greedy alone)
    # GRPO settings over the preset's, before --grpo-set's: what the protocol's runs all use.
    grpo_set: tuple[str, ...] = ()


SMOLLM2 = Protocol(
    "cpu_learning", "cpu-smollm2-wordle-sft", GRPO_PRESET, "SmolLM2-135M-Instruct + LoRA r16 (embedded)"
)
# The held-out games' seed. GRPO's own seed moves past the warm-up's rounds when it plays games of
# its own (other answers than theirs); the held-out secrets must not move with it, or a variant's
# final adapter plays other games than the base model and warm-up it carries.
HELD_OUT_SEED = 0


def stage_summary(result, seconds: float) -> dict:
    rows = read_metrics(result.metrics_path)
    summary = {"steps": result.global_step, "wall_seconds": round(seconds, 1)}
    if rows and "reward" in rows[0]:
        summary["reward_first_last"] = [rows[0]["reward"], rows[-1]["reward"]]
        summary["steps_with_updates"] = sum(1 for row in rows if row.get("grad_norm", 0) > 0)
        # With a KL term every step has a gradient; only a group whose rewards differ teaches anything.
        summary["steps_with_reward_spread"] = sum(1 for row in rows if row.get("frac_reward_zero_std", 1) < 1)
    elif rows:
        summary["loss_first_last"] = [rows[0]["loss"], rows[-1]["loss"]]
    return summary


MODEL_STAGES = ("base", "sft", "sft+grpo")
# Every rate with an interval, and which way is better. A replayed word is always allowed, so a
# policy can trade play for format-valid answers; the replay rate is what shows that trade.
HIGHER_IS_BETTER = {
    "win_rate": True,
    "format_valid_rate": True,
    "consistency_rate": True,
    "replayed_guess_rate": False,
    "rejected_repeated_rate": False,
    "recovered_after_lost_rate": True,
}


def states_figures(evaluation: dict) -> dict:
    """The held-out boards' figures for the results file: each stage's rates and pass@k, and each
    stage paired with the one before it; every answer stays in the run's eval/eval.json."""
    if "states" not in evaluation:
        return {}
    section = evaluation["states"]
    keep = ("count", "seed", "fingerprint", "composition", "metrics", "paired")
    return {"held_out_states": {key: section[key] for key in keep}}


def worse_beyond_interval(sft: dict, grpo: dict) -> list[str]:
    """The metrics whose 95% interval after GRPO lies wholly on the worse side of the warm-up's."""
    for stage, metrics in (("sft", sft), ("sft+grpo", grpo)):
        missing = [m for m in HIGHER_IS_BETTER if f"{m}_ci95" not in metrics]
        if missing:
            raise ValueError(f"{stage}: no interval for {', '.join(missing)} (metrics from older code?)")
    worse = []
    for metric, higher_is_better in HIGHER_IS_BETTER.items():
        (sft_low, sft_high), (grpo_low, grpo_high) = sft[f"{metric}_ci95"], grpo[f"{metric}_ci95"]
        if (grpo_high < sft_low) if higher_is_better else (grpo_low > sft_high):
            worse.append(metric)
    return worse


def format_failures(games: list[dict]) -> dict[str, int]:
    """Why turns missed the format, most basic reason first: where to look when the rate is low."""
    reasons = {"no_guess_block": 0, "not_five_letters": 0, "not_a_word": 0, "shape_only": 0}
    for turn in (turn for game in games for turn in game["turns"] if not turn["exact_format"]):
        parsed = parse_completion(turn["text"])
        if parsed.guess_block is None:
            reasons["no_guess_block"] += 1
        elif parsed.word is None:
            reasons["not_five_letters"] += 1
        elif not is_allowed(parsed.word):
            reasons["not_a_word"] += 1
        else:
            reasons["shape_only"] += 1
    return reasons


def recomputed(evaluation: dict) -> dict:
    """The saved games' metrics as this code computes them (older eval.json files lack intervals)."""
    metrics = {
        name: game_metrics([GameRecord.from_dict(game) for game in games])
        for name, games in evaluation["games"].items()
    }
    return {**evaluation, "metrics": metrics, "vs_base": versus_base(metrics)}


def with_carried(
    evaluation: dict, results: Path, runs_dir: Path, stages: tuple[str, ...]
) -> tuple[dict, dict]:
    """The evaluation with some model stages' metrics from an earlier results file, which must have
    played the same held-out secrets: its own record of them, or its run's eval.json under
    ``runs_dir`` for files older than that record. Where that eval.json is at hand, the metrics
    are computed again from its games, so figures newer than the file are there too."""
    earlier = json.loads(results.read_text(encoding="utf-8"))
    saved = runs_dir / str(earlier.get("runs")) / "eval" / "eval.json"
    played = json.loads(saved.read_text(encoding="utf-8")) if saved.is_file() else None
    secrets = earlier.get("held_out_secrets")
    if secrets is None:
        if played is None:
            raise FileNotFoundError(f"{results}: its games are not at {saved} to check their secrets")
        secrets = played["secrets"]
    if secrets != evaluation["secrets"]:
        raise ValueError(
            f"{results}: its held-out games had other secrets than this run's ({len(secrets)} from "
            f"{secrets[0]!r}, this run {len(evaluation['secrets'])} from {evaluation['secrets'][0]!r})"
        )
    carried = {
        n: {**earlier["metrics"][n], "guess_distribution": earlier["guess_distribution"][n]} for n in stages
    }
    if played is not None:
        again = recomputed(played)["metrics"]
        carried |= {n: again[n] for n in stages if n in again}
    order = [n for n in evaluation["metrics"] if n not in MODEL_STAGES] + list(MODEL_STAGES)
    metrics = {n: carried[n] if n in carried else evaluation["metrics"][n] for n in order}
    return {**evaluation, "metrics": metrics, "vs_base": versus_base(metrics)}, {
        "measured_at": earlier["measured_at"],
        "format_failures": {n: earlier["format_failures"][n] for n in stages},
    }


OWN_GAME_FIGURES = ("format_valid_rate", "consistency_rate", "wins")


def warm_up(
    preset: Preset, folder: Path, seconds: float, own_games: int = 0
) -> tuple[RunResult, dict[str, dict]]:
    """The SFT warm-up, stopped when ``seconds`` are spent (``train``'s time limit): one round on
    the usual traces (``FIRST_SHARE`` of the time), then, when ``own_games`` is set, a second that
    continues it on the states it reached in ``own_games`` games of its own (each answered by the
    trace player) plus ``LATER_ROWS`` usual rows; its games count against its time. Returns the last
    round's run and a summary of each round."""
    started = time.monotonic()
    first_seconds = seconds * (FIRST_SHARE if own_games else 1.0)
    run = train(preset, runs_dir=folder, progress=False, time_limit=first_seconds)
    rounds = {"round1": stage_summary(run, time.monotonic() - started)}
    if own_games:
        settings = {"init_from": str(run.run_dir), "own_games": own_games, "num_rows": LATER_ROWS}
        round_started = time.monotonic()
        left = started + seconds - round_started
        run = train(apply_overrides(preset, settings), runs_dir=folder, progress=False, time_limit=left)
        rounds["round2"] = {**stage_summary(run, time.monotonic() - round_started), **own_games_summary(run)}
    return run, rounds


def own_games_summary(run: RunResult) -> dict:
    """How the model a run continued played its own games: the states they gave the run, and how
    long they took of its time (runs older than that record leave the time out)."""
    own = json.loads((run.run_dir / "own_games.json").read_text(encoding="utf-8"))
    summary = {"own_game_states": own["states"]}
    if "seconds" in own:
        summary["own_game_seconds"] = own["seconds"]
    return summary | {"own_games_before": {k: own["metrics"][k] for k in OWN_GAME_FIGURES}}


def grpo_summary(run: RunResult, preset: Preset, seconds: float) -> dict:
    """The GRPO stage's summary, with the games it played first when it sampled its own states."""
    summary = stage_summary(run, seconds)
    return summary | own_games_summary(run) if preset.own_games else summary


def warm_up_summary(run: RunResult, seconds: float, rounds: dict[str, dict] | None) -> dict:
    """The warm-up stage as one summary; one in rounds adds up their steps and shows each round."""
    summary = stage_summary(run, seconds)
    if rounds and len(rounds) > 1:
        summary["steps"] = sum(r["steps"] for r in rounds.values())
        summary["loss_first_last"] = [rounds["round1"]["loss_first_last"][0], summary["loss_first_last"][1]]
        summary["rounds"] = rounds
    return summary


@dataclass
class Trained:
    folder: Path
    sft: RunResult
    grpo: RunResult
    grpo_preset: Preset
    stages: dict[str, dict]  # each stage's summary
    own_games: int  # the warm-up's
    own_rounds: int
    sft_share: float | None  # the warm-up's share of the budget; None where the saved runs don't say


def train_both(args: argparse.Namespace, protocol: Protocol = SMOLLM2) -> Trained:
    """The warm-up (or the one an earlier run left, --warm-up-from), then GRPO from it, each stopped
    when its share of the budget is spent. The runs are kept under --runs-dir: their adapters are
    the result."""
    grpo_preset = get_preset(args.grpo_preset)
    # A wrong --grpo-set fails now, not after the warm-up has spent its half of the budget.
    ahead = grpo_settings(args, grpo_preset, "the warm-up", 1 if args.own_games else 0)
    apply_overrides(grpo_preset, ahead, init_from_trained=False)
    if getattr(args, "warm_up_run", None):
        check_warm_up_run(args.warm_up_run, grpo_preset)
    folder = new_run_dir(args.runs_dir, protocol.name.replace("_", "-"))
    if getattr(args, "warm_up_run", None):
        sft = read_run_result(args.warm_up_run)
        # Its steps' own time (trained before: not in this budget); GRPO gets what its share says.
        sft_summary = stage_summary(sft, step_seconds(sft))
        sft_summary |= {
            "trained_before": args.warm_up_run.name,
            "budget_seconds": args.minutes * 60 * args.sft_share,
        }
        own_games, own_rounds, sft_share = 0, 0, args.sft_share
    elif args.warm_up_from:
        earlier = json.loads(args.warm_up_from.read_text(encoding="utf-8"))
        sft = saved_run(args.runs_dir / earlier["runs"], "sft")
        sft_summary, own_games = earlier["stages"]["sft"], earlier["own_games"]
        own_rounds = earlier.get("own_rounds", 1 if own_games else 0)
        sft_share = earlier.get("sft_share")  # the warm-up's, not this call's flag
    else:
        started = time.monotonic()
        sft_preset = apply_overrides(get_preset(args.sft_preset), OPEN_ENDED)
        sft, rounds = warm_up(sft_preset, folder, args.minutes * 60 * args.sft_share, args.own_games)
        sft_summary = warm_up_summary(sft, time.monotonic() - started, rounds)
        own_games, own_rounds, sft_share = args.own_games, len(rounds) - 1, args.sft_share
    grpo_preset = apply_overrides(grpo_preset, grpo_settings(args, grpo_preset, str(sft.run_dir), own_rounds))
    started = time.monotonic()  # its own games count against its time, as the warm-up's do
    left = args.minutes * 60 - sft_summary.get("budget_seconds", sft_summary["wall_seconds"])
    grpo = train(grpo_preset, runs_dir=folder, progress=False, time_limit=left)
    stages = {"sft": sft_summary, "grpo": grpo_summary(grpo, grpo_preset, time.monotonic() - started)}
    return Trained(folder, sft, grpo, grpo_preset, stages, own_games, own_rounds, sft_share)


def check_warm_up_run(run_dir: Path, grpo: Preset, flag: str = "--warm-up-run") -> None:
    """``flag``'s run: a finished warm-up of the GRPO preset's model, in its prompt style."""
    warm = read_run_config(run_dir)
    if warm.trainer != "sft" or warm.model != grpo.model or warm.prompt_style != grpo.prompt_style:
        raise ValueError(
            f"{flag}: {run_dir} is a {warm.trainer} run of {warm.model} ({warm.prompt_style} style), "
            f"not a warm-up of {grpo.model} in {grpo.name}'s {grpo.prompt_style} style"
        )


def grpo_settings(args: argparse.Namespace, preset: Preset, init_from: str, own_rounds: int) -> dict:
    """GRPO's settings over ``preset``: open-ended, continuing ``init_from``, then --grpo-set's."""
    settings: dict = {**OPEN_ENDED, "init_from": init_from}
    if str(grpo_set(args).get("own_games", preset.own_games)).strip() != "0":  # a bad one: validation's
        settings["seed"] = preset.seed + own_rounds  # answers no warm-up round played: one more round
    settings |= grpo_set(args)
    check_schedule(preset, settings)
    return settings


def grpo_set(args: argparse.Namespace) -> dict[str, str]:
    """The command line's --grpo-set settings, over the GRPO preset's own."""
    return dict(setting.partition("=")[::2] for setting in args.grpo_set)


# Schedules that change the learning rate along max_steps: an open-ended run (max_steps 100000,
# stopped by time) would spend its whole budget in the first thousandth of the warm-up.
STEP_BOUND_SCHEDULES = ("linear", "cosine", "cosine_with_restarts", "polynomial", "cosine_with_min_lr")


def check_schedule(preset: Preset, settings: dict) -> None:
    """A GRPO preset whose learning rate follows max_steps needs max_steps set (--grpo-set or the
    protocol's): the stage still stops when its time is spent, but its schedule is a real one."""
    schedule = str(settings.get("lr_scheduler_type", preset.trainer_args.get("lr_scheduler_type", "linear")))
    warmup = float(settings.get("warmup_steps", preset.trainer_args.get("warmup_steps", 0)) or 0)
    if settings.get("max_steps") == OPEN_ENDED["max_steps"] and (schedule in STEP_BOUND_SCHEDULES or warmup):
        raise ValueError(
            f"{preset.name}: lr_scheduler_type {schedule} (warmup_steps {warmup:g}) follows max_steps; give "
            "--grpo-set max_steps=N (the steps its time share fits), or the schedule runs over 100000 steps"
        )


def saved_runs(folder: Path) -> Trained:
    """What an earlier training call left in ``folder``; the warm-up is the run its GRPO run
    continues, which may lie in another folder (--warm-up-from). Stage times are the runs' own step
    timings (model loading and own games not included)."""
    grpo = saved_run(folder, "grpo")
    grpo_preset = read_run_config(grpo.run_dir)
    sft = read_run_result(Path(grpo_preset.init_from))
    own_rounds = len(stage_runs(sft.run_dir.parent, "sft")) - 1
    stages = {
        "sft": stage_summary(sft, step_seconds(sft)),
        "grpo": grpo_summary(grpo, grpo_preset, step_seconds(grpo)),
    }
    own_games = read_run_config(sft.run_dir).own_games  # what the saved runs did, not the flags
    return Trained(folder, sft, grpo, grpo_preset, stages, own_games, own_rounds, sft_share=None)


def stage_runs(folder: Path, trainer: str) -> dict[Path, Preset]:
    """The runs of one stage ("sft" or "grpo") in a benchmark folder, with their configs."""
    configs = {c.parent: read_run_config(c.parent) for c in folder.glob("*/config.json")}
    return {d: c for d, c in configs.items() if c.trainer == trainer}


def saved_run(folder: Path, trainer: str) -> RunResult:
    """The finished run of one stage in a benchmark folder: of a warm-up in rounds, the last (the
    one no run of the same stage continues)."""
    stage = stage_runs(folder, trainer)
    continued = {Path(c.init_from) for c in stage.values() if c.init_from}
    (run_dir,) = [d for d in stage if d.resolve() not in continued]
    return read_run_result(run_dir)


def step_seconds(result: RunResult) -> float:
    """Training time from the run's own step timings (model loading not included)."""
    return sum(row.get("wall_seconds", 0.0) for row in read_metrics(result.metrics_path))


def kept_times(results: Path, runs: str) -> dict | None:
    """The stage and evaluation times an earlier file measured for the same runs, when the games
    are only scored again (newer metrics from the same saved games): step timings would replace
    the wall times that count against the budget."""
    if not results.is_file():
        return None
    earlier = json.loads(results.read_text(encoding="utf-8"))
    if earlier.get("runs") != runs:
        return None
    fields = ("stages", "sft_share", "evaluated_saved_runs", "eval_seconds", "grpo_set", "parent", "changes")
    kept = {field: earlier.get(field) for field in fields}
    kept["games_measured_at"] = earlier.get("games_measured_at", earlier["measured_at"])
    if "base_carried_from" in earlier:  # where older files said the base's games came from
        kept["base_carried_from"] = earlier["base_carried_from"]
    return kept


# Flags that say where the inputs come from or where the output goes, not what was varied.
BOOKKEEPING = ("--tag", "--runs-dir", "--base-from", "--warm-up-from", "--evaluate-only", "--warm-up-run")


def lineage(
    parser: argparse.ArgumentParser, args: argparse.Namespace, protocol: Protocol = SMOLLM2
) -> tuple[str | None, list[str] | str]:
    """The results file's ``parent`` (the file whose warm-up or base games it carries, or the
    reference run when it only changes flags) and ``changes`` (the flags that differ from the
    defaults)."""
    flags = changed_flags(parser, args, ignore=BOOKKEEPING)
    if args.warm_up_from:
        parent: str | None = f"{args.warm_up_from.name} (its warm-up carried)"
    elif args.base_from:
        parent = f"{args.base_from.name} (its base games carried)"
    else:
        parent = f"{protocol.name}.json" if flags else None
    return parent, flags or "none (the reference run: the script's defaults)"


def build_parser(protocol: Protocol = SMOLLM2) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=protocol.minutes)
    parser.add_argument("--games", type=int, default=protocol.games)
    parser.add_argument(
        "--sft-share", type=float, default=protocol.sft_share, help="share of the budget for the warm-up"
    )
    parser.add_argument("--max-new-tokens", type=int, default=160)
    parser.add_argument(
        "--own-games",
        type=int,
        default=protocol.own_games,
        help="after the first round, warm up on the states the round before reaches in N games of its own "
        "(0: one round)",
    )
    parser.add_argument(
        "--sft-preset",
        default=protocol.sft_preset,
        metavar="NAME",
        help=f"the warm-up's preset (default {protocol.sft_preset})",
    )
    parser.add_argument(
        "--grpo-preset",
        default=protocol.grpo_preset,
        metavar="NAME",
        help=f"the GRPO preset that continues the warm-up (rft presets lists them; default "
        f"{protocol.grpo_preset})",
    )
    parser.add_argument(
        "--grpo-set",
        action="append",
        default=list(protocol.grpo_set),
        metavar="FIELD=VALUE",
        help="a GRPO preset field or GRPOConfig setting, as rft train takes it, over the preset's: "
        f"num_rows=256, own_games=0 (repeatable; after the protocol's own: {list(protocol.grpo_set)})",
    )
    parser.add_argument(
        "--states",
        type=int,
        default=protocol.states,
        help="held-out boards every stage answers (greedy, and 8 samples for pass@k), each stage paired "
        "with the one it started from (McNemar's exact test); 0: games only",
    )
    parser.add_argument(
        "--warm-up-from",
        type=Path,
        metavar="RESULTS",
        help="skip the warm-up: GRPO continues the one an earlier results file measured (its runs under "
        "--runs-dir), with what that warm-up left of the budget; its games and the base model's are carried",
    )
    parser.add_argument(
        "--samples",
        type=int,
        default=protocol.samples,
        help="with --states: answers a board at temperature 1, for pass@k (0: greedy alone)",
    )
    parser.add_argument(
        "--warm-up-run",
        type=Path,
        metavar="RUN",
        help="skip the warm-up: GRPO continues this finished warm-up run (benchmarks/spread_before_grpo.py "
        "--runs-dir keeps them) and gets its share of the budget; the warm-up is evaluated with the others",
    )
    parser.add_argument("--tag", help=f"names a variant's results file: results/{protocol.name}-TAG.json")
    parser.add_argument("--runs-dir", type=Path, default=Path("runs"), help="where the runs are kept")
    parser.add_argument(
        "--base-from",
        type=Path,
        metavar="RESULTS",
        help="take the base model's games from an earlier results file instead of replaying them: greedy "
        "decoding makes them the same, and they are the slowest part of the evaluation",
    )
    parser.add_argument(
        "--evaluate-only",
        type=Path,
        metavar="FOLDER",
        help="skip training: evaluate the runs an earlier call left in FOLDER (runs/cpu-learning-*), "
        "or, where FOLDER/eval/eval.json holds their games, score those again with this code's metrics",
    )
    return parser


def run(parser: argparse.ArgumentParser, args: argparse.Namespace, protocol: Protocol = SMOLLM2) -> None:
    if args.warm_up_run and (args.warm_up_from or args.evaluate_only):
        parser.error("--warm-up-run: GRPO continues it; not with --warm-up-from or --evaluate-only")
    if args.states and (args.warm_up_from or args.base_from):
        parser.error(
            "--states pairs every stage on the same boards: not with stages carried from a results file"
        )
    trained = saved_runs(args.evaluate_only) if args.evaluate_only else train_both(args, protocol)
    folder, grpo_preset = trained.folder, trained.grpo_preset
    carried_from = args.warm_up_from or args.base_from
    if args.warm_up_from:
        carried_stages: tuple[str, ...] = ("base", "sft")
    else:
        carried_stages = ("base",) if args.base_from else ()

    eval_started = time.monotonic()
    saved = folder / "eval" / "eval.json"
    if args.evaluate_only and saved.is_file():  # the games were played; only the summary is missing
        evaluation = recomputed(json.loads(saved.read_text(encoding="utf-8")))
        plot_rates(evaluation["metrics"], saved.parent / "rates.png")
        eval_seconds = None
    else:
        evaluation = evaluate_stages(
            RecipeResult(folder, trained.sft, trained.grpo),
            grpo_preset,
            args.games,
            args.max_new_tokens,
            skip=carried_stages,
            seed=HELD_OUT_SEED,
            states=args.states,
            samples=args.samples,
        )
        eval_seconds = round(time.monotonic() - eval_started, 1)

    carried = None
    if carried_from:
        evaluation, carried = with_carried(evaluation, carried_from, args.runs_dir, carried_stages)
        plot_rates(evaluation["metrics"], folder / "eval" / "rates.png")
    metrics = evaluation["metrics"]
    base, warm, final = metrics["base"], metrics["sft"], metrics["sft+grpo"]
    worse = worse_beyond_interval(warm, final)
    name = protocol.name
    if args.minutes != protocol.minutes:
        name += f"-{args.minutes:g}min"
    if args.games != protocol.games:
        name += f"-{args.games}games"
    if args.tag:
        name += f"-{args.tag}"
    timed = {
        "stages": trained.stages,
        "sft_share": trained.sft_share,
        # With --evaluate-only the stage times are the runs' own step timings (no model loading).
        "evaluated_saved_runs": bool(args.evaluate_only),
        "eval_seconds": eval_seconds,
        # The saved runs' own settings are in the grpo_* fields; the flags may not be theirs.
        "grpo_set": None if args.evaluate_only else [f"{k}={v}" for k, v in grpo_set(args).items()],
    }
    parent, changes = lineage(parser, args, protocol)
    if eval_seconds is None:  # games scored again: the times and lineage this run's file has still hold
        kept = kept_times(RESULTS / f"{name}.json", folder.name)
        if kept:
            lineage_kept = kept.pop("parent"), kept.pop("changes")
            timed = kept
            if lineage_kept[0] is not None:
                parent, changes = lineage_kept
    write(
        name,
        parent=parent,
        changes=changes,
        figures={
            "model": protocol.model,
            "budget_minutes": args.minutes,
            "grpo_rewards": dict(grpo_preset.rewards),
            "grpo_preset": grpo_preset.name,
            "history_players": dict(grpo_preset.dataset.history_players),
            "rejected_share": grpo_preset.dataset.rejected_share,
            "games": args.games,
            "held_out_secrets": evaluation["secrets"],
            "own_games": trained.own_games,
            "own_rounds": trained.own_rounds,
            "grpo_own_games": grpo_preset.own_games,
            "grpo_rows": grpo_preset.dataset.num_rows,
            "grpo_beta": grpo_preset.trainer_args.get("beta", 0.0),  # the KL term, held to the warm-up
            **timed,
            "runs": folder.name,  # the folder's name only: where it lies is the machine's business
            "scored_from_saved_games": eval_seconds is None,
            "metrics": {
                k: {m: v for m, v in row.items() if m != "guess_distribution"} for k, row in metrics.items()
            },
            "guess_distribution": {k: row["guess_distribution"] for k, row in metrics.items()},
            "format_failures": {
                k: format_failures(evaluation["games"][k])
                if k in evaluation["games"]
                else carried["format_failures"][k]
                for k in MODEL_STAGES
            },
            # Stages whose games were not replayed, and the results file they come from.
            "carried_stages": list(carried_stages),
            "carried_from": None if carried is None else carried["measured_at"],
            "vs_base": evaluation["vs_base"],
            **states_figures(evaluation),
            "targets": {
                "format_valid_rate>=0.95": (final["format_valid_rate"] or 0) >= 0.95,
                "consistency_above_base": (final["consistency_rate"] or 0) > (base["consistency_rate"] or 0),
                "win_rate_above_zero": final["wins"] > 0,
                "grpo_not_worse_than_sft_beyond_interval": not worse,
            },
            "grpo_worse_than_sft_beyond_interval": worse,
        },
    )
