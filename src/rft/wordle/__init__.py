"""Wordle: the game, its word lists, a solver baseline, prompts, rewards and the offline dataset.

Importing this package loads no model and reads no file; word lists and the pattern matrix are
read on first use.
"""

from rft.wordle.dataset import WordleDatasetConfig, answer_split, build_dataset, check_rows
from rft.wordle.game import (
    ASCII_SYMBOLS,
    UNICODE_SYMBOLS,
    Constraints,
    Game,
    GuessWithFeedback,
    Mark,
    feedback,
    is_consistent,
)
from rft.wordle.play import play_game
from rft.wordle.prompts import build_messages, system_prompt, user_prompt
from rft.wordle.rewards import (
    DEFAULT_REWARD_WEIGHTS,
    REWARD_FUNCTIONS,
    feedback_reward,
    format_reward,
    guess_value_reward,
    novelty_reward,
    select_rewards,
)
from rft.wordle.solver import EntropySolver, PatternTable, default_table
from rft.wordle.words import allowed_words, answer_words, is_allowed, validate_word

__all__ = [
    "ASCII_SYMBOLS",
    "DEFAULT_REWARD_WEIGHTS",
    "REWARD_FUNCTIONS",
    "UNICODE_SYMBOLS",
    "Constraints",
    "EntropySolver",
    "Game",
    "GuessWithFeedback",
    "Mark",
    "PatternTable",
    "WordleDatasetConfig",
    "allowed_words",
    "answer_split",
    "answer_words",
    "build_dataset",
    "build_messages",
    "check_rows",
    "default_table",
    "feedback",
    "feedback_reward",
    "format_reward",
    "guess_value_reward",
    "is_allowed",
    "is_consistent",
    "novelty_reward",
    "play_game",
    "select_rewards",
    "system_prompt",
    "user_prompt",
    "validate_word",
]
