"""Worked answers for a supervised warm-up: for a game state, a short reasoning that is true for
that state, then the solver's guess, in exactly the format ``format_reward`` pays for.

Small models barely move under GRPO alone: they rarely produce a well-formed answer, so every
completion in a group scores the same and the advantage is zero. A few dozen steps of supervised
fine-tuning on these traces teach the format and the habit of reading the clues; GRPO then has
differences to learn from. The reasoning is generated from the state, never typed, so it can't
state something false; a test re-derives every claim.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rft.wordle.dataset import WordleDatasetConfig, build_rows
from rft.wordle.game import History, as_history, is_consistent
from rft.wordle.prompts import describe_clues
from rft.wordle.solver import EntropySolver, PatternTable, default_table

EXAMPLES_SHOWN = 3  # how many remaining answers a trace names


def reasoning(history: History, guess: str, table: PatternTable) -> str:
    """The sentences inside ``<think>``: the clues, what they leave, and why this guess."""
    candidates = table.candidates(history)
    n = len(candidates)
    groups = len(np.unique(table.row(guess)[candidates])) if n else 0
    shown = ", ".join(table.answers[i].upper() for i in candidates[:EXAMPLES_SHOWN])
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


def trace(history: History, guess: str, table: PatternTable | None = None) -> str:
    """A complete answer: reasoning in ``<think>``, then the guess in ``<guess>``."""
    table = table or default_table()
    return f"<think>\n{reasoning(history, guess, table)}\n</think>\n<guess>{guess.upper()}</guess>"


def build_trace_rows(config: WordleDatasetConfig, progress: bool = True) -> list[dict[str, Any]]:
    """Prompt/completion rows for TRL's SFTTrainer (loss on the completion only), from the same
    game states as the GRPO dataset: training answers only, deterministic for a seed.

    The guess is the hard-mode solver's: always consistent with the clues, so the warm-up never
    teaches ignoring them.
    """
    if config.split != "train":
        raise ValueError("traces are for training; build them from the 'train' split only")
    table = default_table()
    solver = EntropySolver(table, hard_mode=True)
    rows = []
    for row in build_rows(config, progress=progress):
        history = as_history(row["history"])
        guess = solver(history)
        rows.append(
            {
                "prompt": row["prompt"],
                "completion": [{"role": "assistant", "content": trace(history, guess, table)}],
                "secret": row["secret"],
                "history": row["history"],
            }
        )
    return rows
