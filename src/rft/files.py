"""Every file the project writes or rewrites is replaced whole, never edited in place.

A run can be killed at any moment (a Colab session ends, a kernel restarts, a disk fills). A file
written in place can then be left empty or cut in the middle, and the next session cannot read it:
a 60,000-line ``samples.jsonl`` emptied by a kill during a rewrite, a torn ``status.json`` that
stops ``--resume``. So each file is written to a temporary name in the same folder, flushed to
disk, and renamed over the old one: a reader sees the old file or the new one, nothing between.
(Appending one line to a ``.jsonl`` file is the one exception: a torn last line is dropped on
reading, :func:`rft.training.run_folder.read_metrics`.) This module imports nothing of ours.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def replacing(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` (same suffix, so writers that go by it still do) to write
    the new content to; when the block ends without an error it is flushed to disk and renamed
    over ``path``, and on an error it is removed, leaving ``path`` as it was."""
    path = Path(path)
    temporary = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        # Whatever sits at the temporary name (a killed writer's leftover, a symbolic link) goes
        # first, so that the content is written into a new file, never through a link; the rename
        # then replaces a link at ``path`` itself rather than writing to what it points to.
        temporary.unlink(missing_ok=True)
        yield temporary
        with temporary.open("rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


@contextmanager
def appending(path: str | Path) -> Iterator[Any]:
    """``path`` open to append text lines (UTF-8), created when missing. A symbolic link at ``path``
    is replaced by a new file, as a rename would replace it, never appended through: a log line of a
    run never lands in whatever file a link names."""
    path = Path(path)
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    if path.is_symlink():  # Windows has no O_NOFOLLOW: the check stands in for it
        path.unlink()
    try:
        descriptor = os.open(path, flags, 0o644)
    except OSError:
        if not path.is_symlink():
            raise
        path.unlink()  # a link made since the check
        descriptor = os.open(path, flags, 0o644)
    with open(descriptor, "a", encoding="utf-8") as handle:
        yield handle


def replace_text(path: str | Path, text: str) -> Path:
    """``path`` replaced whole by ``text`` (UTF-8)."""
    with replacing(path) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path: str | Path, data: Any, indent: int | None = 2) -> Path:
    """``path`` replaced whole by ``data`` as JSON, with a trailing newline."""
    return replace_text(path, json.dumps(data, indent=indent) + "\n")


def write_jsonl(path: str | Path, rows: list[dict[str, Any]]) -> Path:
    """``path`` replaced whole by one JSON object a line."""
    return replace_text(path, "".join(json.dumps(row) + "\n" for row in rows))


def read_json(path: str | Path, what_to_do: str) -> Any:
    """``path``'s JSON; a file that does not read is a ``ValueError`` naming it and ``what_to_do``."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is damaged ({error}); {what_to_do}") from None


def keep_results(out_dir: str | Path, write: Callable[[Path], None]) -> Path:
    """``write(folder)`` into ``out_dir``; where that fails after the work is done (a full disk, a
    Drive that went away), into a new temporary folder instead, saying where: minutes of finished
    evaluation are never thrown away for want of a place to put them. Returns the folder used."""
    out_dir = Path(out_dir)
    try:
        write(out_dir)
        return out_dir
    except OSError as error:
        fallback = Path(tempfile.mkdtemp(prefix="rft-results-"))
        write(fallback)
        print(
            f"warning: could not write the results to {out_dir} ({error.strerror or error}); "
            f"they are in {fallback}",
            file=sys.stderr,
        )
        return fallback
