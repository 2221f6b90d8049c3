"""Worked answers for a supervised warm-up: for a game state, a short reasoning that is true for
that state, then the solver's guess, in exactly the format ``format_reward`` pays for (in the
``short`` prompt style, the solver's guess alone).

Small models barely move under GRPO alone: they rarely produce a well-formed answer, so every
completion in a group scores the same and the advantage is zero. A few dozen steps of supervised
fine-tuning on these traces teach the format and the habit of reading the clues; GRPO then has
differences to learn from. The reasoning is generated from the state, never typed, so it can't
state something false; a test re-derives every claim.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from rft.wordle.dataset import (
    WordleDatasetConfig,
    answer_split,
    build_rows,
    own_game_states,
    shuffled_passes,
)
from rft.wordle.game import History, as_history, is_consistent
from rft.wordle.play import GameRecord
from rft.wordle.prompts import ANSWER_ONLY_STYLES, describe_clues, shown_rejected
from rft.wordle.solver import FIRST_GUESS, EntropySolver, PatternTable
from rft.wordle.words import WORD_LENGTH, allowed_words, is_allowed

EXAMPLES_SHOWN = 3  # how many remaining answers a trace names


@lru_cache(maxsize=1)
def training_table() -> PatternTable:
    """The table the traces reason with: the training answers, and as guesses every allowed word
    but the held-out answers. A trace then never names a held-out answer, neither as one still
    possible nor as the word to play, so the evaluation's answers are ones the warm-up never
    taught; every clue a trace states stays true of its game, whose secret is a training answer.
    (Built once per machine, like the full table; about 20 MB.)"""
    held_out = set(answer_split()["test"])
    guesses = [word for word in allowed_words() if word not in held_out]
    return PatternTable.load_or_build(guesses, answer_split()["train"])


def trace_player(table: PatternTable | None = None) -> Callable[[History], str]:
    """The player whose guesses the traces teach: the hard-mode solver on ``table``
    (:func:`training_table` when None), so every guess keeps the clues. It opens with the solver's
    word, as the dataset's games do."""
    solver = EntropySolver(table or training_table(), hard_mode=True)
    return lambda history: solver(history) if history else FIRST_GUESS


def why_rejected(text: str) -> str:
    """Why the game turned an answer down, in one sentence a test can check against the text."""
    if not text:
        return "A turn was lost to an answer with no guess tag."
    shown = shown_rejected(text.upper())
    if not text.isalpha():
        return f"{shown} was not accepted: it is not a {WORD_LENGTH}-letter word."
    if len(text) != WORD_LENGTH:
        return f"{shown} was not accepted: it has {len(text)} letters, not {WORD_LENGTH}."
    if not is_allowed(text):
        return f"{shown} was not accepted: it is not in the word list."
    raise ValueError(f"{shown} is an allowed word; the game would have accepted it")


def reasoning(history: History, guess: str, table: PatternTable, rejected: Sequence[str] = ()) -> str:
    """The sentences inside ``<think>``: why lost turns were lost (each text once), the clues,
    what they leave, and why this guess."""
    lost = " ".join(why_rejected(text.strip()) for text in dict.fromkeys(rejected))
    prefix = f"{lost} " if lost else ""
    return prefix + _clue_reasoning(history, guess, table)


def _clue_reasoning(history: History, guess: str, table: PatternTable) -> str:
    candidates = table.candidates(history)
    n = len(candidates)
    groups = len(np.unique(table.row(guess)[candidates])) if n else 0
    # The guess is named first when it is one of them: a small model plays the first answer it
    # lists, so the list should lead to the word the trace plays.
    words = [table.answers[i] for i in candidates]
    listed = ([guess] if guess in words else []) + [word for word in words if word != guess]
    shown = ", ".join(word.upper() for word in listed[:EXAMPLES_SHOWN])
    if not history:
        return (
            f"No clues yet, so any of the {n} answers is possible. "
            f"{guess.upper()} tries common letters and splits them into {groups} groups."
        )
    sentences = [f"Clues: {describe_clues(history)}"]
    if n == 1:
        sentences.append(f"Only one answer fits every clue: {shown}.")
    else:
        among = "among them" if n > EXAMPLES_SHOWN else "namely"
        sentences.append(f"{n} answers fit every clue, {among} {shown}.")
        fits = "fits every clue" if is_consistent(guess, history) else "breaks a clue but is worth the try"
        sentences.append(f"{guess.upper()} {fits} and splits them into {groups} groups.")
    return " ".join(sentences)


