"""The few lines of glue every notebook needs, kept here so notebook cells stay short.

Notebooks run in three places: a free Colab or Kaggle T4, a local machine with or without a GPU
(a laptop, a university PC over remote desktop), and CI, where ``RFT_NOTEBOOK_SMOKE=1`` swaps in
the tiny presets for a couple of steps so every cell runs in seconds. Cells that need a GPU say so
and skip themselves instead of failing.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from rft.training.models import cuda_available, import_unsloth_first, release_memory
from rft.training.presets import Preset, apply_overrides, get_preset, task_rewards

SMOKE_VARIABLE = "RFT_NOTEBOOK_SMOKE"
RUNS_VARIABLE = "RFT_RUNS_DIR"
DRIVE = Path("/content/drive")

T = TypeVar("T")


def environment() -> str:
    """``colab``, ``kaggle`` or ``local`` (a laptop, a lab PC, a university RDP machine)."""
    if "COLAB_RELEASE_TAG" in os.environ or "COLAB_GPU" in os.environ:
        return "colab"
    if "KAGGLE_KERNEL_RUN_TYPE" in os.environ:
        return "kaggle"
    return "local"


def smoke_mode() -> bool:
    """True in CI's notebook run: tiny presets, a couple of steps, a handful of games."""
    return os.environ.get(SMOKE_VARIABLE, "") == "1"


def scaled(full: T, smoke: T) -> T:
    """``full`` normally, ``smoke`` in smoke mode (say 100 evaluation games against 2)."""
    return smoke if smoke_mode() else full


def prepare() -> str:
    """Say where the notebook runs and what it has; on a GPU, import Unsloth before anything else
    imports transformers (Unsloth patches it on import, and warns when it comes second)."""
    place = environment()
    if place == "kaggle":  # Kaggle's two T4s: one process trains on one GPU
        os.environ.setdefault("CUDA_VISIBLE_DEVICES", "0")
    import torch

    import_unsloth_first()
    if cuda_available():
        properties = torch.cuda.get_device_properties(0)
        device = f"{properties.name}, {properties.total_memory / 2**30:.0f} GiB"
    else:
        device = f"no GPU: CPU with {os.cpu_count()} cores"
    versions = [f"{name} {_version(name)}" for name in ("torch", "transformers", "trl", "peft", "unsloth")]
    print(f"{place}: {device}; Python {platform.python_version()}; " + ", ".join(versions))
    if smoke_mode():
        print("Smoke mode: tiny presets, a couple of steps, a few games.")
    return place


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "(not installed)"


def runs_dir(wanted: str | Path | None = None) -> Path:
    """Where runs are written: ``wanted``, else ``RFT_RUNS_DIR``, else ``runs/`` beside the notebook.

    A folder on Google Drive (``/content/drive/...``) is mounted first on Colab, so runs outlive
    the session and resume in the next one.
    """
    folder = reach(Path(wanted or os.environ.get(RUNS_VARIABLE, "runs")))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def reach(path: str | Path) -> Path:
    """``path``, with Google Drive mounted first when it lies there (Colab asks for permission)."""
    path = Path(path)
    if environment() == "colab" and DRIVE in path.parents and not (DRIVE / "MyDrive").is_dir():
        from google.colab import drive  # type: ignore[import-not-found]

        drive.mount(str(DRIVE))
    return path


def pick_preset(wanted: str, smoke: str, **overrides: Any) -> Preset:
    """The preset to train here: ``wanted`` on a GPU, its CPU alternative without one, ``smoke``
    in smoke mode. Overrides (``max_steps=50``; None leaves a field alone) are applied and
    checked before anything loads."""
    preset = get_preset(wanted)
    if smoke_mode():
        chosen, why = get_preset(smoke), "smoke mode"
    elif preset.device == "cuda" and not cuda_available():
        alternative = preset.cpu_alternative + ("-sft" if preset.trainer == "sft" else "")
        chosen, why = get_preset(alternative), "no GPU here"
    else:
        chosen, why = preset, None
    if why:
        print(f"Using preset {chosen.name!r} instead of {wanted!r} ({why}).")
    settings = {k: str(v) for k, v in overrides.items() if v is not None}
    return apply_overrides(chosen, settings) if settings else chosen


def gpu_only(what: str) -> bool:
    """Whether a GPU-only step can run here; prints a visible note when it is skipped."""
    if cuda_available() and not smoke_mode():
        return True
    print(f"Skipped here: {what} needs a GPU (run this notebook on a Colab or Kaggle T4).")
    return False


