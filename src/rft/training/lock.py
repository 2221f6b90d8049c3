"""One writer per run folder.

Two processes training into the same folder (a second ``--resume`` while the first still runs, or
a notebook run twice) interleave their steps in ``metrics.jsonl`` and overwrite each other's
checkpoints. The writer holds ``rft-writer.lock`` open under the operating system's exclusive lock
(``flock``; ``msvcrt.locking`` on Windows), with its process id, host and start written in it and
its time refreshed every :data:`HEARTBEAT_SECONDS`. A second writer gets a one-line error. A lock
whose writer is gone never sticks: on the same machine the OS frees it when the process dies,
whatever its id (a restarted container's trainer is pid 1 again); from another machine (a Colab
session that ended, with the run on Drive, where OS locks do not reach) a lock that was not
refreshed for :data:`STALE_AFTER_SECONDS` is taken over, with a note.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import stat
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
    """Who holds the lock at ``path`` by what it says, and until when that counts, or None when it
    is stale. Used where the operating system's lock cannot tell: a holder on another machine (a
    run on a shared Drive), or a file system without locks."""
    now = time.time() if now is None else now
    try:
        refreshed = path.stat().st_mtime
    except FileNotFoundError:
        return None
    holder = _holder(path)
    if holder is None:
        return None  # empty or garbage: nobody can be named, and the OS lock says nobody holds it
    pid, host = holder.get("pid"), holder.get("host")
    if host == socket.gethostname() and isinstance(pid, int):
        if pid != os.getpid() and _process_runs(pid):
            return f"process {pid} on this machine (since {holder.get('since', '?')})"
        return None
    if now - refreshed < STALE_AFTER_SECONDS:
        free_at = time.strftime("%H:%M:%S", time.localtime(refreshed + STALE_AFTER_SECONDS))
        return (
            f"process {pid} on {host} (since {holder.get('since', '?')}; if that machine is gone, "
            f"the lock frees itself at {free_at})"
        )
    return None


def _os_lock(descriptor: int) -> bool | None:
    """Take the operating system's exclusive lock on an open file without waiting: True when taken,
    False when another process holds it, None when the file system has no such locks (then the
    lock's content decides, as :func:`why_held` reads it). The OS frees it when its process dies,
    however it dies: no process id to trust, so a restarted container's pid 1 is no obstacle."""
    try:
        if os.name == "nt":
            import msvcrt

            msvcrt.locking(descriptor, msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError as error:
        if isinstance(error, BlockingIOError) or error.errno in (errno.EACCES, errno.EAGAIN, errno.EDEADLK):
            return False
        return None  # ENOLCK, EOPNOTSUPP, EINVAL: locks not supported here


def _same_file(descriptor: int, path: Path) -> bool:
    """The file open under ``descriptor`` is still the one at ``path`` (not one a releasing writer
    removed after this process opened it)."""
    try:
        mine, there = os.fstat(descriptor), os.stat(path)
    except OSError:
        return False
    return (mine.st_dev, mine.st_ino) == (there.st_dev, there.st_ino)


# Opened without following a symbolic link, and without waiting on a FIFO, where the OS has the flags
# (Windows has neither: there the checks before and after opening stand in).
_OPEN_FLAGS = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)


def _not_a_lock_file(path: Path, what: str) -> RunFolderLocked:
    return RunFolderLocked(f"{path} is {what}, not a lock file: remove it, then run the command again")


def _kind(mode: int) -> str | None:
    """What a file that is not a plain file is, in words; None for a plain file."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    return "a device or special file"


def _open_lock_file(path: Path) -> tuple[int, bool]:
    """The lock file opened for writing, and whether it was there before. Only a plain file is ever
    opened: a symbolic link there (to a user's notes, to the run's own config.json, to nowhere) would
    have the lock's JSON written through it, /dev/null does not lock, and a FIFO blocks forever."""
    try:
        found = _kind(os.lstat(path).st_mode)
        existed = True
    except FileNotFoundError:
        found, existed = None, False
    if found is not None:
        raise _not_a_lock_file(path, found)
    try:
        descriptor = os.open(path, _OPEN_FLAGS, 0o644)
    except OSError as error:
        if error.errno == errno.ELOOP:  # a link made between the check and the open
            raise _not_a_lock_file(path, "a symbolic link") from None
        raise RunFolderLocked(f"{path} cannot be opened as a lock file ({error.strerror or error})") from None
    opened = _kind(os.fstat(descriptor).st_mode)
    if opened is not None:  # swapped in between the check and the open (or no O_NOFOLLOW here)
        os.close(descriptor)
        raise _not_a_lock_file(path, opened)
    if getattr(os, "O_NONBLOCK", 0):  # a plain file: back to ordinary writes (Windows never set it)
        os.set_blocking(descriptor, True)
    return descriptor, existed


def _acquire(run_dir: Path, path: Path, mine: dict[str, Any]) -> int:
    """The open, locked lock file, with ``mine`` written into it; :class:`RunFolderLocked` if another
    process holds it."""
    for _ in range(5):
        descriptor, existed = _open_lock_file(path)
        locked = _os_lock(descriptor)
        if locked and not _same_file(descriptor, path):
            os.close(descriptor)  # a writer released and removed it meanwhile: open the new one
            continue
        if locked is False:  # the OS says a live process holds it: never taken over
            held = why_held(path) or "another process on this machine"
        elif locked is None or _on_another_machine(path):  # only the content can tell
            held = why_held(path)
        else:  # the OS lock is ours: whoever the file names is gone
            held = None
        if held is not None:
            os.close(descriptor)
            raise RunFolderLocked(
                f"{run_dir} is being written by {held}: wait for it to finish, or stop it first"
            )
        before = _holder(path)
        if existed:
            who = (
                f"process {before.get('pid', '?')} on {before.get('host', '?')}"
                if before
                else "a writer that left it empty or unreadable"
            )
            print(f"note: {run_dir} was locked by {who}, which no longer holds it; taking the run over")
        os.ftruncate(descriptor, 0)
        os.lseek(descriptor, 0, os.SEEK_SET)
        os.write(descriptor, json.dumps(mine).encode("utf-8"))
        os.fsync(descriptor)
        return descriptor
    raise RunFolderLocked(f"{run_dir}: another process keeps taking its lock ({path})")


def _on_another_machine(path: Path) -> bool:
    holder = _holder(path)
    return holder is not None and holder.get("host") != socket.gethostname()


@contextmanager
def writer_lock(run_dir: str | Path) -> Iterator[Path]:
    """Hold ``run_dir`` for this process while the block runs; :class:`RunFolderLocked` (one line)
    if another process holds it. On one machine the operating system's file lock decides, so two
    writers arriving together never both win, and a dead writer's lock is free at once whatever its
    process id; a writer on another machine is known by the heartbeat in the file."""
    path = Path(run_dir) / LOCK_FILE
    mine = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    descriptor = _acquire(Path(run_dir), path, mine)
    stop = threading.Event()

    def heartbeat() -> None:
        while not stop.wait(HEARTBEAT_SECONDS):
            try:  # the open file itself where the OS allows: never whatever now sits at its name
                os.utime(descriptor if os.utime in os.supports_fd else path)
            except OSError:
                return

    beat = threading.Thread(target=heartbeat, name="rft-writer-lock", daemon=True)
    beat.start()
    try:
        yield path
    finally:
        stop.set()
        beat.join()
        try:
            if _same_file(descriptor, path) and _holder(path) == mine:
                path.unlink()  # removed while still locked: a newcomer opens a new file
        except OSError:
            pass  # Windows keeps a file others hold open: the next writer takes it over
        os.close(descriptor)  # frees the OS lock
