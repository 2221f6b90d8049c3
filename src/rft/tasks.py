"""What training, evaluation, the notebooks and export need from a task, so that Wordle and GSM8K
plug in the same way and a third task is one new folder (its ``task.py`` defines a :class:`Task`)
plus one entry in ``rft.training.config.TASKS``.

A preset holds its task's dataset config (``preset.dataset``, an instance of the task's
``dataset_config`` class: which rows, how many, how prompted) beside the run's ``seed``; the task
reads both from the preset it is given. It never imports the training package, which imports it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rft.generation import EVAL_MAX_NEW_TOKENS
from rft.reward_common import RewardFunction

# Any preset (rft.training.config.Preset): typed loosely, as the training package imports tasks.
PresetLike = Any


def _nothing_to_check(preset: PresetLike) -> None:
    return None


@dataclass(frozen=True)
class EvalRequest:
    """What an evaluation asks of every task alike: how many held-out items (Wordle games, GSM8K
    problems), the seed that draws them, and how the models generate."""

    count: int = 100
    seed: int = 0
    max_new_tokens: int = EVAL_MAX_NEW_TOKENS
    temperature: float = 0.0  # greedy
    batch_size: int = 32
    baselines: bool = True  # scripted players beside the models, where the task has them
    progress: bool = True
    # Wordle: held-out boards answered one move each and paired between models
    # (rft.wordle.held_out_states): how many (0: none), samples a board at temperature 1, pass@k's k
    # (None: 1 and samples).
    states: int = 0
    samples: int = 8
    pass_at: tuple[int, ...] | None = None


# (preset or None for a plain model, loaded models, request, output folder, details to record)
Evaluation = Callable[[PresetLike | None, Sequence[Any], EvalRequest, Path, dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Task:
    name: str
    skill: str  # what a model card says the model was trained to do
    closing_tag: str  # a completion is finished once it has written this (rft.generation)
    # The frozen dataclass a preset's ``dataset`` field holds; it checks its fields when built
    # and takes them by name from the command line (--num_rows 64).
    dataset_config: type
    default_rewards: Mapping[str, float]
    select_rewards: Callable[[Mapping[str, float] | None], tuple[list[RewardFunction], list[float]]]
    # GRPO's training set for a preset, as a datasets.Dataset; for a task with own games, the states
    # the model being continued reached in them (GameRecords) come first.
    grpo_dataset: Callable[[PresetLike, bool, Sequence[Any]], Any]
    example_rows: Callable[[PresetLike, int], list[dict[str, Any]]]  # a few rows as GRPO sees them
    how_to_prompt: Callable[[PresetLike], str]  # the model card's sentence on prompts and answers
    # The supervised warm-up's prompt/completion rows (own games' states first); None: no warm-up.
    warm_up_rows: Callable[[PresetLike, bool, Sequence[Any]], list[dict[str, Any]]] | None = None
    # Games of its own by the model a run continues (preset, model, tokenizer, progress): the
    # records, whose states become rows, and their summary for the run folder's own_games.json.
    # None: the task has no games of its own.
    play_own_games: Callable[[PresetLike, Any, Any, bool], tuple[list[Any], dict[str, Any]]] | None = None
    # Settings checks without reading data (they run whenever a preset is validated), and the
    # checks that read it (once, before a model loads); each raises ValueError naming the field.
    check_settings: Callable[[PresetLike], None] = _nothing_to_check
    check_data: Callable[[PresetLike], None] = _nothing_to_check
    # Held-out evaluation of models already loaded (rft.models.LoadedModel: label, model,
    # tokenizer, prompt_style, adapter_off), all on the same items: writes eval.json and eval.md
    # into the folder and returns the result, whose "task" names this one; None: no evaluation.
    # It loads nothing itself, so a task never imports the loading that imports the presets.
    evaluate: Evaluation | None = None
    evaluation_table: Callable[[dict[str, Any]], str] | None = None  # eval.md's table of a result
    # Whole-game GRPO (preset rollout "games"): from a preset and its GRPO rows, the object whose
    # ``play(prompts, model, tokenizer, generation_config)`` plays every prompt's game to its end and
    # returns TRL's rollout fields and the batch's statistics; None: the task has no games.
    whole_games: Callable[[PresetLike, Sequence[Any]], Any] | None = None
    # The regex a whole completion in a prompt style is held to where a preset constrains its
    # answers (constrain_guesses; rft.constrained): Wordle's allowed words; None: answers are free.
    answer_language: Callable[[str], str] | None = None
    game_only_rewards: frozenset[str] = frozenset()  # rewards that need whole games
    # Before a long run (rft preflight --spread): (preset, the model its GRPO run starts from,
    # tokenizer, items, samples an item) -> whether groups sampled on held-out items differ in
    # reward at all ("groups_with_spread", "verdict", ...); None: the task has no such check.
    spread_check: Callable[[PresetLike, Any, Any, int, int], dict[str, Any]] | None = None