def free_memory() -> None:
    """Give back the GPU memory of models that are no longer referenced (before training)."""
    release_memory()


def example_rows(preset: Preset, count: int = 4) -> list[dict[str, Any]]:
    """A few training rows exactly as the trainer will see them (Wordle or GSM8K)."""
    if preset.task == "gsm8k":
        from rft.gsm8k import build_rows, load_problems

        return build_rows(load_problems(preset.problems), count, preset.seed)
    from dataclasses import replace

    from rft.wordle.dataset import build_rows as build_wordle_rows

    return build_wordle_rows(replace(preset.dataset_config(), num_rows=count), progress=False)


def sample_group(
    model: Any, tokenizer: Any, row: dict[str, Any], size: int, max_new_tokens: int, temperature: float = 1.0
) -> list[str]:
    """``size`` sampled completions for one prompt: the group GRPO would score."""
    from rft.evaluate import generate_completions

    prompt = tokenizer.apply_chat_template(row["prompt"], tokenize=False, add_generation_prompt=True)
    return generate_completions(model, tokenizer, [prompt] * size, max_new_tokens, temperature, size)


def reference_completions(row: dict[str, Any], seed: int = 0) -> dict[str, str]:
    """Wordle answers to compare the model's against: the solver's worked answer, a random
    allowed word in the right format, and a bare word with no tags."""
    from rft.wordle.game import as_history
    from rft.wordle.solver import EntropySolver, random_valid_policy
    from rft.wordle.traces import trace

    history = as_history(row["history"])
    solver_guess = EntropySolver(hard_mode=True)(history)
    random_guess = random_valid_policy(history, np.random.default_rng(seed))
    return {
        "solver": trace(history, solver_guess),
        "random word": f"<think>\nAny word will do.\n</think>\n<guess>{random_guess.upper()}</guess>",
        "no tags": random_guess,
    }


def reward_table(
    preset: Preset, row: dict[str, Any], completions: Sequence[str], sources: Sequence[str]
) -> Any:
    """One group of completions for one prompt, as GRPO sees it: each reward, the weighted total,
    and the group-relative advantage that decides which completions get pushed up."""
    import pandas as pd
    import torch

    from rft.grpo_math import group_advantages

    functions, weights = task_rewards(preset)
    columns = {k: [row[k]] * len(completions) for k in ("secret", "history", "answer") if k in row}
    scores = {f.__name__.removesuffix("_reward"): f(list(completions), **columns) for f in functions}
    total = [sum(w * scores[name][i] for name, w in zip(scores, weights)) for i in range(len(completions))]
    advantages = group_advantages(torch.tensor(total), group_size=len(completions)).tolist()
    table = pd.DataFrame(
        {
            "from": list(sources),
            "completion": [_one_line(c) for c in completions],
            **scores,
            "total": total,
            "advantage": advantages,
        }
    )
    return table.round(3)


def _one_line(text: str, width: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def latest_run(folder: str | Path, task: str | None = None) -> Path | None:
    """The newest finished GRPO run under ``folder`` (recipes searched too), not a warm-up."""
    from rft.training.run import read_run_config

    found = []
    for config in Path(folder).glob("**/config.json"):
        run = config.parent
        if not (run / "adapter" / "adapter_config.json").is_file():
            continue
        preset = read_run_config(run)
        if preset.trainer == "grpo" and task in (None, preset.task):
            found.append(run)
    return max(found, key=lambda run: (run / "adapter").stat().st_mtime, default=None)


def games_table(evaluation: dict[str, Any], player: str) -> Any:
    """One line per game a player played: the secret, the outcome and the words it wrote."""
    import pandas as pd

    return pd.DataFrame(
        {
            "secret": game["secret"],
            "won": game["won"],
            "guesses": game["guesses"],
            "words": " ".join((turn["written"] or "·····").upper() for turn in game["turns"]),
            "exact format": sum(turn["exact_format"] for turn in game["turns"]),
        }
        for game in evaluation["games"][player]
    )


def show_image(path: str | Path | None) -> None:
    """Display a figure the package wrote (curves, guess charts) inline."""
    if path is None or not Path(path).is_file():
        print("No figure to show.")
        return
    from IPython.display import Image, display

    display(Image(filename=str(path)))


def show_markdown(text: str) -> None:
    from IPython.display import Markdown, display

    display(Markdown(text))
