"""The checks every setting shares (a preset's, a dataset config's, an evaluation's), so that a bad
value reads the same wherever it is given: one line naming it, before any work starts."""

from __future__ import annotations

import math
from typing import Any


def check_integer(name: str, value: Any, minimum: int) -> None:
    """A whole number (not a bool) of at least ``minimum``, or a ``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        kind = "a positive integer" if minimum == 1 else f"a whole number >= {minimum}"
        raise ValueError(f"{name} must be {kind}, got {value!r}")


def check_number(name: str, value: Any, allow_zero: bool = False) -> None:
    """A finite number above zero (or zero, when ``allow_zero``), or a ``ValueError`` naming it."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 0
        or (value == 0 and not allow_zero)
    ):
        kind = "a number >= 0" if allow_zero else "a positive number"
        raise ValueError(f"{name} must be {kind}, got {value!r}")


def check_output(folder: Any, name: str = "--out") -> None:
    """``folder`` can be written to, or made where it does not exist yet, without making it: the
    check comes before the work, so a finished evaluation or export is never lost to a bad path.
    None (a fresh folder will be chosen) passes."""
    import os
    from pathlib import Path

    if folder is None:
        return
    path = Path(folder)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{name} {path} is a file, not a folder")
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(f"{name} {path}: {existing} is a file, so the folder cannot be made")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"{name} {path}: {existing} cannot be written")


def check_single_process(environ: Any = None) -> None:
    """Training runs in one process: under ``torchrun`` or ``accelerate launch`` (``WORLD_SIZE`` > 1)
    each process would make a run folder of its own and train its own copy, and TRL may spread one
    group over processes. Not supported, so refused in one line before anything loads."""
    import os

    environ = os.environ if environ is None else environ
    given = str(environ.get("WORLD_SIZE", "1")).strip() or "1"
    try:
        processes = int(given)
    except ValueError:
        raise ValueError(
            f"WORLD_SIZE={given!r} is not a whole number; unset it to train in one process"
        ) from None
    if processes > 1:
        raise ValueError(
            f"WORLD_SIZE={processes}: training in several processes (torchrun, accelerate launch) is not "
            "supported; run the command on its own, in one process"
        )