def trace(
    history: History,
    guess: str,
    table: PatternTable | None = None,
    rejected: Sequence[str] = (),
    prompt_style: str = "full",
) -> str:
    """A complete answer: reasoning in ``<think>``, then the guess in ``<guess>``; in a style
    whose answer is the guess tag alone (``short``), the guess tag alone. No reasoning is made
    up for it: the facts a trace states (how many answers fit, which, how a guess splits them)
    are ones a small model cannot compute, and imitating them taught it to write such lists
    invented; the word is what it can learn."""
    if prompt_style in ANSWER_ONLY_STYLES:
        return f"<guess>{guess.upper()}</guess>"
    table = table or training_table()
    thinking = reasoning(history, guess, table, rejected)
    return f"<think>\n{thinking}\n</think>\n<guess>{guess.upper()}</guess>"


def build_trace_rows(
    config: WordleDatasetConfig, seed: int = 0, progress: bool = True
) -> list[dict[str, Any]]:
    """Prompt/completion rows for TRL's SFTTrainer (loss on the completion only), from the same
    game states as the GRPO dataset: training answers only, deterministic for a seed.

    The guess is the hard-mode solver's, which only plays words consistent with the clues, so the
    warm-up never teaches ignoring them. After lost turns (``rejected_share``) the answer says why
    each was lost and still plays the solver's word: the way out of a repeated miss.
    """
    if config.split != "train":
        raise ValueError("traces are for training; build them from the 'train' split only")
    table = training_table()
    player = trace_player(table)
    rows = []
    for row in build_rows(config, seed, progress=progress):
        history = as_history(row["history"])
        rows.append(
            _trace_row(
                row["prompt"], row["secret"], history, row["rejected"], player, table, config.prompt_style
            )
        )
    return rows


def _trace_row(
    prompt: list[dict[str, str]],
    secret: str,
    history: History,
    rejected: Sequence[str],
    player: Callable[[History], str],
    table: PatternTable,
    prompt_style: str,
) -> dict[str, Any]:
    """A prompt/completion row whose completion is ``player``'s answer to the state, as a trace
    in the answer format of ``prompt_style`` (the style ``prompt`` was built in)."""
    completion = trace(history, player(history), table, rejected, prompt_style)
    return {
        "prompt": prompt,
        "completion": [{"role": "assistant", "content": completion}],
        "secret": secret,
        "history": [entry.to_dict() for entry in history],
        "rejected": list(rejected),
    }


def own_game_secrets(games: int, seed: int = 0) -> list[str]:
    """Training answers for a model's own games: the held-out ones are never played in training."""
    secrets = answer_split()["train"]
    return [secrets[i] for i in shuffled_passes(len(secrets), games, np.random.default_rng([seed, 2]))]


def own_game_trace_rows(records: Sequence[GameRecord], prompt_style: str = "full") -> list[dict[str, Any]]:
    """Traces for the states a model reached in its own games (DAgger).

    A model that imitates traces drifts into states no scripted player reaches: its own odd
    guesses, its own rejected answer named in the prompt. The dataset's traces never show the way
    out of those; these do, for exactly the answers the model writes. The state before every turn
    of every game becomes a row, answered as the trace player would answer it.
    """
    table = training_table()
    choose = trace_player(table)
    return [
        _trace_row(
            state.messages(prompt_style), secret, state.history, state.rejected, choose, table, prompt_style
        )
        for secret, state in own_game_states(records)
    ]
