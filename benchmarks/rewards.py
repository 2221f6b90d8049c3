"""Throughput of each reward, in completions per second, on completions like those GRPO scores.

The stream mirrors training: 1,024 game states from the offline dataset, 8 completions each (a
mix of well-formed answers, consistent and inconsistent words, non-words and broken formats),
scored one group at a time as GRPOTrainer does; every group is a new game state, so the
per-state caches help within a group only, as in training. Targets: >= 10,000/s for
format, feedback and novelty, >= 2,000/s for guess value. ``win`` scores whole games only (it reads
the game's outcome, not a completion) and is not timed. Writes results/rewards.json.
"""

from __future__ import annotations

import time

import numpy as np
from _results import write

from rft.wordle import rewards
from rft.wordle.dataset import WordleDatasetConfig, build_rows
from rft.wordle.game import as_history
from rft.wordle.solver import default_table
from rft.wordle.words import allowed_words

TARGETS = {"format": 10_000, "feedback": 10_000, "guess_value": 2_000, "novelty": 10_000}
GROUPS, GROUP_SIZE = 1024, 8


def completion(rng: np.random.Generator, row: dict) -> str:
    table = default_table()
    candidates = table.candidates(as_history(row["history"]))
    kind = rng.integers(6)
    if kind == 0:
        word = table.answers[int(rng.choice(candidates))]  # a consistent answer
    elif kind in (1, 2):
        word = allowed_words()[int(rng.integers(len(allowed_words())))]
    elif kind == 3:
        word = "".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz"), 5))  # a non-word
    elif kind == 4:
        return "I would guess " + table.answers[int(rng.choice(candidates))]  # no tags
    else:
        return "<think>too long</think><guess>" + "words" * 3 + "</guess>"
    reasoning = "The clues so far rule out several letters; " * int(rng.integers(1, 6))
    return f"<think>\n{reasoning}\n</think>\n<guess>{word}</guess>"


def measure(groups_count: int = GROUPS) -> dict[str, dict]:
    """Completions a second of each single-turn reward over ``groups_count`` groups."""
    rows = build_rows(WordleDatasetConfig(num_rows=groups_count), seed=11, progress=False)
    rng = np.random.default_rng(0)
    groups = [
        (
            [completion(rng, row) for _ in range(GROUP_SIZE)],
            [row["secret"]] * GROUP_SIZE,
            [row["history"]] * GROUP_SIZE,
        )
        for row in rows
    ]
    default_table()  # loaded before timing, as training does before its first step
    figures = {}
    for name, reward in rewards.REWARD_FUNCTIONS.items():
        if name in rewards.GAME_ONLY_REWARDS:
            continue
        rewards._checks_for.cache_clear()
        rewards._candidates_for.cache_clear()
        start = time.perf_counter()
        for completions, secrets, histories in groups:
            reward(completions, secret=secrets, history=histories)
        seconds = time.perf_counter() - start
        scored = len(groups) * GROUP_SIZE
        figures[name] = {
            "completions": scored,
            "seconds": round(seconds, 3),
            "completions_per_second": round(scored / seconds),
            "target_per_second": TARGETS[name],
            "met": scored / seconds >= TARGETS[name],
        }
    return figures


def main() -> None:
    write(
        "rewards",
        {"group_size": GROUP_SIZE, "groups": GROUPS, "rewards": measure()},
        parent=None,
        changes="none (baseline: reward throughput)",
    )


if __name__ == "__main__":
    main()
