"""Wordle as a task: game states for GRPO, solver traces for the warm-up, own games, and
evaluation by whole games on held-out answers."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from rft.generation import EVAL_MAX_NEW_TOKENS
from rft.tasks import PresetLike, Task
from rft.wordle.conversation import WholeGameRollout
from rft.wordle.dataset import WordleDatasetConfig, build_dataset, build_rows, check_rows, own_game_rows
from rft.wordle.guess_language import guess_regex
from rft.wordle.held_out_games import ModelPlayer, evaluate_loaded, markdown_table, played_with_progress
from rft.wordle.play import GameRecord, game_metrics
from rft.wordle.prompts import ANSWER_ONLY_STYLES
from rft.wordle.rewards import DEFAULT_REWARD_WEIGHTS, GAME_ONLY_REWARDS, GUESS_CLOSE, select_rewards
from rft.wordle.spread import sample_spread
from rft.wordle.traces import build_trace_rows, own_game_secrets, own_game_trace_rows


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


OWN_GAME_TOKENS = EVAL_MAX_NEW_TOKENS  # as an evaluation allows: the games are the ones it would see


def play_own_games(
    preset: PresetLike, model: Any, tokenizer: Any, progress: bool
) -> tuple[list[GameRecord], dict[str, Any]]:
    """``preset.own_games`` games on training answers by the model a run continues, and their
    summary: how many states they gave, how long they took, how the model played."""
    player = ModelPlayer(model, tokenizer, preset.prompt_style, OWN_GAME_TOKENS)
    secrets = own_game_secrets(preset.own_games, preset.seed)
    padding_side = tokenizer.padding_side  # generation pads on the left, training may not
    started = time.monotonic()
    records = played_with_progress("its own games", player, secrets, progress)
    tokenizer.padding_side = padding_side
    summary = {
        "states": sum(len(record.turns) for record in records),  # the state before each turn
        "seconds": round(time.monotonic() - started, 1),  # they count against a time-boxed run
        "metrics": game_metrics(records),
        "games": [record.to_dict() for record in records],
    }
    return records, summary


def whole_games(preset: PresetLike, rows: Sequence[Any]) -> WholeGameRollout:
    """GRPO's groups as whole games from the rows' states, each turn capped as a single-turn
    completion is (``max_completion_length``), each game at ``preset.max_game_tokens``; each turn
    ends at its answer unless the preset's ``end_at_answer`` is off, as a single turn's does."""
    return WholeGameRollout(
        rows,
        preset.dataset.prompt_style,
        int(preset.trainer_args.get("num_generations") or 8),
        preset.eval_max_new_tokens,
        preset.max_game_tokens,
        end_after=GUESS_CLOSE if preset.end_at_answer else None,
    )


def how_to_prompt(preset: PresetLike) -> str:
    style = preset.dataset.prompt_style
    answer = (
        "`<guess>WORD</guess>` alone"
        if style in ANSWER_ONLY_STYLES
        else "`<think>…</think>` then `<guess>WORD</guess>`"
    )
    text = (
        f'Prompts are built by `rft.wordle.prompts.build_messages(history, style="{style}")`; '
        f"the model answers {answer}."
    )
    if preset.rollout == "games":
        text += (
            " It was trained on whole games as one chat: after each answer the game's reply comes as "
            "the next user turn, with what is new (`rft.wordle.prompts.game_reply`: the last guess's "
            "feedback or the answer turned down, the clues in the compact and short styles, the "
            "guesses left; "
            "`rft.wordle.conversation.ConversationPlayer`)."
        )
    return text


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
    play_own_games=play_own_games,
    evaluate=evaluate_loaded,
    evaluation_table=markdown_table,
    whole_games=whole_games,
    game_only_rewards=GAME_ONLY_REWARDS,
    answer_language=guess_regex,
    spread_check=sample_spread,
)
