"""Where a notebook runs and what its session allows: the host (Colab, Kaggle, a local machine), a
runs folder that outlives the session (Google Drive, Kaggle's saved output), and the time left for
training before the session ends. :mod:`rft.notebook` hands these to the notebooks' cells.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from rft.training.preflight import after_training_seconds

RUNS_VARIABLE = "RFT_RUNS_DIR"
DRIVE = Path("/content/drive")
# Where runs outlive a hosted session: Google Drive on Colab, the saved output folder on Kaggle.
HOSTED_RUNS = {"colab": DRIVE / "MyDrive" / "rft-runs", "kaggle": Path("/kaggle/working/runs")}
# How long a free session lasts, in hours: Colab's free T4 ends after 3-4 (the low end is planned
# for), Kaggle's after 12. Elsewhere no limit is known.
SESSION_HOURS = {"colab": 3.0, "kaggle": 12.0}
_IMPORTED_AT = time.time()


def environment() -> str:
    """``colab``, ``kaggle`` or ``local`` (a laptop, a lab PC, a university RDP machine)."""
    if "COLAB_RELEASE_TAG" in os.environ or "COLAB_GPU" in os.environ:
        return "colab"
    if "KAGGLE_KERNEL_RUN_TYPE" in os.environ:
        return "kaggle"
    return "local"


def runs_dir(wanted: str | Path | None = None) -> Path:
    """Where runs are written: ``wanted``, else ``RFT_RUNS_DIR``, else a folder the session cannot
    take away: Google Drive on Colab (mounted here; Colab asks for permission), ``/kaggle/working``
    on Kaggle, ``runs/`` beside the notebook elsewhere. A Drive that is not mounted gets a loud
    warning: the runs would be lost with the session."""
    place = environment()
    if wanted is None and RUNS_VARIABLE not in os.environ and place in HOSTED_RUNS:
        folder = HOSTED_RUNS[place]
        if place == "colab" and not mount_drive():
            folder = Path("runs")
            print(
                "\n"
                + "!" * 78
                + "\nWARNING: Google Drive is not mounted, so runs go to this session's own disk\n"
                "and are LOST when the session ends (checkpoints included). Run this cell again\n"
                "and allow Drive, or set RUNS_DIR to a folder that outlives the session.\n" + "!" * 78
            )
    else:
        folder = reach(Path(wanted or os.environ.get(RUNS_VARIABLE, "runs")))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"Runs are written to {folder.resolve()}")
    return folder


def mount_drive() -> bool:
    """Mount Google Drive on Colab (Colab asks for permission); False when it is declined or fails."""
    if (DRIVE / "MyDrive").is_dir():
        return True
    try:
        from google.colab import drive  # type: ignore[import-not-found]

        drive.mount(str(DRIVE))
    except Exception as error:  # declined, timed out, or not on Colab at all
        print(f"Google Drive could not be mounted: {error}")
        return False
    return (DRIVE / "MyDrive").is_dir()


def reach(path: str | Path) -> Path:
    """``path``, with Google Drive mounted first when it lies there (Colab asks for permission)."""
    path = Path(path)
    if environment() == "colab" and DRIVE in path.parents:
        mount_drive()
    return path


def session_hours(setting: float | str | None = "auto") -> float | None:
    """The session's length in hours: ``"auto"`` by host (:data:`SESSION_HOURS`; None elsewhere),
    a number as given, None for no limit."""
    if setting == "auto":
        return SESSION_HOURS.get(environment())
    return None if setting is None else float(setting)


def session_started() -> float:
    """When this session began: a hosted runtime is a fresh machine, so its boot time; elsewhere
    (or without psutil) when this notebook first imported the package."""
    if environment() != "local":
        try:
            import psutil

            return psutil.boot_time()
        except ImportError:
            pass
    return _IMPORTED_AT


def training_time_limit(setting: float | str | None, runs: str | Path) -> float | None:
    """Seconds the next training cell may take: what is left of the session, less the time kept for
    what comes after training; None without a session limit. Training then stops with a
    checkpoint in time, and the next session continues it (``RESUME = "latest"``)."""
    hours = session_hours(setting)
    if hours is None:
        return None
    left = 3600 * hours - (time.time() - session_started())
    reserve, how = after_training_seconds(runs)
    budget = max(left - reserve, 60.0)  # at least a step: the run then continues next session
    print(
        f"Session: {left / 60:.0f} min left of {hours:g} h; {reserve / 60:.0f} min kept for evaluation "
        f"and export ({how}). Training may take {budget / 60:.0f} min, then stops with a checkpoint."
    )
    return budget
