"""The few lines of glue every notebook needs, kept here so notebook cells stay short. Where the
notebook runs, its runs folder and its session's time are :mod:`rft.hosting`'s (``runs_dir`` and
``session_hours`` are here for the cells too); Wordle's own tables (answers to compare with a
model's, games line by line) are with the task, in :mod:`rft.wordle.teaching`.

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
from typing import TYPE_CHECKING, Any, TypeVar

from rft.hosting import environment, reach, training_time_limit
from rft.runtime import cuda_available, import_unsloth_first, release_memory
from rft.training.config import Preset, apply_overrides, task_rewards
from rft.training.presets import get_preset

if TYPE_CHECKING:
    from rft.recipe import Plan
    from rft.training.run import RunResult

SMOKE_VARIABLE = "RFT_NOTEBOOK_SMOKE"

T = TypeVar("T")


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


# ---------------------------------------------------------------------------------------------
# The session's time, and runs that carry on in the next session
# ---------------------------------------------------------------------------------------------


def run_to_continue(resume: str | Path | None, runs: str | Path, preset: Preset) -> Path | None:
    """The run of ``preset`` that ``resume`` names (``"latest"``, a folder, or None), as
    :func:`rft.training.run_folder.run_to_continue` finds it, with Drive mounted when it lies there.
    A folder of another preset's run is refused, naming both, rather than passed over for a new run."""
    from rft.training.run_folder import read_run_config
    from rft.training.run_folder import run_to_continue as find

    if resume not in (None, "latest"):
        resume = reach(resume)
        trained = read_run_config(Path(resume)).name
        if trained != preset.name:
            raise ValueError(
                f"RESUME: {resume} is a run of {trained}, not of {preset.name}; give one of its runs"
            )
    return find(resume, runs, preset)


def train_or_continue(
    preset: Preset, runs: str | Path, resume: str | Path | None, session: float | str | None
) -> RunResult:
    """One run, continued or started (:func:`rft.recipe.train_or_continue`), within what is left of
    the session (:func:`training_time_limit`)."""
    from rft.recipe import train_or_continue as stage

    return stage(preset, runs, run_to_continue(resume, runs, preset), training_time_limit(session, runs))


def warm_up(plan: Plan, resume: str | Path | None, session: float | str | None) -> RunResult | None:
    """The recipe's warm-up stage (:func:`rft.recipe.warm_up_stage`) within the session's time."""
    from rft.recipe import warm_up_stage

    resume = resume if resume in (None, "latest") else reach(resume)
    return warm_up_stage(plan, plan.runs, resume, training_time_limit(session, plan.runs))


def reinforce(
    plan: Plan, warmed_up: RunResult | None, resume: str | Path | None, session: float | str | None
) -> RunResult:
    """The recipe's GRPO stage (:func:`rft.recipe.grpo_stage`) within the session's time."""
    from rft.recipe import grpo_stage

    resume = resume if resume in (None, "latest") else reach(resume)
    return grpo_stage(plan, plan.runs, warmed_up, resume, training_time_limit(session, plan.runs))


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
    return preset.task_definition.example_rows(preset, count)


def sample_group(
    model: Any,
    tokenizer: Any,
    row: dict[str, Any],
    size: int,
    max_new_tokens: int,
    temperature: float = 1.0,
    end_after: str | None = None,
) -> list[str]:
    """``size`` sampled completions for one prompt: the group GRPO would score (give the preset's
    ``closing_tag`` as ``end_after`` to end them where training does)."""
    from rft.generation import generate_completions

    prompt = tokenizer.apply_chat_template(row["prompt"], tokenize=False, add_generation_prompt=True)
    return generate_completions(
        model, tokenizer, [prompt] * size, max_new_tokens, temperature, size, end_after=end_after
    )


def reward_table(
    preset: Preset, row: dict[str, Any], completions: Sequence[str], sources: Sequence[str]
) -> Any:
    """One group of completions for one prompt, as GRPO sees it: each reward, the weighted total,
    and the group-relative advantage that decides which completions get pushed up."""
    import pandas as pd
    import torch

    from rft.grpo_math import group_advantages

    functions, weights = task_rewards(preset)
    # Every column the rewards read, the answer style included (the format reward pays for the
    # answer the row's prompt asked for: the guess tag alone in the short style).
    columns = {
        k: [row[k]] * len(completions) for k in ("secret", "history", "answer", "prompt_style") if k in row
    }
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
    from rft.training.run_folder import latest_run as newest

    return newest(folder, task)


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
