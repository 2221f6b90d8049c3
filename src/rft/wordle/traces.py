"""Worked answers for a supervised warm-up: for a game state, a short reasoning that is true for
that state, then the solver's guess, in exactly the format ``format_reward`` pays for.

Small models barely move under GRPO alone: they rarely produce a well-formed answer, so every
completion in a group scores the same and the advantage is zero. A few dozen steps of supervised
fine-tuning on these traces teach the format and the habit of reading the clues; GRPO then has
differences to learn from. The reasoning is generated from the state, never typed, so it can't
state something false; a test re-derives every claim.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rft.wordle.dataset import WordleDatasetConfig, build_rows
from rft.wordle.game import History, as_history, is_consistent
from rft.wordle.prompts import describe_clues
from rft.wordle.solver import EntropySolver, PatternTable, default_table
from rft.wordle.words import WORD_LENGTH, is_allowed

EXAMPLES_SHOWN = 3  # how many remaining answers a trace names


def why_rejected(text: str) -> str:
    """Why the game turned an answer down, in one sentence a test can check against the text."""
    if not text:
        return "A turn was lost to an answer with no guess tag."
    shown = text.upper()
    if not text.isalpha():
        return f"{shown} was not accepted: it is not a {WORD_LENGTH}-letter word."
    if len(text) != WORD_LENGTH:
        return f"{shown} was not accepted: it has {len(text)} letters, not {WORD_LENGTH}."
    if not is_allowed(text):
        return f"{shown} was not accepted: it is not in the word list."
    raise ValueError(f"{shown} is an allowed word; the game would have accepted it")


def course_change(
    history: History, rejected: Sequence[str], table: PatternTable
) -> tuple[tuple[int, str], ...]:
    """After lost turns, one letter of each rejected answer that the next guess will not repeat:
    its first letter (position, letter; 0-based) that some answer still possible does not share.

    A greedy model that botched a word writes the same botched word again while its prompt barely
    changes: measured, on 84% of lost turns. Naming a letter to change, usually the first, sends
    the next answer down another path from its first token. Rules are chosen in turn, each
    leaving at least one possible answer."""
    words = [table.answers[i] for i in table.candidates(history)]
    avoid: list[tuple[int, str]] = []
    for text in dict.fromkeys(text.strip().lower() for text in rejected):
        for position, letter in enumerate(text[:WORD_LENGTH]):
            rule = (position, letter)
            if (
                "a" <= letter <= "z"
                and rule not in avoid
                and any(all(word[p] != c for p, c in [*avoid, rule]) for word in words)
            ):
                avoid.append(rule)
                break
    return tuple(avoid)


def _avoiding(word: str, avoid: Sequence[tuple[int, str]]) -> bool:
    return all(word[position] != letter for position, letter in avoid)


def reasoning(
    history: History,
    guess: str,
    table: PatternTable,
    rejected: Sequence[str] = (),
    avoid: Sequence[tuple[int, str]] = (),
) -> str:
    """The sentences inside ``<think>``: why lost turns were lost (each text once), which letters
    change this time (``avoid``, see :func:`course_change`), the clues, what they leave, and why
    this guess."""
    lost = [why_rejected(text.strip()) for text in dict.fromkeys(rejected)]
    if avoid:
        changes = " and ".join(f"letter {position + 1} is not {letter.upper()}" for position, letter in avoid)
        lost.append(f"So this time {changes}.")
    prefix = " ".join(lost) + " " if lost else ""
    return prefix + _clue_reasoning(history, guess, table, avoid)


def _clue_reasoning(
    history: History, guess: str, table: PatternTable, avoid: Sequence[tuple[int, str]]
) -> str:
    candidates = table.candidates(history)
    n = len(candidates)
    groups = len(np.unique(table.row(guess)[candidates])) if n else 0
    open_words = [table.answers[i].upper() for i in candidates if _avoiding(table.answers[i], avoid)]
    shown = ", ".join(open_words[:EXAMPLES_SHOWN])
    if not history:
        return (
            f"No clues yet, so any of the {n} answers is possible. "
            f"{guess.upper()} tries common letters and splits them into {groups} groups."
        )
    sentences = [f"Clues: {describe_clues(history)}"]
    if n == 1:
        sentences.append(f"Only one answer fits every clue: {shown}.")
    else:
        among = "namely" if len(open_words) == n <= EXAMPLES_SHOWN else "among them"
        sentences.append(f"{n} answers fit every clue, {among} {shown}.")
        fits = "fits every clue" if is_consistent(guess, history) else "breaks a clue but is worth the try"
        sentences.append(f"{guess.upper()} {fits} and splits them into {groups} groups.")
    return " ".join(sentences)


def trace(
    history: History,
    guess: str,
    table: PatternTable | None = None,
    rejected: Sequence[str] = (),
    avoid: Sequence[tuple[int, str]] = (),
) -> str:
    """A complete answer: reasoning in ``<think>``, then the guess in ``<guess>``."""
    table = table or default_table()
    thinking = reasoning(history, guess, table, rejected, avoid)
    return f"<think>\n{thinking}\n</think>\n<guess>{guess.upper()}</guess>"


def build_trace_rows(config: WordleDatasetConfig, progress: bool = True) -> list[dict[str, Any]]:
    """Prompt/completion rows for TRL's SFTTrainer (loss on the completion only), from the same
    game states as the GRPO dataset: training answers only, deterministic for a seed.

    The guess is the hard-mode solver's: always consistent with the clues, so the warm-up never
    teaches ignoring them. After lost turns (``rejected_share``: botched spellings of the solver's
    own word, the miss a model imitating it makes) the answer says why each was lost, names a
    letter to change (:func:`course_change`) and plays the solver's best word without it: the
    way out of a repeated miss.
    """
    if config.split != "train":
        raise ValueError("traces are for training; build them from the 'train' split only")
    table = default_table()
    solver = EntropySolver(table, hard_mode=True)
    rows = []
    for row in build_rows(config, progress=progress):
        history = as_history(row["history"])
        avoid = course_change(history, row["rejected"], table)
        guess = solver.best_guess(history, avoid)
        answer = trace(history, guess, table, row["rejected"], avoid)
        rows.append(
            {
                "prompt": row["prompt"],
                "completion": [{"role": "assistant", "content": answer}],
                "secret": row["secret"],
                "history": row["history"],
                "rejected": row["rejected"],
            }
        )
    return rows
