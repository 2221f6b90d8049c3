"""Evaluating a model or a run, whatever its task: ``rft eval``, the notebooks, the recipe.

Everything is checked before any model loads; then the models are loaded once (a run's base model
and its adapter share one copy of the weights) and handed to the task's evaluation
(``Task.evaluate``): Wordle plays whole held-out games (:mod:`rft.wordle.held_out_games`), GSM8K answers
held-out problems (:mod:`rft.gsm8k.held_out_problems`). Each writes ``eval.json`` and ``eval.md`` (the
table that ``rft export`` puts in the model card) into a fresh folder.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from rft.checks import check_integer, check_number, check_output
from rft.constrained import held_to
from rft.generation import EVAL_MAX_NEW_TOKENS
from rft.models import (
    LoadedModel,
    check_adapter,
    check_adapter_fits,
    check_hub_model,
    check_model,
    load_base,
    load_models,
    preset_of,
    with_adapter,
)
from rft.runtime import release_memory
from rft.tasks import EvalRequest, Task
from rft.training.config import Preset, get_task
from rft.training.policy import model_path
from rft.wordle.held_out_states import SAMPLES, check_state_request


def task_of(model: str | Path, adapter: str | Path | None = None) -> tuple[Task, Preset | None]:
    """The task a model is evaluated on, and the preset that says how: the adapter's run's, else
    the model's (a preset or a run folder); a plain model folder or Hub id plays Wordle."""
    presets = [preset_of(given) for given in (adapter, model) if given is not None]
    presets = [preset for preset in presets if preset is not None]
    if len({preset.task for preset in presets}) > 1:
        raise ValueError(
            f"--model {model} is a {presets[1].task} model and --adapter {adapter} a {presets[0].task} "
            "run: give a model and an adapter trained on the same task"
        )
    preset = presets[0] if presets else None
    task = get_task(preset.task if preset is not None else "wordle")
    if task.evaluate is None:
        raise ValueError(f"task {task.name!r} has no evaluation")
    return task, preset


def check_request(
    model: str | Path,
    adapter: str | Path | None,
    games: int,
    max_new_tokens: int | None,
    temperature: float,
    batch_size: int,
    seed: int = 0,
    out_dir: str | Path | None = None,
    constrain_guesses: bool = False,
    states: int = 0,
    samples: int = SAMPLES,
    pass_at: Sequence[int] | None = None,
) -> tuple[Task, Preset | None]:
    """Every argument of an evaluation, checked before any model loads or any folder is made,
    the task's data too (GSM8K's problems are read now); the task and preset, as :func:`task_of`.
    ``states``: Wordle's held-out boards too (then ``games`` may be 0)."""
    check_integer("games", games, minimum=0 if states else 1)
    if states:
        check_state_request(states, samples, pass_at, seed)
    check_integer("seed", seed, minimum=0)
    check_output(out_dir)
    check_integer("batch_size", batch_size, minimum=1)
    if max_new_tokens is not None:
        check_integer("max_new_tokens", max_new_tokens, minimum=1)
    check_number("temperature", temperature, allow_zero=True)
    check_model(model)
    if adapter is not None:
        check_adapter(adapter)
    task, preset = task_of(model, adapter)
    if constrain_guesses and task.answer_language is None:
        raise ValueError(
            f"--constrain-guesses: task {task.name!r} has no list of allowed answers (Wordle has)"
        )
    if states and task.name != "wordle":
        raise ValueError(f"--states: the held-out boards are Wordle's; {model} is a {task.name} model")
    if states and preset is not None and preset.init_from is not None:
        try:  # the run it continued is paired with it (with_parent_run): loadable, or said now
            check_adapter(preset.init_from)
        except (ValueError, FileNotFoundError) as error:
            raise ValueError(
                f"--states: the run this one continued (init_from) cannot be loaded: {error}"
            ) from None
    if preset is not None:
        task.check_data(preset)
    base = preset_of(model)
    # a shipped model: fetched and checked now; a Hub id: reachable, or one line
    check_hub_model(model_path(str(model) if base is None else base.model))
    if adapter is not None:
        check_adapter_fits(model, adapter)  # the adapter's weights fit this base, before it loads
    return task, preset


