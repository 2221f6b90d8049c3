"""The ``rft`` command: ``rft presets``, ``rft train``.

Every setting of a preset, and every GRPOConfig field, can be given after the preset:
``rft train --preset cpu-smollm2-wordle --max_steps 10 --learning_rate 1e-4 --rewards format=1,feedback=2``.
"""

from __future__ import annotations

import argparse
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
    from rft.training.models import check_device
    from rft.training.presets import apply_overrides, get_preset
    from rft.training.run import check_trl_for_device, read_run_config, train

    # Everything that can be wrong with the request is found here, before any model loads;
    # errors from training itself keep their traceback.
    try:
        if args.resume:
            if args.preset or extra:
                raise ValueError(
                    "--resume continues a run with its saved settings; give no --preset or overrides"
                )
            preset = read_run_config(args.resume)
        elif not args.preset:
            raise ValueError("give --preset NAME (see `rft presets`) or --resume RUN_DIR")
        else:
            preset = apply_overrides(get_preset(args.preset), parse_overrides(extra))
        check_device(preset)
        check_trl_for_device(preset)
    except (ValueError, FileNotFoundError, RuntimeError, ImportError) as error:
        print(f"rft train: error: {error}", file=sys.stderr)
        return 2

    result = train(
        None if args.resume else preset,
        runs_dir=args.runs_dir,
        resume_dir=args.resume,
        progress=not args.no_progress,
    )
    print(f"\nrun folder:   {result.run_dir}")
    print(f"metrics:      {result.metrics_path}")
    print(f"reward curve: {result.plot_path or '(nothing logged)'}")
    print(f"adapter:      {result.adapter_dir}")
    print(f"steps:        {result.global_step}")
    return 0


def _presets(args: argparse.Namespace, extra: Sequence[str]) -> int:
    from rft.training.presets import PRESETS

    width = max(len(name) for name in PRESETS)
    for name, preset in PRESETS.items():
        print(f"{name:<{width}}  [{preset.device}] {preset.description}")
    return 0


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
    train.add_argument("--resume", type=Path, help="a run folder to continue from its last checkpoint")
    train.add_argument("--runs-dir", type=Path, default=Path("runs"), help="where new run folders go")
    train.add_argument("--no-progress", action="store_true", help="no progress bars")
    train.set_defaults(handler=_train)

    presets = commands.add_parser("presets", help="list the presets")
    presets.set_defaults(handler=_presets)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "train":
        parser.error(f"unrecognised arguments: {' '.join(extra)}")
    return args.handler(args, extra)


if __name__ == "__main__":
    sys.exit(main())
