"""The ``rft`` command: ``rft presets``, ``train``, ``demo``, ``eval``, ``play``, ``export``.

Every setting of a preset, and every GRPOConfig field, can be given after the preset:
``rft train --preset cpu-smollm2-wordle --max_steps 10 --learning_rate 1e-4 --rewards format=1,feedback=2``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path


def parse_overrides(tokens: Sequence[str]) -> dict[str, str]:
    """``--name value`` and ``--name=value`` pairs, in order; anything else is an error naming it."""
    overrides: dict[str, str] = {}
    tokens = list(tokens)
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if not token.startswith("--") or token == "--":
            raise ValueError(f"expected a setting like --learning_rate 1e-5, got {token!r}")
        name, sep, value = token[2:].partition("=")
        if not sep:
            if i + 1 >= len(tokens) or tokens[i + 1].startswith("--"):
                raise ValueError(f"setting --{name} needs a value")
            value = tokens[i + 1]
            i += 1
        overrides[name] = value
        i += 1
    return overrides


def _train(args: argparse.Namespace, extra: Sequence[str]) -> int:
    from rft.training.config import apply_overrides
    from rft.training.policy import check_device
    from rft.training.presets import get_preset
    from rft.training.run import (
        check_before_loading,
        describe_run,
        parse_duration,
        read_run_config,
        resumable_checkpoint,
        run_to_continue,
        train,
    )

    # Everything that can be wrong with the request is found here, before any model loads;
    # errors from training itself keep their traceback.
    try:
        if args.resume is not None and str(args.resume) == "latest":
            if not args.preset or extra:
                raise ValueError(
                    "--resume latest continues the newest unfinished run of --preset NAME under "
                    "--runs-dir, with its saved settings: give --preset and no overrides"
                )
            found = run_to_continue("latest", args.runs_dir, get_preset(args.preset))
            if found is None:
                raise FileNotFoundError(
                    f"no unfinished run of {args.preset} with a complete checkpoint under {args.runs_dir}"
                )
            args.resume, args.preset = found, None
        if args.resume:
            if args.preset or extra:
                raise ValueError(
                    "--resume continues a run with its saved settings; give no --preset or overrides"
                )
            preset = read_run_config(args.resume)
            resumable_checkpoint(args.resume)
        elif not args.preset:
            raise ValueError("give --preset NAME (see `rft presets`) or --resume RUN_DIR")
        else:
            preset = apply_overrides(get_preset(args.preset), parse_overrides(extra))
        time_limit = None if args.time_limit is None else parse_duration(args.time_limit)
        if args.dry_run:
            print(json.dumps(describe_run(preset, args.runs_dir), indent=2, default=str))
            return 0
        check_device(preset)
        check_before_loading(preset, args.resume or args.runs_dir)
    except (ValueError, FileNotFoundError, RuntimeError, ImportError) as error:
        print(f"rft train: error: {error}", file=sys.stderr)
        return 2

    from rft.training.lock import RunFolderLocked

    try:
        result = train(
            None if args.resume else preset,
            runs_dir=args.runs_dir,
            resume_dir=args.resume,
            progress=not args.no_progress,
            time_limit=time_limit,
        )
    except RunFolderLocked as error:  # found before the model loads: another process trains this run
        print(f"rft train: error: {error}", file=sys.stderr)
        return 2
    print(f"\nrun folder:   {result.run_dir}")
    print(f"metrics:      {result.metrics_path}")
    print(f"reward curve: {result.plot_path or '(nothing logged)'}")
    print(f"adapter:      {result.adapter_dir}")
    print(f"steps:        {result.global_step}")
    if result.status and result.status["state"] == "stopped":
        status = result.status
        print(f"stopped:      {status['reason']}, at step {status['step']} of {status['max_steps']}")
        print(f"continue:     {status['resume']}")
    return 0


def _preflight(args: argparse.Namespace, extra: Sequence[str]) -> int:
    from rft.checks import check_number
    from rft.training.config import apply_overrides
    from rft.training.policy import check_device, model_path
    from rft.training.preflight import check_memory_cap, preflight, print_report
    from rft.training.presets import get_preset
    from rft.training.random_model import architecture_of
    from rft.training.run import check_before_loading

    try:
        preset = apply_overrides(get_preset(args.preset), parse_overrides(extra))
        warm_up = None if args.warm_up is None else get_preset(args.warm_up)
        if args.session_hours is not None:
            check_number("--session-hours", args.session_hours)
        if args.memory_cap is not None:
            check_memory_cap(args.memory_cap)
        if args.spread:
            from rft.training.spread import check_spread_request

            check_spread_request(preset, args.random_weights)
        for stage in (preset, warm_up):
            if stage is not None:
                check_device(stage)
                if args.random_weights:
                    architecture_of(stage)  # a shape known here, or an error naming the known ones
                check_before_loading(stage, args.runs_dir)  # trainer settings, runs folder, packages
                if not args.random_weights:
                    model_path(stage.model)  # a shipped model: fetched and checked before measuring
    except (ValueError, RuntimeError, ImportError) as error:
        print(f"rft preflight: error: {error}", file=sys.stderr)
        return 2
    report = preflight(
        preset,
        args.runs_dir,
        warm_up,
        args.session_hours,
        progress=not args.no_progress,
        random_weights=args.random_weights,
        memory_cap_gib=args.memory_cap,
        spread=args.spread,
    )
    print_report(report)
    no_spread = "spread" in report and report["spread"]["groups_with_spread"] == 0
    return 0 if report["fits_memory"] and not no_spread else 1


def _demo(args: argparse.Namespace, extra: Sequence[str]) -> int:
    from rft.recipe import run_recipe, summary
    from rft.training.run import parse_duration
    from rft.training.run_folder import check_run_folder

    grpo_preset = args.preset or args.grpo_preset
    sft_preset = None if args.no_warm_up else (f"{args.preset}-sft" if args.preset else args.sft_preset)
    try:
        time_limit = None if args.time_limit is None else parse_duration(args.time_limit)
        if args.resume is not None and args.resume != "latest":
            check_run_folder(args.resume, "--resume")
        result = run_recipe(
            sft_preset,
            grpo_preset,
            args.sft_steps,
            args.grpo_steps,
            args.runs_dir,
            not args.no_progress,
            eval_games=args.eval_games,
            resume=args.resume,
            time_limit=time_limit,
        )
    except (ValueError, RuntimeError, ImportError) as error:  # raised before training starts
        print(f"rft {args.command}: error: {error}", file=sys.stderr)
        return 2
    print("\n" + summary(result))
    return 0


def _eval(args: argparse.Namespace, extra: Sequence[str]) -> int:
    from rft.evaluation import check_request, evaluate_model, markdown_table

    try:
        check_request(
            args.model,
            args.adapter,
            args.games,
            args.max_new_tokens,
            args.temperature,
            args.batch_size,
            args.seed,
            args.out,
            args.constrain_guesses,
            args.states,
            args.samples,
            args.pass_at,
        )
    except (ValueError, FileNotFoundError, RuntimeError) as error:
        print(f"rft eval: error: {error}", file=sys.stderr)
        return 2
    result = evaluate_model(
        args.model,
        adapter=args.adapter,
        games=args.games,
        seed=args.seed,
        out_dir=args.out,
        baselines=not args.no_baselines,
        max_new_tokens=args.max_new_tokens,
        temperature=args.temperature,
        batch_size=args.batch_size,
        progress=not args.no_progress,
        constrain_guesses=args.constrain_guesses,
        states=args.states,
        samples=args.samples,
        pass_at=args.pass_at,
    )
    print(markdown_table(result))
    files = sorted(path.name for path in Path(result["out_dir"]).iterdir() if path.is_file())
    print(f"in {result['out_dir']}: {', '.join(files)}")
    return 0


def _play(args: argparse.Namespace, extra: Sequence[str]) -> int:
    from rft.terminal import play_human, watch_model

    if args.human:
        try:
            return play_human(secret=args.secret, seed=args.seed)
        except ValueError as error:  # a --secret that is not an allowed word
            print(f"rft play: error: --secret: {error}", file=sys.stderr)
            return 2
    if not args.model:
        raise SystemExit("rft play: give --model PRESET_OR_RUN to watch a model, or --human to play yourself")
    from rft.models import check_adapter, check_adapter_fits, check_hub_model, check_model, preset_of
    from rft.training.policy import model_path
    from rft.wordle.words import validate_word

    try:  # everything a game needs is checked before the model loads
        check_model(args.model)
        if args.adapter is not None:
            check_adapter(args.adapter)
        if args.secret is not None:
            validate_word(args.secret, must_be_allowed=True)
        preset = preset_of(args.model)
        check_hub_model(model_path(args.model if preset is None else preset.model))  # fetched, or reachable
        if args.adapter is not None:
            check_adapter_fits(args.model, args.adapter)
    except (ValueError, FileNotFoundError, RuntimeError) as error:
        print(f"rft play: error: {error}", file=sys.stderr)
        return 2
    return watch_model(
        args.model,
        adapter=args.adapter,
        secret=args.secret,
        seed=args.seed,
        constrain_guesses=args.constrain_guesses,
    )


def _export(args: argparse.Namespace, extra: Sequence[str]) -> int:
    from rft.export import PushFailed, export_run

    try:
        written = export_run(
            args.run,
            args.out,
            merged=not args.no_merged,
            gguf_quantization=args.gguf,
            push_to=args.push_to,
            private=not args.public,
        )
    except PushFailed as failed:
        for key, value in failed.written.items():
            print(f"{key + ':':<8} {value}")
        print(f"rft export: error: {failed}", file=sys.stderr)
        return 1
    except (ValueError, FileNotFoundError, RuntimeError, ImportError) as error:
        print(f"rft export: error: {error}", file=sys.stderr)
        return 2
    for key, value in written.items():
        print(f"{key + ':':<8} {value}")
    return 0


def _presets(args: argparse.Namespace, extra: Sequence[str]) -> int:
    from rft.training.presets import PRESETS, get_preset

    if args.markdown:
        from rft.tables import metrics_table, settings_table

        print(settings_table() + "\n" + metrics_table(), end="")
        return 0
    if args.show:
        try:
            preset = get_preset(args.show)
        except ValueError as error:
            print(f"rft presets: error: {error}", file=sys.stderr)
            return 2
        print(json.dumps(preset.to_dict(), indent=2))
        return 0
    width = max(len(name) for name in PRESETS)
    for name, preset in PRESETS.items():
        print(f"{name:<{width}}  [{preset.device}] {preset.description}")
    return 0


# The commands that load a model: on a GPU, Unsloth is imported before anything imports TRL.
MODEL_COMMANDS = ("train", "preflight", "demo", "recipe", "eval", "play", "export")
# The commands that take preset and trainer settings after their own arguments.
OVERRIDE_COMMANDS = ("train", "preflight")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rft", description="GRPO fine-tuning recipes for Wordle.")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser(
        "train",
        help="train a preset with GRPO",
        description="Train with TRL's GRPOTrainer. Settings after the preset override it: "
        "--max_steps 10, --learning_rate 1e-5, --rewards format=1,guess_value=2, any GRPOConfig field.",
    )
    train.add_argument("--preset", help="a name from `rft presets`")
    train.add_argument(
        "--resume",
        type=Path,
        help='a run folder to continue from its last checkpoint; "latest" with --preset: the newest '
        "unfinished run of that preset",
    )
    train.add_argument("--runs-dir", type=Path, default=Path("runs"), help="where new run folders go")
    train.add_argument(
        "--time-limit",
        metavar="DURATION",
        help="stop cleanly with a checkpoint before this much time has passed: 3h10m, 45m, 900s",
    )
    train.add_argument("--no-progress", action="store_true", help="no progress bars")
    train.add_argument(
        "--dry-run",
        action="store_true",
        help="print the resolved preset and the settings TRL will read (secrets redacted); load nothing",
    )
    train.set_defaults(handler=_train)

    check = commands.add_parser(
        "preflight",
        help="two full-length training steps: peak memory, s/step, whether the run fits a session",
        description="Trains two steps of the preset as `rft train` would, every completion at full "
        "length (the worst case), and projects the run: peak memory against the device's, seconds "
        "per step, the time of the preset's steps and its warm-up's, and with --session-hours "
        "whether it fits and how many steps would. Settings after the preset override it, as for "
        "`rft train`. Writes preflight.json.",
    )
    check.add_argument("--preset", required=True, help="a name from `rft presets`")
    check.add_argument("--warm-up", help="its SFT warm-up preset, measured too (e.g. NAME-sft)")
    check.add_argument("--session-hours", type=float, help="the session's length: a free Colab T4 has 3-4")
    check.add_argument("--runs-dir", type=Path, default=Path("runs"), help="where preflight-* goes")
    check.add_argument(
        "--random-weights",
        action="store_true",
        help="random weights in the preset model's shape: measure without downloading the model",
    )
    check.add_argument(
        "--memory-cap",
        type=float,
        metavar="GIB",
        help="hold PyTorch to this much GPU memory: 15 measures a T4 on a bigger GPU",
    )
    check.add_argument(
        "--spread",
        action="store_true",
        help="Wordle GRPO: also sample 8 answers at temperature 1 on 50 held-out boards and report the "
        "share of groups whose rewards differ (none: GRPO cannot learn; exit status 1) and pass@8 "
        "against greedy for a guess that fits every clue",
    )
    check.add_argument("--no-progress", action="store_true")
    check.set_defaults(handler=_preflight)

    # One recipe, two doors: `rft demo` (the CPU demo's presets, 16 games) and `rft recipe` (any
    # preset, 100 games), which does on a command line what notebook 01's Run all does.
    for name, games, what in (
        ("demo", 16, "the whole recipe on the demo's CPU presets"),
        ("recipe", 100, "the whole recipe on any preset, as notebook 01 runs it"),
    ):
        recipe = commands.add_parser(
            name,
            help=f"{what}: SFT warm-up on solver traces, GRPO, evaluation",
            description="Supervised warm-up on solver traces, GRPO continuing the same adapter, then "
            "held-out games for the base model, the warm-up and the result beside the baselines.",
        )
        recipe.add_argument("--preset", help="a GRPO preset; its warm-up is PRESET-sft")
        recipe.add_argument("--sft-preset", default="cpu-smollm2-wordle-sft", help=argparse.SUPPRESS)
        recipe.add_argument("--grpo-preset", default="cpu-smollm2-wordle", help=argparse.SUPPRESS)
        recipe.add_argument("--no-warm-up", action="store_true", help="GRPO from the base model")
        recipe.add_argument("--sft-steps", type=int, help="override the SFT preset's max_steps")
        recipe.add_argument("--grpo-steps", type=int, help="override the GRPO preset's max_steps")
        recipe.add_argument(
            "--eval-games", type=int, default=games, help="held-out games per player (0: skip)"
        )
        recipe.add_argument(
            "--resume",
            help='"latest": carry on with the newest unfinished run of these presets; or a run folder',
        )
        recipe.add_argument(
            "--time-limit", help="both training stages together, e.g. 3h10m; each stops with a checkpoint"
        )
        recipe.add_argument("--runs-dir", type=Path, default=Path("runs"))
        recipe.add_argument("--no-progress", action="store_true")
        recipe.set_defaults(handler=_demo)

    evaluation = commands.add_parser(
        "eval",
        help="evaluate on held-out items: Wordle games beside the baselines, or GSM8K problems",
        description="A model, or a run's base model and trained adapter, on the same held-out items: "
        "the task of the run or preset (a plain model plays Wordle). Wordle: win rate with a 95% "
        "Wilson interval, guesses, format and consistency rates, beside the solver and random players. "
        "GSM8K: accuracy with its interval on test problems. eval.json and eval.md in --out.",
    )
    evaluation.add_argument(
        "--model", required=True, help="a preset, a run folder, or a model folder / hub id"
    )
    evaluation.add_argument("--adapter", type=Path, help="a run folder: also play the model with its adapter")
    evaluation.add_argument(
        "--games", type=int, default=100, help="Wordle games, or GSM8K problems (0 with --states: none)"
    )
    evaluation.add_argument(
        "--states",
        type=int,
        default=0,
        metavar="N",
        help="Wordle: also N held-out boards (300 is the set), one move each: the greedy guess fits "
        "every clue or not, pass@k, and each model paired with the one it started from (McNemar)",
    )
    evaluation.add_argument(
        "--samples", type=int, default=8, help="with --states: answers a board at temperature 1"
    )
    evaluation.add_argument(
        "--pass-at",
        type=int,
        nargs="+",
        metavar="K",
        help="with --states: pass@K for each K (default: 1 and --samples)",
    )
    evaluation.add_argument("--seed", type=int, default=0)
    evaluation.add_argument("--out", type=Path, help="default: a new runs/eval-<timestamp>/")
    evaluation.add_argument("--no-baselines", action="store_true", help="Wordle: no scripted players")
    evaluation.add_argument(
        "--max-new-tokens", type=int, help="new tokens a turn (default: what the preset trained with, or 160)"
    )
    evaluation.add_argument("--temperature", type=float, default=0.0, help="0 = greedy")
    evaluation.add_argument("--batch-size", type=int, default=32)
    evaluation.add_argument("--no-progress", action="store_true", help="no progress bars")
    evaluation.add_argument(
        "--constrain-guesses",
        action="store_true",
        help="hold guesses to allowed words (a run trained with constrain_guesses is held anyway)",
    )
    evaluation.set_defaults(handler=_eval)

    play = commands.add_parser("play", help="watch a model play one game, or play yourself (--human)")
    play.add_argument("--model", help="a preset, a run folder, or a model folder / hub id")
    play.add_argument("--adapter", type=Path)
    play.add_argument("--human", action="store_true", help="you guess; the terminal gives the feedback")
    play.add_argument("--secret", help="the answer (default: a random held-out answer)")
    play.add_argument("--seed", type=int, default=0)
    play.add_argument(
        "--constrain-guesses",
        action="store_true",
        help="hold guesses to allowed words (a run trained with constrain_guesses is held anyway)",
    )
    play.set_defaults(handler=_play)

    export = commands.add_parser(
        "export",
        help="save a run's LoRA, a merged 16-bit model, GGUF; push to the Hub",
        description="Writes RUN/export/ (lora/, merged-16bit/, model_gguf/) with a model card; --push-to "
        "uploads with the token in HF_TOKEN (or Colab's secrets).",
    )
    export.add_argument("run", type=Path, help="a finished run folder")
    export.add_argument("--out", type=Path, help="default: RUN/export")
    export.add_argument("--no-merged", action="store_true", help="only the adapter")
    export.add_argument("--gguf", metavar="QUANT", help="also GGUF via Unsloth, e.g. q4_k_m")
    export.add_argument("--push-to", metavar="USER/REPO", help="upload the adapter (and merged model)")
    export.add_argument("--public", action="store_true", help="create public Hub repos (default private)")
    export.set_defaults(handler=_export)

    presets = commands.add_parser("presets", help="list the presets")
    presets.add_argument("--show", metavar="NAME", help="every setting of one preset, resolved")
    presets.add_argument(
        "--markdown", action="store_true", help="the README's tables: main settings, evaluation rates"
    )
    presets.set_defaults(handler=_presets)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command not in OVERRIDE_COMMANDS:
        parser.error(f"unrecognised arguments: {' '.join(extra)}")
    if args.command in MODEL_COMMANDS:
        from rft.runtime import default_cache_dir, import_unsloth_first

        try:
            default_cache_dir()  # RFT_CACHE_DIR naming a file: one line, before anything starts
        except ValueError as error:
            print(f"rft {args.command}: error: {error}", file=sys.stderr)
            return 2
        import_unsloth_first()
    return args.handler(args, extra)


if __name__ == "__main__":
    sys.exit(main())
