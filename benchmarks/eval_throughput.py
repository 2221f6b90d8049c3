"""Games per second for the CPU model: every game's turn in one generate call, against one game
at a time. Same secrets, greedy decoding, so both play exactly the same games.

Target: batching at least 3× faster. Writes results/eval_throughput.json.
"""

from __future__ import annotations

import time

from _results import write

from rft.models import load_models
from rft.wordle.held_out_games import ModelPlayer, held_out_secrets
from rft.wordle.play import game_metrics, play_games

GAMES, MAX_NEW_TOKENS = 12, 32


def main() -> None:
    (loaded,) = load_models("cpu-smollm2-wordle")
    secrets = held_out_secrets(GAMES, seed=0)
    figures = {}
    records = {}
    for name, batch_size in (("batched", GAMES), ("one_at_a_time", 1)):
        player = ModelPlayer(
            loaded.model, loaded.tokenizer, loaded.prompt_style, MAX_NEW_TOKENS, batch_size=batch_size
        )
        start = time.perf_counter()
        records[name] = play_games(player, secrets)
        seconds = time.perf_counter() - start
        figures[name] = {
            "batch_size": batch_size,
            "seconds": round(seconds, 2),
            "games_per_second": round(GAMES / seconds, 4),
            "turns": game_metrics(records[name])["turns"],
        }
    same = [[t.text for t in g.turns] for g in records["batched"]] == [
        [t.text for t in g.turns] for g in records["one_at_a_time"]
    ]
    speedup = figures["batched"]["games_per_second"] / figures["one_at_a_time"]["games_per_second"]
    write(
        "eval_throughput",
        parent=None,
        changes="none (batched games against one at a time, both in this file)",
        figures={
            "model": "cpu-smollm2-wordle (SmolLM2-135M-Instruct, base)",
            "games": GAMES,
            "max_new_tokens": MAX_NEW_TOKENS,
            **figures,
            "identical_games": same,
            "speedup": round(speedup, 2),
            "target_speedup": 3.0,
            "met": speedup >= 3.0,
        },
    )


if __name__ == "__main__":
    main()
