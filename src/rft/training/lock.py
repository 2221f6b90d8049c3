"""One writer per run folder.

Two processes training into the same folder (a second ``--resume`` while the first still runs, or
a notebook run twice) interleave their steps in ``metrics.jsonl`` and overwrite each other's
checkpoints. The writer holds ``rft-writer.lock``: its process id, host and start, refreshed every
:data:`HEARTBEAT_SECONDS` while it holds the folder. A second writer gets a clear error. A lock
whose writer is gone never sticks: on the same host a process id that no longer runs frees it at
once; from another host (a Colab session that ended, with the run on Drive) a lock that was not
refreshed for :data:`STALE_AFTER_SECONDS` is taken over, with a note.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

LOCK_FILE = "rft-writer.lock"
HEARTBEAT_SECONDS = 30.0
STALE_AFTER_SECONDS = 300.0


class RunFolderLocked(RuntimeError):
    """Another process is writing the run folder."""


def _holder(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else None
    except (OSError, ValueError):
        return None


def _process_runs(pid: int) -> bool:
    import psutil

    try:
        return psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def why_held(path: Path, now: float | None = None) -> str | None:
    """Who holds the lock at ``path`` and until when it counts as held, or None when it is stale."""
    now = time.time() if now is None else now
    try:
        refreshed = path.stat().st_mtime
    except FileNotFoundError:
        return None
    holder = _holder(path)
    if holder is None:
        # Being written this very moment, or left half-written by a crash long ago.
        return "a lock being written" if now - refreshed < 10 else None
    pid, host = holder.get("pid"), holder.get("host")
    if host == socket.gethostname() and isinstance(pid, int):
        if pid == os.getpid() or _process_runs(pid):
            return f"process {pid} on this machine (since {holder.get('since', '?')})"
        return None
    if now - refreshed < STALE_AFTER_SECONDS:
        free_at = time.strftime("%H:%M:%S", time.localtime(refreshed + STALE_AFTER_SECONDS))
        return (
            f"process {pid} on {host} (since {holder.get('since', '?')}; if that machine is gone, "
            f"the lock frees itself at {free_at})"
        )
    return None


@contextmanager
def writer_lock(run_dir: str | Path) -> Iterator[Path]:
    """Hold ``run_dir`` for this process while the block runs; :class:`RunFolderLocked` if another
    process holds it. Uses only exclusive file creation, so it works on Windows and on Drive."""
    path = Path(run_dir) / LOCK_FILE
    mine = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    for _ in range(3):
        try:
            descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            held = why_held(path)
            if held is not None:
                raise RunFolderLocked(
                    f"{run_dir} is being written by {held}: wait for it to finish, or stop it first"
                ) from None
            holder = _holder(path) or {}
            print(
                f"note: {run_dir} was locked by process {holder.get('pid', '?')} on "
                f"{holder.get('host', '?')}, which no longer runs; taking the run over"
            )
            path.unlink(missing_ok=True)
            continue
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(mine, handle)
        break
    else:
        raise RunFolderLocked(f"{run_dir}: another process keeps taking its lock ({path})")

    stop = threading.Event()

    def heartbeat() -> None:
        while not stop.wait(HEARTBEAT_SECONDS):
            try:
                os.utime(path)
            except OSError:
                return

    beat = threading.Thread(target=heartbeat, name="rft-writer-lock", daemon=True)
    beat.start()
    try:
        yield path
    finally:
        stop.set()
        beat.join()
        if _holder(path) == mine:
            path.unlink(missing_ok=True)
