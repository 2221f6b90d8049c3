"""The run folder: what a training run writes, and reading it back.

``runs/<preset>-<timestamp>/`` holds ``config.json`` (the resolved preset, credentials redacted,
and library versions), ``metrics.jsonl`` (one line per logged step), ``samples.jsonl`` (GRPO
completions with their rewards every few steps), ``curves.png``, ``status.json`` (finished, or
stopped and how to continue), TRL's ``checkpoint-N`` folders (each marked complete when written)
and the final LoRA adapter in ``adapter/``. A new run never writes into an old one. Nothing here
loads a model or imports the trainer, so evaluation and export read runs without importing
training.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from rft.files import read_json, write_json, write_jsonl
from rft.training.config import Preset
from rft.weights import safetensors_complete

CONFIG_FILE, METRICS_FILE, SAMPLES_FILE, PLOT_FILE, STATUS_FILE = (
    "config.json",
    "metrics.jsonl",
    "samples.jsonl",
    "curves.png",
    "status.json",
)


# Written into a checkpoint folder after everything else: the checkpoint is complete.
CHECKPOINT_MARKER = "rft-complete.json"


def new_run_dir(runs_dir: str | Path, preset_name: str) -> Path:
    """A folder no earlier run has used: ``<preset>-<YYYYmmdd-HHMMSS>`` (+ ``-2``, ``-3`` … if taken)."""
    runs_dir = Path(runs_dir)
    runs_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{preset_name}-{time.strftime('%Y%m%d-%H%M%S')}"
    for attempt in range(1, 1000):
        candidate = runs_dir / (stem if attempt == 1 else f"{stem}-{attempt}")
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            continue
    raise RuntimeError(f"could not find a free run folder under {runs_dir}")


def resumable_checkpoint(run_dir: Path) -> Path:
    """The checkpoint ``--resume`` continues from: the newest complete one (an incomplete one, left
    by a crash while it was written, is named and skipped, never deleted); a clear error for a run
    with none, or a finished one (resuming it would train past its last step and overwrite its
    adapter)."""
    checkpoint = None
    for candidate in checkpoints_newest_first(run_dir):
        problem = checkpoint_problem(candidate)
        if problem is None:
            checkpoint = candidate
            break
        print(f"note: skipping {candidate.name}: {problem}; resuming from an earlier one (kept as it is)")
    if checkpoint is None:
        raise FileNotFoundError(
            f"{run_dir} has no complete checkpoint-N folder to resume from: it stopped before its first "
            "checkpoint (every save_steps steps); start it again with rft train --preset NAME"
        )
    status = read_status(run_dir)
    if status is not None and status.get("state") == "finished":
        raise ValueError(
            f"{run_dir} is finished ({status['step']} of {status['max_steps']} steps); to train further, "
            f'start a new run from it: rft train --preset NAME --init-from "{run_dir}"'
        )
    return checkpoint


def checkpoints_newest_first(run_dir: Path) -> list[Path]:
    checkpoints = [p for p in run_dir.glob("checkpoint-*") if p.is_dir() and p.name.split("-")[-1].isdigit()]
    return sorted(checkpoints, key=lambda p: int(p.name.split("-")[-1]), reverse=True)


def last_checkpoint(run_dir: Path) -> Path | None:
    return next(iter(checkpoints_newest_first(run_dir)), None)


def last_complete_checkpoint(run_dir: Path) -> Path | None:
    """The newest checkpoint a run can resume from (:func:`checkpoint_problem` finds none), or None."""
    return next((c for c in checkpoints_newest_first(run_dir) if checkpoint_problem(c) is None), None)


def checkpoint_problem(checkpoint: Path) -> str | None:
    """Why ``checkpoint`` cannot be resumed from, or None. The trainer writes the weights, the
    optimizer and ``trainer_state.json``, then this project writes :data:`CHECKPOINT_MARKER`: a
    checkpoint without it, in a run that writes markers, was cut short; and every file must read."""
    import zipfile

    state = checkpoint / "trainer_state.json"
    try:
        json.loads(state.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "its trainer_state.json is missing or cut short"
    weights = [checkpoint / name for name in ("adapter_model.safetensors", "model.safetensors")]
    weights = [path for path in weights if path.is_file()]
    if not weights or not safetensors_complete(weights[0]):
        return "its weights (adapter_model.safetensors) are missing or cut short"
    optimizer = checkpoint / "optimizer.pt"
    if optimizer.is_file() and not zipfile.is_zipfile(optimizer):
        return "its optimizer.pt is cut short"
    marked = any((other / CHECKPOINT_MARKER).is_file() for other in checkpoint.parent.glob("checkpoint-*"))
    if marked and not (checkpoint / CHECKPOINT_MARKER).is_file():
        return "it was still being written when the run stopped"
    return None


def versions() -> dict[str, str]:
    found = {}
    for package in (
        *("rft", "torch", "transformers", "trl", "peft", "datasets", "accelerate"),
        *("unsloth", "unsloth_zoo", "bitsandbytes", "vllm"),
    ):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return found


def read_status(run_dir: Path) -> dict[str, Any] | None:
    path = Path(run_dir) / STATUS_FILE
    if not path.is_file():
        return None
    status = read_json(path, "delete it and run the command again: rft writes it anew")
    if not isinstance(status, dict):
        raise ValueError(f"{path} is damaged (not a JSON object); delete it and run the command again")
    return status


def read_run_config(run_dir: Path) -> Preset:
    """The preset a run folder was trained with. Credentials were redacted when it was written: a
    resumed run takes them from the environment (``HF_TOKEN``), as a new one does."""
    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir} is not a run folder: it has no {CONFIG_FILE}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))["preset"]
        if not isinstance(data, dict):
            raise TypeError
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is not valid JSON ({error}); it cannot be resumed or read") from None
    except (KeyError, TypeError):
        raise ValueError(f'{path} has no "preset" object: it was not written by rft train') from None
    data["trainer_args"] = {
        key: value for key, value in (data.get("trainer_args") or {}).items() if value != REDACTED
    }
    if isinstance(data.get("init_from"), str) and not Path(data["init_from"]).is_dir():
        # A finished run holds its whole adapter: it stays usable when moved or downloaded
        # without the warm-up run it started from.
        data = {**data, "init_from": None}
    try:
        return Preset.from_dict(data)
    except (ValueError, TypeError) as error:  # a field of the wrong type or value: name the file too
        raise ValueError(f"{path}: {error}") from None


def runs_under(folder: str | Path) -> list[tuple[Path, Preset]]:
    """Every run folder under ``folder`` (a recipe's two stages too), with its preset, in one scan.
    A folder whose ``config.json`` is not a run's (a model's own, an unreadable one) is skipped."""
    found = []
    for config in sorted(Path(folder).glob("**/config.json")):
        try:
            found.append((config.parent, read_run_config(config.parent)))
        except (ValueError, FileNotFoundError):
            continue
    return found


def check_run_folder(folder: str | Path, name: str) -> None:
    """``folder`` is a run folder whose config reads, or a ``ValueError`` naming the setting: a path
    that is not there, a file, or a folder no run wrote is one line before anything starts."""
    try:
        read_run_config(Path(folder))
    except FileNotFoundError:
        raise ValueError(f"{name} {folder}: not a run folder (no {CONFIG_FILE} there)") from None
    except ValueError as error:
        raise ValueError(f"{name} {folder}: {error}") from None


def run_to_continue(resume: str | Path | None, runs: str | Path, preset: Preset) -> Path | None:
    """The run of ``preset`` that ``resume`` names: ``"latest"``, the newest unfinished one under
    ``runs`` that has a complete checkpoint (stopped for time, or cut off with its session); a
    folder, that run when it trained the same preset; None, none."""
    if resume is None:
        return None
    if str(resume) != "latest":
        folder = Path(resume)
        return folder if read_run_config(folder).name == preset.name else None
    found = []
    for run, config in runs_under(runs):
        checkpoint = last_complete_checkpoint(run)
        if config.name != preset.name or checkpoint is None:  # none, or only one a crash cut short
            continue
        try:
            status = read_status(run)
        except ValueError as error:
            print(f"note: skipping {run}: {error}")
            continue
        if status is None or status.get("state") != "finished":
            found.append((checkpoint.stat().st_mtime, run))
    return max(found)[1] if found else None


def latest_run(folder: str | Path, task: str | None = None) -> Path | None:
    """The newest finished GRPO run under ``folder`` (recipes searched too), not a warm-up."""
    found = [
        run
        for run, preset in runs_under(folder)
        if (run / "adapter" / "adapter_config.json").is_file()
        and preset.trainer == "grpo"
        and task in (None, preset.task)
    ]
    return max(found, key=lambda run: (run / "adapter").stat().st_mtime, default=None)


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """The rows of a run's ``.jsonl`` file. A kill in the middle of a write leaves a torn last line:
    it is dropped with a note (its step is trained again on resume). A bad line anywhere else means
    the file was damaged otherwise: an error naming the file and the line."""
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    numbered = [(number, line) for number, line in enumerate(lines, start=1) if line.strip()]
    rows = []
    for position, (number, line) in enumerate(numbered):
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            if position == len(numbered) - 1 and not path.read_bytes().endswith(b"\n"):
                print(f"note: {path}: dropped its last line {number}, cut short by an interrupted write")
                continue
            raise ValueError(f"{path}, line {number}: not a JSON object; the file is damaged") from None
        if not isinstance(row, dict):
            raise ValueError(f"{path}, line {number}: not a JSON object; the file is damaged")
        step = row.get("step", 0)
        if isinstance(step, bool) or not isinstance(step, int):
            raise ValueError(
                f"{path}, line {number}: its step is not a whole number ({step!r}); the file is damaged"
            )
        rows.append(row)
    return rows


def _keep_lines_up_to(path: Path, step: int) -> None:
    """On resume, drop metrics and samples of steps after the checkpoint: they are trained again."""
    kept = [row for row in read_metrics(path) if row.get("step", 0) <= step]
    write_jsonl(path, kept)  # replaced whole: a kill mid-rewrite leaves the old file, not half of it


# Setting names whose values are credentials: never printed or written by the project. Matched on
# the name's words (``hub_token``, ``hf-token``, ``apiKey``, ``X-Api-Key``, ``Authorization``,
# ``headers``), so that ``max_new_tokens`` or ``monkey`` are not.
SECRET_NAME = re.compile(
    r"(^|[_\-. ])(token|key|auth|authorization|cookies?|headers|passwd|pwd)$"
    r"|password|secret|credential|api[_\-. ]?key|access[_\-. ]?key|private[_\-. ]?key",
    re.IGNORECASE,
)
# Special tokens of a tokenizer (SFTConfig's ``eos_token``, ``pad_token``) are text, not credentials.
NOT_SECRET_NAME = re.compile(r"^(eos|bos|pad|unk|sep|cls|mask)_token$", re.IGNORECASE)

REDACTED = "<redacted>"

# Credentials known by their shape wherever they stand in a string: Hugging Face, OpenAI and
# Anthropic, GitHub, AWS and Slack tokens, the credential of an HTTP Authorization value, anything
# before the @ of a URL's host (https://user:pass@host, https://TOKEN@host), a credential-named
# query or key=value parameter (?token=..., &api_key=...), and a bare 40-hex-digit value (a
# Weights & Biases key).
_SECRET_PARAMETER = (
    r"(?:[A-Za-z0-9_\-]*(?:token|key|secret|password|passwd|pwd|auth|signature|sig|credential))"
)
SECRET_VALUE = re.compile(
    r"(?<![A-Za-z0-9])(?:"
    r"hf_(?=[A-Za-z]*[0-9])[A-Za-z0-9]{8,}"
    r"|sk-[A-Za-z0-9_\-]{16,}"
    r"|(?:gh[pousr]_|github_pat_)[A-Za-z0-9_]{16,}"
    r"|(?:AKIA|ASIA)[0-9A-Z]{16}"
    r"|xox[abposr]-[A-Za-z0-9\-]{10,}"
    r")"
)
AUTHORIZATION_VALUE = re.compile(
    r"\b((?i:bearer)\s+|(?i:basic)\s+(?=[A-Za-z0-9+/]+[A-Z0-9+/=]))[A-Za-z0-9._~+/=\-]{8,}"
)
URL_CREDENTIALS = re.compile(r"(?<=://)[^/\s@?#]+@")
SECRET_PARAMETER = re.compile(rf"(?:^|(?<=[?&;\s]))({_SECRET_PARAMETER})=[^&\s;#\"',]+", re.IGNORECASE)
WANDB_KEY = re.compile(r"^[0-9a-f]{40}$")


def is_secret_name(name: Any) -> bool:
    """``name`` says its value is a credential (``api-key``, ``Authorization``, ``hub_token``)."""
    name = str(name)
    return bool(SECRET_NAME.search(name)) and not NOT_SECRET_NAME.match(name)


def redact_text(text: str) -> str:
    """``text`` with every credential found by its shape replaced by the marker (a URL keeps its
    host, a parameter its name, an authorization value its scheme)."""
    if WANDB_KEY.match(text):
        return REDACTED
    text = SECRET_VALUE.sub(REDACTED, text)
    text = AUTHORIZATION_VALUE.sub(lambda match: f"{match.group(1)}{REDACTED}", text)
    text = URL_CREDENTIALS.sub(REDACTED + "@", text)
    return SECRET_PARAMETER.sub(lambda match: f"{match.group(1)}={REDACTED}", text)


def redact_secrets(value: Any) -> Any:
    """``value`` with every setting whose name says it holds a credential replaced by a marker, at
    any depth of dicts and lists, and every credential recognised by its shape in any string (a
    token, a URL's user and password, an authorization header, a ``?token=`` parameter)."""
    if isinstance(value, Mapping):
        return {
            key: REDACTED if item and is_secret_name(key) else redact_secrets(item)
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [redact_secrets(item) for item in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


def without_secrets(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The trainer's settings with every credential gone before the trainer exists. Transformers
    pickles them into ``training_args.bin`` in every checkpoint and the adapter, and uploads them
    with ``push_to_hub``: cleaning the files afterwards would leave a window in which a kill keeps
    the token on disk. A top-level credential (``hub_token``) is left out, since the libraries read
    ``HF_TOKEN`` and the like from the environment; one inside a dict-valued setting, or a password
    in a URL, is replaced by the marker."""
    return {
        key: redact_secrets(value) for key, value in settings.items() if not (value and is_secret_name(key))
    }


def check_writable(folder: Path) -> None:
    """``folder`` exists as a folder (created if missing) and this process can write into it."""
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"runs folder {folder} is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".rft-write-check-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise ValueError(f"runs folder {folder} cannot be written: {error.strerror or error}") from None


def mark_running(run_dir: Path, step: int) -> None:
    """``status.json`` while a run trains: one that then dies says it was running from ``step`` and
    how to continue, not what an earlier stop of the same run said."""
    status = {
        "state": "running",
        "from_step": step,
        "resume": f'rft train --resume "{run_dir}"',
        "written_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    write_json(run_dir / STATUS_FILE, status)


def write_status(run_dir: Path, steps: int, max_steps: int, stopped_by_time_limit: bool) -> dict[str, Any]:
    """``status.json``: finished, or stopped at step N of M with the exact command that continues."""
    if steps >= max_steps:
        status: dict[str, Any] = {"state": "finished", "step": steps, "max_steps": max_steps}
    else:
        status = {
            "state": "stopped",
            "reason": "time limit" if stopped_by_time_limit else "stopped before max_steps",
            "step": steps,
            "max_steps": max_steps,
            "resume": f'rft train --resume "{run_dir}"',
        }
    status["written_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    write_json(run_dir / STATUS_FILE, status)
    return status
