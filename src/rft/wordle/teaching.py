"""Wordle's tables for the notebooks, where a reader looks at what GRPO compares: answers to set
beside a model's, and an evaluation's games one line each. Pandas is imported only when a table is
made, as a notebook has it and the package does not need it."""

from __future__ import annotations

from typing import Any

import numpy as np

from rft.wordle.game import as_history
from rft.wordle.solver import random_valid_policy
from rft.wordle.traces import trace, trace_player


def reference_completions(row: dict[str, Any], seed: int = 0) -> dict[str, str]:
    """Wordle answers to compare the model's against: the solver's worked answer, a random
    allowed word in the right format, and a bare word with no tags."""
    history = as_history(row["history"])
    solver_guess = trace_player()(history)  # the warm-up's own player: never a held-out answer
    random_guess = random_valid_policy(history, np.random.default_rng(seed))
    return {
        "solver": trace(history, solver_guess),
        "random word": f"<think>\nAny word will do.\n</think>\n<guess>{random_guess.upper()}</guess>",
        "no tags": random_guess,
    }


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
