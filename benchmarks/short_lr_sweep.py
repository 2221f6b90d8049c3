"""Which learning rate should GRPO continue a short-answer warm-up with? A short sweep.

    python benchmarks/short_lr_sweep.py --warm-up RUN                     # SmolLM2: 1e-5, 5e-5, 2e-4
    python benchmarks/short_lr_sweep.py --preset cpu-qwen2.5-coder-0.5b-wordle-short --warm-up RUN \\
        --lr 1e-5 --lr 1e-4 --steps 8

GRPO's learning rate after the warm-up is set here, not inherited from the warm-up's or from runs
of another design. Each arm continues the same warm-up (RUN: a finished PRESET-sft run, e.g. one
benchmarks/spread_before_grpo.py --runs-dir kept) for ``--steps`` steps of the short preset (its
cosine schedule over those steps, its KL term), then answers the first ``--states`` held-out boards
greedily, paired with the warm-up on the same boards (McNemar's exact test), with ``--samples``
answers a board at temperature 1 for pass@k. With ``--games N`` the warm-up and every arm also
play the same N held-out games (greedy), whose rates carry intervals over games, not turns.
``--arm-run RUN`` takes an arm trained before (a run of the preset continuing the same warm-up)
instead of training it again, e.g. to add games to a sweep. Several arms are compared with one
warm-up, so a single p-value below 0.05 among them is weaker evidence than it reads. Writes
results/short_lr_sweep-<model>.json.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from _learning import HELD_OUT_SEED, check_warm_up_run, stage_summary, step_seconds
from _results import changed_flags, write

from rft.models import load_base, with_adapter
from rft.runtime import release_memory
from rft.training.config import apply_overrides
from rft.training.presets import Preset, get_preset
from rft.training.run import read_run_config, read_run_result, train
from rft.wordle.held_out_games import held_out_secrets, model_player, played_with_progress
from rft.wordle.held_out_states import answer_states, fingerprint, held_out_states, paired, state_metrics
from rft.wordle.play import game_metrics

LEARNING_RATES = ("1e-5", "5e-5", "2e-4")
STEPS = 10
STATES = 300
SAMPLES = 0  # greedy alone: the paired test reads only the greedy answer
# What a model's games keep in the results file (every turn stays out: the figures, not the play).
GAME_FIGURES = (
    "games",
    "wins",
    "win_rate",
    "win_rate_ci95",
    "mean_guesses_when_won",
    "turns",
    "format_valid_rate",
    "valid_guess_rate",
    "consistency_turns",
    "consistency_rate",
    "consistency_rate_ci95",
    "replayed_guess_rate",
)


def judged(
    preset: Preset, run_dir: Path, states, samples: int, secrets: list[str], merge: bool = False
) -> tuple[list[dict], dict | None]:
    """The adapter of ``run_dir`` on ``preset``'s base, held and prompted as the preset trains: its
    answers on ``states``, and the figures of its games on ``secrets`` (None without games).
    ``merge``: the adapter is added into the base weights first (PEFT's merge_and_unload), which
    answers about 1.5 times as fast on a CPU as the adapter beside bf16 weights; in bf16 the sum
    is rounded, so a greedy answer may differ where two tokens nearly tie (none of 32 did)."""
    loaded = with_adapter(load_base(preset), run_dir)
    model = loaded.model.merge_and_unload() if merge else loaded.model
    try:
        answers = answer_states(
            model, loaded.tokenizer, loaded.prompt_style, states, samples, preset.eval_max_new_tokens
        )
        if not secrets:
            return answers, None
        player = model_player(replace(loaded, model=model), preset.eval_max_new_tokens)
        metrics = game_metrics(played_with_progress(run_dir.name, player, secrets, progress=False))
        return answers, {key: metrics[key] for key in GAME_FIGURES}
    finally:
        del loaded, model
        release_memory()


def trained_arm(grpo: Preset, warm_up: Path, run_dir: Path) -> tuple[str, Path]:
    """An arm trained before (--arm-run): its learning rate, once it is checked to be a finished
    run of ``grpo`` that continued ``warm_up``."""
    run = read_run_config(run_dir)
    continued = Path(run.init_from).resolve() if run.init_from else None
    if run.name != grpo.name or continued != warm_up.resolve():
        raise ValueError(
            f"--arm-run: {run_dir} is a run of {run.name} from {run.init_from}, not of {grpo.name} "
            f"continuing {warm_up}"
        )
    read_run_result(run_dir)  # a finished run, with its adapter
    return f"{float(run.trainer_args['learning_rate']):g}".replace("e-0", "e-"), run_dir


def plan(grpo: Preset, warm_up: Path, rates: list[str], steps: int) -> dict[str, Preset]:
    """Each arm's preset: ``grpo`` continuing ``warm_up`` at one rate for ``steps`` steps. All are
    checked here, so a wrong rate or warm-up fails in seconds, not after the warm-up's boards."""
    check_warm_up_run(warm_up, grpo, "--warm-up")
    return {
        rate: apply_overrides(
            grpo, {"init_from": str(warm_up), "learning_rate": rate, "max_steps": str(steps)}
        )
        for rate in rates
    }


def sweep(
    grpo: Preset,
    warm_up: Path,
    arms: dict[str, Preset | Path],
    states_count: int,
    samples: int,
    merge: bool,
    runs_dir: Path | None,
    games: int = 0,
) -> dict:
    """The warm-up's answers on the held-out boards (and its games), then each arm's after its
    training (or the run given for it), paired with the warm-up's on the same boards."""
    states = held_out_states(states_count)
    secrets = held_out_secrets(games, HELD_OUT_SEED) if games else []
    started = time.monotonic()
    warm_answers, warm_games = judged(grpo, warm_up, states, samples, secrets, merge)
    figures: dict = {
        "preset": grpo.name,
        "warm_up": {
            "run": warm_up.name,
            "steps": read_run_result(warm_up).global_step,
            **state_metrics(warm_answers),
            **({"games": warm_games} if warm_games else {}),
            "eval_seconds": round(time.monotonic() - started, 1),
        },
        "states_fingerprint": fingerprint(states),
        "adapters_merged": merge,
        "arms": {},
    }
    with tempfile.TemporaryDirectory() as scratch:
        runs = runs_dir or Path(scratch)
        for rate, arm in arms.items():
            print(f"learning_rate {rate} ...", flush=True)
            started = time.monotonic()
            if isinstance(arm, Path):
                run = read_run_result(arm)
                training = stage_summary(run, step_seconds(run)) | {"trained_before": arm.name}
            else:
                run = train(replace(arm), runs_dir=runs, progress=False)
                training = stage_summary(run, time.monotonic() - started)
            started = time.monotonic()
            arm_answers, arm_games = judged(grpo, run.run_dir, states, samples, secrets, merge)
            figures["arms"][rate] = {
                "training": training,
                **state_metrics(arm_answers),
                "vs_warm_up": paired(warm_answers, arm_answers),
                **({"games": arm_games} if arm_games else {}),
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
    parser.add_argument("--games", type=int, default=0, help="held-out games each model also plays (greedy)")
    parser.add_argument(
        "--arm-run",
        type=Path,
        action="append",
        default=[],
        metavar="RUN",
        help="an arm trained before (a run of --preset continuing --warm-up): answered, not trained again",
    )
    args = parser.parse_args()
    grpo = get_preset(args.preset)
    try:
        given = dict(trained_arm(grpo, args.warm_up, run) for run in args.arm_run)
        rates = args.lr or ([] if given else list(LEARNING_RATES))
        arms: dict[str, Preset | Path] = {**plan(grpo, args.warm_up, rates, args.steps), **given}
    except (ValueError, FileNotFoundError) as error:
        parser.error(str(error))
    figures = sweep(
        grpo, args.warm_up, arms, args.states, args.samples, args.merge, args.runs_dir, args.games
    )
    model = "qwen" if "qwen" in grpo.name else "smollm2" if "smollm2" in grpo.name else grpo.name
    changes = (
        changed_flags(parser, args, ignore=("--warm-up", "--runs-dir", "--arm-run"))
        or "baseline: the default arms"
    )
    write(f"short_lr_sweep-{model}", figures, parent="spread_before_grpo.json (its warm-up)", changes=changes)


if __name__ == "__main__":
    main()
