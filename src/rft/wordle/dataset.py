"""The GRPO training set, built offline: each row is a game in progress and the model's next move.

A row holds a secret from the answer list, a history of 0–5 earlier guesses played by one of the
history players (the solver, a random consistent player or a random valid player), and the chat
prompt that shows that history. A share of rows (``rejected_share``) also names one or two turns
the game turned down since the last guess, the way :func:`rft.wordle.play.play_games` shows them,
so a model learns to recover from its own misses instead of repeating them. Nothing is downloaded,
the same seed gives the same rows, and the answers are split once and for all: test answers never
appear in a training row.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from rft.checks import check_integer
from rft.wordle.game import MAX_GUESSES, Game, GuessWithFeedback, History, as_history
from rft.wordle.play import GameRecord, GameState, states_met
from rft.wordle.prompts import PROMPT_STYLES
from rft.wordle.solver import (
    EntropySolver,
    Policy,
    default_table,
    random_consistent_policy,
    random_valid_policy,
)
from rft.wordle.words import ALPHABET, WORD_LENGTH, answer_words, is_allowed, validate_word

TEST_ANSWER_COUNT = 315  # 2,000 answers to train on, 315 held out for evaluation
_SPLIT_SALT = "rft-wordle-split-v1"  # changing it would change which answers are held out
SPLITS = ("train", "test")
# The scripted players whose games write the rows' histories (not the model being trained).
HISTORY_PLAYERS = ("solver", "random-consistent", "random-valid")
MAX_REJECTED = 2  # lost turns a row names at most; two shows a repeated miss


@cache
def answer_split() -> dict[str, tuple[str, ...]]:
    """The fixed train/test split of Wordle's answers, by a salted hash of each word.

    A hash, not a shuffle, so the split never depends on a seed, a library version or the order
    of the list: every run, notebook and evaluation agrees on which answers are held out.
    """
    ranked = sorted(answer_words(), key=lambda w: hashlib.sha256(f"{_SPLIT_SALT}:{w}".encode()).hexdigest())
    return {
        "test": tuple(sorted(ranked[:TEST_ANSWER_COUNT])),
        "train": tuple(sorted(ranked[TEST_ANSWER_COUNT:])),
    }


@dataclass(frozen=True)
class WordleDatasetConfig:
    """Which game states to build. Every field is checked here, before any work starts.

    The seed is not among them: it is the run's (the trainer's, the own games', the evaluation's),
    so the builders take it beside the config.
    """

    num_rows: int = 1000
    split: str = "train"
    # Which scripted players write the histories, and how often (relative weights); a list of
    # names weighs them alike.
    history_players: Mapping[str, float] = field(default_factory=lambda: dict.fromkeys(HISTORY_PLAYERS, 1.0))
    # Earlier guesses a row's game has played: drawn uniformly from min_history..max_history. A
    # minimum of 1 leaves out the empty board, where every completion of a group opens with the
    # same word and GRPO learns nothing.
    min_history: int = 0
    max_history: int = MAX_GUESSES - 1
    # "compact" drops the worked example (fewer tokens for CPU runs); "short" asks for the guess
    # tag alone, for models too small to reason in words (rft.wordle.prompts).
    prompt_style: str = "full"
    rejected_share: float = 0.0  # share of rows whose prompt names turns the game turned down

    def __post_init__(self) -> None:
        check_integer("num_rows", self.num_rows, minimum=1)
        if self.split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {self.split!r}")
        object.__setattr__(self, "history_players", _player_weights(self.history_players))
        if not 0 <= self.min_history <= self.max_history <= MAX_GUESSES - 1:
            raise ValueError(
                f"need 0 <= min_history <= max_history <= {MAX_GUESSES - 1}, "
                f"got min_history={self.min_history}, max_history={self.max_history}"
            )
        if self.prompt_style not in PROMPT_STYLES:
            raise ValueError(f"prompt_style must be one of {PROMPT_STYLES}, got {self.prompt_style!r}")
        if isinstance(self.rejected_share, bool) or not (
            isinstance(self.rejected_share, (int, float)) and 0.0 <= self.rejected_share <= 1.0
        ):
            raise ValueError(f"rejected_share must be a number in [0, 1], got {self.rejected_share!r}")


def _player_weights(players: Mapping[str, float] | Iterable[str]) -> dict[str, float]:
    """``history_players`` as name → weight, every name known and the weights a distribution."""
    if isinstance(players, str):
        players = [players]
    weights = dict(players) if isinstance(players, Mapping) else dict.fromkeys(players, 1.0)
    if not weights:
        raise ValueError(f"history_players must name at least one of {HISTORY_PLAYERS}")
    for name, weight in weights.items():
        if name not in HISTORY_PLAYERS:
            raise ValueError(f"unknown player {name!r} in history_players; choose from {HISTORY_PLAYERS}")
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not weight >= 0:
            raise ValueError(f"history_players: the weight of {name!r} must be a number >= 0, got {weight!r}")
    if not sum(weights.values()) > 0:
        raise ValueError(f"history_players: weights must not all be zero, got {weights}")
    return {name: float(weight) for name, weight in weights.items()}


def _history_player(name: str, solver: EntropySolver | None) -> Policy:
    if name == "solver" and solver is not None:
        return solver
    return {"random-consistent": random_consistent_policy, "random-valid": random_valid_policy}[name]


def shuffled_passes(population: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` indices into ``population`` items, in shuffled passes: every item is used once
    before any repeats."""
    passes = -(-count // population)
    return np.concatenate([rng.permutation(population) for _ in range(passes)])[:count]


def play_history(
    secret: str, policy: Policy, num_guesses: int, rng: np.random.Generator, at_least: int = 0
) -> History:
    """Up to ``num_guesses`` guesses by ``policy`` against ``secret``, stopping short of a win:
    a training row must leave the model something to do. The first ``at_least`` are played in any
    case: where the policy would win among them, a random allowed word stands in for its guess
    (rare: a random player drawing the secret), so ``min_history`` is a real minimum."""
    game = Game(secret)
    for _ in range(num_guesses):
        guess = policy(tuple(game.history), rng)
        while guess == game.secret and len(game.history) < at_least:
            guess = random_valid_policy(tuple(game.history), rng)
        if guess == game.secret:
            break
        game.guess(guess)
    return tuple(game.history)


def lost_turn_text(history: History, rng: np.random.Generator) -> str:
    """What a small model writes on a turn the game turns down, after the misses measured in its
    games: a word that fits the clues with a letter dropped or added, one letter changed into a
    word that is not in the list, or no guess tag at all ("")."""
    kind = int(rng.integers(4))
    if kind == 3:
        return ""
    table = default_table()
    candidates = table.candidates(history)
    word = table.answers[int(candidates[rng.integers(len(candidates))])] if len(candidates) else "crane"
    position = int(rng.integers(WORD_LENGTH))
    if kind == 0:
        return (word[:position] + word[position + 1 :]).upper()
    if kind == 1:
        return (word[:position] + ALPHABET[rng.integers(26)] + word[position:]).upper()
    for _ in range(100):
        made_up = word[:position] + ALPHABET[rng.integers(26)] + word[position + 1 :]
        if not is_allowed(made_up):
            return made_up.upper()
        position = int(rng.integers(WORD_LENGTH))
    return (word + word[-1]).upper()  # every one-letter change was a word: too long instead


def lost_turns(history: History, rng: np.random.Generator) -> tuple[str, ...]:
    """One or two lost turns since the last guess, always leaving a turn to play; the second
    repeats the first half the time, as a greedy model does when the prompt does not change."""
    room = MAX_GUESSES - 1 - len(history)
    count = min(room, MAX_REJECTED, 1 + int(rng.random() < 1 / 3))
    texts: list[str] = []
    for _ in range(count):
        repeat = bool(texts) and rng.random() < 0.5
        texts.append(texts[-1] if repeat else lost_turn_text(history, rng))
    return tuple(texts)


def make_row(
    secret: str,
    history: History,
    history_player: str = "",
    prompt_style: str = "full",
    rejected: tuple[str, ...] = (),
    turns_left: int | None = None,
) -> dict[str, Any]:
    """One dataset row: the prompt the model sees and the game state the rewards score against.

    The prompt is the one a game in play shows in that state, lost turns counted: by default the
    ones in ``rejected``; a game that lost turns before its last guess passes ``turns_left``."""
    if turns_left is None:
        turns_left = MAX_GUESSES - len(history) - len(rejected)
    state = GameState(history, turns_left, rejected)
    return {
        "prompt": state.messages(prompt_style),
        "secret": secret,
        "history": [entry.to_dict() for entry in history],
        "rejected": list(rejected),
        "history_player": history_player,
        "num_candidates": len(default_table().candidates(history)),
        "prompt_style": prompt_style,  # the answer format the format reward pays for
    }


def build_rows(config: WordleDatasetConfig, seed: int = 0, progress: bool = True) -> list[dict[str, Any]]:
    """The rows of :func:`build_dataset` as plain dicts (JSON-serialisable)."""
    secrets = answer_split()[config.split]
    order = shuffled_passes(len(secrets), config.num_rows, np.random.default_rng(seed))
    players = tuple(config.history_players)
    weights = np.asarray(list(config.history_players.values())) / sum(config.history_players.values())
    solver = EntropySolver() if "solver" in players else None  # built only when a row may need it

    rows = []
    for index in tqdm(range(config.num_rows), desc="Wordle dataset", unit="row", disable=not progress):
        row_rng = np.random.default_rng([seed, index])  # each row reproducible on its own
        player = players[row_rng.choice(len(players), p=weights)]
        num_guesses = int(row_rng.integers(config.min_history, config.max_history + 1))
        secret = secrets[order[index]]
        history = play_history(
            secret, _history_player(player, solver), num_guesses, row_rng, config.min_history
        )
        rejected: tuple[str, ...] = ()
        if config.rejected_share > 0:
            lost_rng = np.random.default_rng([seed, index, 1])  # leaves the histories as they were
            if lost_rng.random() < config.rejected_share:
                rejected = lost_turns(history, lost_rng)
        rows.append(make_row(secret, history, player, config.prompt_style, rejected))
    return rows


def own_game_states(records: Iterable[GameRecord]) -> Iterator[tuple[str, GameState]]:
    """The secret and the state before every turn of a model's own games, as play showed them.
    Raises on a held-out answer: own games are training data, for SFT traces and GRPO rows alike."""
    training = set(answer_split()["train"])
    for record in records:
        if record.secret not in training:
            raise ValueError(f"{record.secret!r} is a held-out answer: own games are played on training ones")
        for state in states_met(record):
            yield record.secret, state


def own_game_rows(records: Iterable[GameRecord], prompt_style: str = "full") -> list[dict[str, Any]]:
    """GRPO rows for the states a model reached in games of its own, its lost turns named as it
    wrote them. The scripted histories and made-up rejected answers of :func:`build_rows` are rarely
    what a warmed-up model writes; here every group is sampled where the model really stands.
    """
    return [
        make_row(secret, state.history, "own-games", prompt_style, state.rejected, state.turns_left)
        for secret, state in own_game_states(records)
    ]


def _features() -> Any:
    from datasets import Features, Value

    return Features(
        {
            "prompt": [{"role": Value("string"), "content": Value("string")}],
            "secret": Value("string"),
            "history": [{"guess": Value("string"), "feedback": Value("string")}],
            "rejected": [Value("string")],
            "history_player": Value("string"),
            "num_candidates": Value("int32"),
            "prompt_style": Value("string"),
        }
    )


def build_dataset(
    config: WordleDatasetConfig | None = None, seed: int = 0, progress: bool = True, **overrides: Any
):
    """A ``datasets.Dataset`` of game states for GRPO; ``overrides`` set config fields by name,
    e.g. ``build_dataset(num_rows=256, seed=1)``."""
    from datasets import Dataset  # imported here: the rest of rft.wordle works without it

    if config is None:
        config = WordleDatasetConfig(**overrides)
    elif overrides:
        config = replace(config, **overrides)
    return Dataset.from_list(build_rows(config, seed, progress=progress), features=_features())


def check_rows(rows: Iterable[Mapping[str, Any]]) -> None:
    """Raise ``ValueError`` naming the first row that cannot be trained on: a missing column,
    a bad word, feedback the secret could not have produced, or a game already won."""
    for index, row in enumerate(rows):
        for column in ("prompt", "secret", "history"):
            if column not in row:
                raise ValueError(f"row {index}: missing column {column!r}")
        try:
            secret = validate_word(row["secret"])
            history = as_history(row["history"])
        except ValueError as error:
            raise ValueError(f"row {index}: {error}") from error
        for turn, entry in enumerate(history, start=1):
            if entry != GuessWithFeedback.score(entry.guess, secret):
                raise ValueError(
                    f"row {index}: guess {turn} ({entry.render()}) is not the feedback "
                    f"{entry.guess.upper()} gets when the secret is {secret.upper()}"
                )
        if any(entry.is_win for entry in history):
            raise ValueError(f"row {index}: the game is already won; nothing is left to guess")
        rejected = row.get("rejected") or []
        if isinstance(rejected, str) or not all(isinstance(text, str) for text in rejected):
            raise ValueError(f"row {index}: rejected must be a list of the texts the game turned down")
        for text in rejected:
            if is_allowed(text.strip()):
                raise ValueError(f"row {index}: rejected answer {text!r} is an allowed word; play accepts it")
        if len(history) + len(rejected) >= MAX_GUESSES:
            raise ValueError(
                f"row {index}: {len(history)} guesses and {len(rejected)} lost turns already played; "
                "no turn is left"
            )
