"""Where benchmark figures go: one JSON file per benchmark, with the machine they were measured on."""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Collection
from pathlib import Path
from typing import Any

from rft.files import write_json

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    import numpy

    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
    }


def changed_flags(
    parser: argparse.ArgumentParser, args: argparse.Namespace, ignore: Collection[str] = ()
) -> list[str]:
    """The command-line flags of a run that differ from the script's defaults, as typed: what a
    variant changed, for its results file's ``changes``. ``ignore``: flags that change no figure
    (where inputs come from, where the output goes)."""
    flags = []
    for action in parser._actions:
        if not action.option_strings or action.dest == "help" or action.option_strings[0] in ignore:
            continue
        value = getattr(args, action.dest, action.default)
        if value == action.default:
            continue
        if (
            isinstance(value, list)
            and isinstance(action.default, list)
            and value[: len(action.default)] == action.default
        ):
            value = value[len(action.default) :]  # a repeatable flag: what was added to its defaults
        for one in value if isinstance(value, list) else [value]:
            flags.append(action.option_strings[0] if one is True else f"{action.option_strings[0]} {one}")
    return flags


def stamped(name: str, figures: dict[str, Any], *, parent: str | None, changes: str | list[str]) -> dict:
    """A results file's content: when and where it was measured, the run it varies (``parent``, None
    for a baseline) and what it changed, then the figures. Every results file has these keys, so the
    index in benchmarks/README.md can be read off the files."""
    return {
        "benchmark": name,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine(),
        "parent": parent,
        "changes": changes,
        **figures,
    }


def write(name: str, figures: dict[str, Any], *, parent: str | None, changes: str | list[str]) -> Path:
    """``results/NAME.json``, as :func:`stamped` makes it."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = stamped(name, figures, parent=parent, changes=changes)
    write_json(path, payload)  # replaced whole: a benchmark killed while writing keeps the old file
    print(json.dumps(figures, indent=2))
    print(f"written to {path}")
    return path
