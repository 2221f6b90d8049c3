"""How good and how fast the entropy solver baseline is, over all 2,315 answers.

Targets: mean guesses <= 3.47 (the proven optimum is 3.4212) and <= 10 s for all games once the
pattern matrix exists; the matrix build is timed on its own. Writes results/solver.json.
"""

from __future__ import annotations

import time

import numpy as np
from _results import write

from rft.wordle.play import play_game
from rft.wordle.solver import EntropySolver, PatternTable
from rft.wordle.words import allowed_words, answer_words

TARGET_MEAN_GUESSES = 3.47
TARGET_SECONDS = 10.0


def solve_all(solver: EntropySolver) -> dict:
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    games = [play_game(solver, secret, rng) for secret in answer_words()]
    seconds = time.perf_counter() - start
    lengths = np.array([len(game.history) for game in games])
    wins = np.array([game.is_won for game in games])
    return {
        "games": len(games),
        "wins": int(wins.sum()),
        "mean_guesses": round(float(lengths[wins].mean()), 4),
        "guess_distribution": {str(k): int((lengths[wins] == k).sum()) for k in range(1, 7)},
        "losses": int((~wins).sum()),
        "seconds": round(seconds, 2),
    }


def main() -> None:
    start = time.perf_counter()
    table = PatternTable.build(allowed_words(), answer_words(), progress=False)
    build_seconds = time.perf_counter() - start

    normal = solve_all(EntropySolver(table))
    hard = solve_all(EntropySolver(table, hard_mode=True))
    write(
        "solver",
        parent=None,
        changes="none (baseline: the entropy solver on all 2,315 answers)",
        figures={
            "pattern_matrix": {"shape": list(table.codes.shape), "build_seconds": round(build_seconds, 2)},
            "normal_mode": normal,
            "hard_mode": hard,
            "targets": {
                "mean_guesses": TARGET_MEAN_GUESSES,
                "seconds": TARGET_SECONDS,
                "met": normal["mean_guesses"] <= TARGET_MEAN_GUESSES and normal["seconds"] <= TARGET_SECONDS,
            },
            "optimum_mean_guesses": 3.4212,
        },
    )


if __name__ == "__main__":
    main()
