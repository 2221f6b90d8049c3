"""Wordle as a task: game states for GRPO, solver traces for the warm-up, own games, and
evaluation by whole games on held-out answers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from rft.tasks import PresetLike, Task
from rft.wordle.dataset import WordleDatasetConfig, build_dataset, build_rows, check_rows, own_game_rows
from rft.wordle.evaluate import evaluate_models, markdown_table
from rft.wordle.play import GameRecord
from rft.wordle.rewards import DEFAULT_REWARD_WEIGHTS, GUESS_CLOSE, select_rewards
from rft.wordle.traces import build_trace_rows, own_game_trace_rows


def grpo_dataset(preset: PresetLike, progress: bool, own_games: Sequence[GameRecord] = ()) -> Any:
    dataset = build_dataset(preset.dataset, preset.seed, progress=progress)
    if own_games:
        from datasets import Dataset, concatenate_datasets

        own_rows = own_game_rows(own_games, preset.dataset.prompt_style)
        own = Dataset.from_list(own_rows, features=dataset.features)
        dataset = concatenate_datasets([own, dataset])
    check_rows(dataset)
    return dataset


def example_rows(preset: PresetLike, count: int) -> list[dict[str, Any]]:
    return build_rows(replace(preset.dataset, num_rows=count), preset.seed, progress=False)


def warm_up_rows(
    preset: PresetLike, progress: bool, own_games: Sequence[GameRecord] = ()
) -> list[dict[str, Any]]:
    rows = build_trace_rows(preset.dataset, preset.seed, progress=progress)
    return own_game_trace_rows(own_games, preset.dataset.prompt_style) + rows if own_games else rows


def how_to_prompt(preset: PresetLike) -> str:
    style = preset.dataset.prompt_style
    return (
        f'Prompts are built by `rft.wordle.prompts.build_messages(history, style="{style}")`; '
        "the model answers `<think>…</think>` then `<guess>WORD</guess>`."
    )


WORDLE = Task(
    name="wordle",
    skill="play Wordle",
    closing_tag=GUESS_CLOSE,
    dataset_config=WordleDatasetConfig,
    default_rewards=DEFAULT_REWARD_WEIGHTS,
    select_rewards=select_rewards,
    grpo_dataset=grpo_dataset,
    example_rows=example_rows,
    how_to_prompt=how_to_prompt,
    warm_up_rows=warm_up_rows,
    own_games=True,
    evaluate=evaluate_models,
    evaluation_table=markdown_table,
)
