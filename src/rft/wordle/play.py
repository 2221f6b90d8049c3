"""Playing whole games with any policy: the solver and random baselines now, models later."""

from __future__ import annotations

import numpy as np

from rft.wordle.game import MAX_GUESSES, Game
from rft.wordle.solver import Policy


def play_game(policy: Policy, secret: str, rng: np.random.Generator, max_guesses: int = MAX_GUESSES) -> Game:
    """Play until the secret is found or the guesses run out; the finished game holds the history."""
    game = Game(secret, max_guesses=max_guesses)
    while not game.is_over:
        game.guess(policy(tuple(game.history), rng))
    return game