def evaluate_model(
    model: str,
    adapter: str | Path | None = None,
    games: int = 100,
    seed: int = 0,
    out_dir: str | Path | None = None,
    baselines: bool = True,
    max_new_tokens: int | None = None,
    temperature: float = 0.0,
    batch_size: int = 32,
    progress: bool = True,
    loaded: Sequence[LoadedModel] | None = None,
    constrain_guesses: bool = False,
    states: int = 0,
    samples: int = SAMPLES,
    pass_at: Sequence[int] | None = None,
) -> dict[str, Any]:
    """``rft eval``: the base model and (with an adapter) the trained one on the same held-out
    items, ``games`` of them: Wordle games, beside the baselines, or GSM8K problems.

    ``states`` > 0 (Wordle): also that many held-out boards, one move each, ``samples`` answers a
    board at temperature 1 for pass@k (``pass_at``; by default 1 and ``samples``), each model
    paired on them with the one it started from; a trained run that continued another (its warm-up,
    ``init_from``) brings that one in between, so GRPO is compared with its warm-up and the warm-up
    with the base.

    ``max_new_tokens`` None: the preset's (:attr:`Preset.eval_max_new_tokens`), so a turn is never
    cut shorter than training allowed. ``loaded``: the models :func:`load_models` returned, to use
    them again afterwards (watching a game); without it they are loaded here and their memory is
    handed back at the end, before anything else needs the GPU. ``constrain_guesses``: hold every
    model's guesses to allowed words, as a run that trained so is held anyway."""
    task, preset = check_request(
        model,
        adapter,
        games,
        max_new_tokens,
        temperature,
        batch_size,
        seed,
        out_dir,
        constrain_guesses,
        states,
        samples,
        pass_at,
    )
    if max_new_tokens is None:  # what the run trained with, where there is one
        max_new_tokens = EVAL_MAX_NEW_TOKENS if preset is None else preset.eval_max_new_tokens
    models = load_models(model, adapter, constrain_guesses) if loaded is None else list(loaded)
    if states and loaded is None:
        models = with_parent_run(models, model, preset)
    request = EvalRequest(
        games,
        seed,
        max_new_tokens,
        temperature,
        batch_size,
        baselines,
        progress,
        states=states,
        samples=samples,
        pass_at=None if pass_at is None else tuple(pass_at),
    )
    details = {
        "model": str(model),
        "adapter": None if adapter is None else str(adapter),
        "constrain_guesses": any(held_to(loaded_model.model) is not None for loaded_model in models),
    }
    if out_dir is None:  # a fresh folder: an earlier evaluation is never overwritten
        from rft.training.run_folder import new_run_dir

        out_dir = new_run_dir("runs", "eval")
    result = task.evaluate(preset, models, request, out_dir, details)
    if loaded is None:
        del models
        release_memory()
    return result


def with_parent_run(models: list[LoadedModel], model: str | Path, preset: Preset | None) -> list[LoadedModel]:
    """``models`` (the base, then the trained adapter) with the run the adapter continued
    (``init_from``, a finished run: the warm-up) between them, so that each model is paired with
    the one it started from (checked by :func:`check_request`). It gets its own copy of the base
    weights."""
    if len(models) != 2 or preset is None or preset.init_from is None:
        return models
    spec: Preset | str = preset_of(model) or str(model)
    trained = models[1]  # the warm-up plays as the model it is paired with: its prompts, games, constraint
    held = held_to(trained.model) is not None
    parent = with_adapter(load_base(spec, held, trained.prompt_style), preset.init_from)
    parent = replace(parent, prompt_style=trained.prompt_style, whole_games=trained.whole_games)
    return [models[0], replace(parent, label="warm-up"), models[1]]


def markdown_table(result: dict[str, Any]) -> str:
    """The table of an evaluation's result, whichever task wrote it (``eval.md`` holds the same)."""
    return get_task(result.get("task", "wordle")).evaluation_table(result)
