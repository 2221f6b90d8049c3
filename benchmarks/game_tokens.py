"""What a whole game costs in tokens, and the budget (``max_game_tokens``) that holds six turns.

A whole-game completion (``--rollout games``) is every answer of the game and the game's reply
after each one but the last, all after the first prompt. This measures the replies, as the chat
player appends them (``rft.wordle.conversation.ConversationPlayer``: the template's turn markup
included), both ways:

- ``before``: each reply repeated the whole board (the single-turn prompt of the new state);
- ``after``: each reply carries what is new (``rft.wordle.prompts.game_reply``).

The games are random-valid games (about six turns each, and many clues: the longest replies) and
the solver's, on held-out-size samples of the answer list, with no lost turns (a lost turn's reply
is shorter than a guess's). The answers are counted at their cap, the preset's
``max_completion_length``: a turn starts only with that whole room (no turn is squeezed), so six
turns always fit a game when ``max_game_tokens`` >= six caps + the longest five replies seen.

    python benchmarks/game_tokens.py     # a few seconds; results/game_tokens.json

SmolLM2-135M's tokenizer (the embedded model's; the CPU presets) for both prompt styles. The
Qwen 2.5 tokenizer is not measured here (its weights come as a 491 MB download); the Qwen T4
preset's budget uses SmolLM2's count of the full style, checked by ``rft preflight`` on a T4.
"""

from __future__ import annotations

import argparse
import math
import statistics
from typing import Any

import numpy as np
from _results import write

from rft.training.policy import EMBEDDED_MODEL_ID, model_path
from rft.training.presets import get_preset
from rft.wordle.conversation import ChatJoint
from rft.wordle.game import MAX_GUESSES
from rft.wordle.play import GameRecord, Turn, play_game, states_met
from rft.wordle.solver import EntropySolver, random_valid_policy
from rft.wordle.words import answer_words

PRESETS = {"compact": "cpu-smollm2-wordle-games", "full": "t4-qwen2.5-3b-wordle-games"}


def games(count: int, seed: int) -> dict[str, list[GameRecord]]:
    """``count`` games each by the random-valid player and the solver, as records of accepted turns."""
    rng = np.random.default_rng(seed)
    secrets = rng.choice(answer_words(), size=count, replace=False)
    played: dict[str, list[GameRecord]] = {}
    for name, policy in (("random-valid", random_valid_policy), ("solver", EntropySolver())):
        records = []
        for secret in secrets:
            game = play_game(policy, str(secret), rng)
            turns = [Turn(f"<guess>{e.guess}</guess>", e.guess, e.guess, True, None) for e in game.history]
            records.append(GameRecord(str(secret), turns, game.history[-1].is_win))
        played[name] = records
    return played


def reply_tokens(tokenizer: Any, joint: ChatJoint, record: GameRecord, style: str) -> dict[str, list[int]]:
    """The tokens of each reply of a game (after every turn but the last), both ways."""
    later = states_met(record)[1:]  # the state before each turn after the first: the reply to the one before
    texts = {
        "before": [state.messages(style)[-1]["content"] for state in later],
        "after": [state.reply(style) for state in later],
    }
    return {
        way: [
            len(tokenizer(joint.before + text + joint.after, add_special_tokens=False)["input_ids"])
            for text in replies
        ]
        for way, replies in texts.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--games", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path(EMBEDDED_MODEL_ID))
    joint = ChatJoint.of(tokenizer)
    played = games(args.games, args.seed)
    figures: dict[str, Any] = {
        "tokenizer": "SmolLM2-135M-Instruct",
        "games_per_player": args.games,
        "styles": {},
    }
    for style, preset_name in PRESETS.items():
        cap = get_preset(preset_name).eval_max_new_tokens
        result: dict[str, Any] = {"preset": preset_name, "answer_cap": cap}
        for way in ("before", "after"):
            by_turn: list[list[int]] = [[] for _ in range(MAX_GUESSES - 1)]
            totals = []
            for records in played.values():
                for record in records:
                    counts = reply_tokens(tokenizer, joint, record, style)[way]
                    for index, count in enumerate(counts):
                        by_turn[index].append(count)
                    if len(counts) == MAX_GUESSES - 1:
                        totals.append(sum(counts))
            longest = max(totals)
            result[way] = {
                "reply_tokens_mean_by_turn": [round(statistics.mean(c), 1) for c in by_turn],
                "reply_tokens_max_by_turn": [max(c) for c in by_turn],
                "six_turn_games": len(totals),
                "replies_of_a_six_turn_game_mean": round(statistics.mean(totals), 1),
                "replies_of_a_six_turn_game_max": longest,
                # six answers at their cap and the longest five replies seen, rounded up to 16
                "six_turn_game_tokens_at_cap": MAX_GUESSES * cap + longest,
                "budget_for_six_turns": 16 * math.ceil((MAX_GUESSES * cap + longest) / 16),
            }
        figures["styles"][style] = result
    write(
        "game_tokens", figures, parent=None, changes="baseline: whole-board replies against news-only replies"
    )


if __name__ == "__main__":
    main()
