"""The Wordle rewards, in the signature TRL's ``GRPOTrainer`` calls: format, feedback and guess value by
default, novelty on request, and for whole games (``rollout games``) the outcome, ``win``.

Each reward takes ``completions`` (plain strings or chat messages) plus the dataset's columns as
keyword arguments (``secret``, ``history``, ``prompt_style``: one entry per completion) and returns
one float per completion. Parsing is separate from scoring: :func:`parse_completion` reads a
completion once, and every reward scores what it found.

Rewards are total over what a model writes: any text at all (empty, megabytes, unicode, tags
nested, missing or repeated) gets a float, never an exception. A missing or malformed dataset
column is a configuration error, not model output, and raises ``ValueError`` naming the column.

A whole-game rollout (:mod:`rft.wordle.conversation`) passes each game's fields instead of one
state's: ``game_turns`` (every turn's text with the history and turned-down answers it was written
after), ``won``, ``guesses``, ``cut``. The per-turn rewards then score every turn as they score a
single one and pay the game their mean; :func:`win_reward` pays the outcome.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from rft.reward_common import RewardFunction, choose_rewards, column, completion_text
from rft.wordle.game import (
    MAX_GUESSES,
    Check,
    Constraints,
    GuessWithFeedback,
    History,
    as_history,
    marks_from_code,
)
from rft.wordle.prompts import ANSWER_ONLY_STYLES, PROMPT_STYLES
from rft.wordle.solver import default_table
from rft.wordle.words import ALPHABET, WORD_LENGTH, is_allowed

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
GUESS_OPEN, GUESS_CLOSE = "<guess>", "</guess>"
_TAGS = (THINK_OPEN, THINK_CLOSE, GUESS_OPEN, GUESS_CLOSE)

# ---------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedCompletion:
    """What a completion contains, as far as the rewards care."""

    exact_shape: bool  # <think>reasoning</think> then <guess>…</guess>, each once, nothing else
    tag_only: bool  # <guess>…</guess> once and nothing else: the short style's whole answer
    has_think: bool  # a closed <think>…</think> block somewhere
    guess_block: str | None  # stripped content of the last <guess>…</guess>, if any
    word: str | None  # that content in lowercase, when it is five ASCII letters

    @property
    def rejected_text(self) -> str:
        """How this answer is named once the game turns it down (in the next prompt, by ``rft
        play``, and when it is written again): what its guess tags held, or "" when it had none."""
        return self.guess_block or ""


def parse_completion(completion: Any) -> ParsedCompletion:
    """Read a completion in linear time whatever it holds (no regex that could backtrack)."""
    text = completion_text(completion)
    close = text.rfind(GUESS_CLOSE)
    start = text.rfind(GUESS_OPEN, 0, close) if close != -1 else -1
    guess_block = text[start + len(GUESS_OPEN) : close].strip() if start != -1 else None
    word = None
    if guess_block is not None and len(guess_block) == WORD_LENGTH:
        lowered = guess_block.lower()
        if all(c in ALPHABET for c in lowered):
            word = lowered

    think_open = text.find(THINK_OPEN)
    has_think = think_open != -1 and text.find(THINK_CLOSE, think_open) != -1

    exact_shape = tag_only = False
    stripped = text.strip()
    if guess_block is not None and stripped.endswith(GUESS_CLOSE):
        counts = {tag: stripped.count(tag) for tag in _TAGS}
        if stripped.startswith(THINK_OPEN) and all(count == 1 for count in counts.values()):
            reasoning, _, rest = stripped[len(THINK_OPEN) :].partition(THINK_CLOSE)
            exact_shape = bool(reasoning.strip()) and rest.lstrip().startswith(GUESS_OPEN)
        tag_only = stripped.startswith(GUESS_OPEN) and counts == {
            THINK_OPEN: 0,
            THINK_CLOSE: 0,
            GUESS_OPEN: 1,
            GUESS_CLOSE: 1,
        }
    return ParsedCompletion(
        exact_shape=exact_shape, tag_only=tag_only, has_think=has_think, guess_block=guess_block, word=word
    )


# ---------------------------------------------------------------------------------------------
# Dataset columns
# ---------------------------------------------------------------------------------------------


def _column(name: str, values: Any, count: int) -> list[Any]:
    return column(name, values, count, "Wordle")


def _history_key(entries: Any) -> tuple[tuple[str, int], ...]:
    """One row's history in hashable form, so the work per game state is done once per batch."""
    return tuple((entry.guess, entry.code) for entry in as_history(entries))


def _history_from_key(key: tuple[tuple[str, int], ...]) -> History:
    return tuple(GuessWithFeedback(guess, marks_from_code(code)) for guess, code in key)


@lru_cache(maxsize=4096)
def _checks_for(key: tuple[tuple[str, int], ...]) -> tuple[Check, ...]:
    return tuple(Constraints.from_history(_history_from_key(key)).checks())


@lru_cache(maxsize=4096)
def _candidates_for(key: tuple[tuple[str, int], ...]) -> np.ndarray:
    return default_table().candidates(_history_from_key(key))


# ---------------------------------------------------------------------------------------------
# The rewards
# ---------------------------------------------------------------------------------------------

NO_HISTORY_FEEDBACK_REWARD = 0.1


def _prompt_styles(prompt_style: Any, count: int) -> list[str]:
    """The ``prompt_style`` column, one known style per completion; "full" for data without one
    (rows built before the column, a single text judged outside a dataset)."""
    if prompt_style is None:
        return ["full"] * count
    styles = _column("prompt_style", prompt_style, count)
    for style in styles:
        if style not in PROMPT_STYLES:
            raise ValueError(f"column 'prompt_style' holds {style!r:.60}, not one of {PROMPT_STYLES}")
    return styles


def answer_as_asked(parsed: ParsedCompletion, prompt_style: str = "full") -> bool:
    """The answer has exactly the shape its prompt style asks for: the guess tag alone in the
    ``short`` style, ``<think>reasoning</think>`` then the guess tag in the others."""
    return parsed.tag_only if prompt_style in ANSWER_ONLY_STYLES else parsed.exact_shape


def format_reward(
    completions: Sequence[Any], prompt_style: Sequence[Any] | None = None, **kwargs: Any
) -> list[float]:
    """Pays for the answer format the system prompt asks for, in each row's ``prompt_style``
    (a dataset column; "full" without one).

    Scale, in two parts that add up:
    - structure: 0.5 for exactly the shape the style asks for (:func:`answer_as_asked`): in the
      ``full`` and ``compact`` styles ``<think>reasoning</think>`` then ``<guess>…</guess>``, each
      tag once, reasoning not empty, nothing after; in the ``short`` style ``<guess>…</guess>`` and
      nothing else. 0.25 if a ``<guess>…</guess>`` block is there but the shape is not exact (a
      ``<think>`` block is the wrong shape in the short style). With no guess block, 0.125 for a
      closed ``<think>`` block in the styles that ask for one, else 0.0.
    - the guess (last guess block): +0.25 if it is five letters, +0.25 more if Wordle allows it.
    So 1.0 = exact shape with an allowed word; 0.75 = exact shape with a five-letter non-word;
    0.5 = exact shape with anything else; 0.0 = nothing usable.
    """
    scores = []
    for completion, style in zip(completions, _prompt_styles(prompt_style, len(completions))):
        parsed = parse_completion(completion)
        if parsed.guess_block is None:
            thinks = style not in ANSWER_ONLY_STYLES
            scores.append(0.125 if parsed.has_think and thinks else 0.0)
            continue
        score = 0.5 if answer_as_asked(parsed, style) else 0.25
        if parsed.word is not None:
            score += 0.25 + (0.25 if is_allowed(parsed.word) else 0.0)
        scores.append(score)
    return scores


def feedback_reward(
    completions: Sequence[Any], history: Sequence[Any] | None = None, **kwargs: Any
) -> list[float]:
    """Pays for using the feedback so far: the share of the history's clues the guess respects.

    The clues are :meth:`Constraints.checks`: greens kept in place, yellow letters used and moved
    to a new place, absent letters dropped, repeated-letter counts respected, each counted once.
    Scale: 1.0 when the guess is consistent with the whole history (it could be the secret);
    k/n when it respects k of the n clues; 0.1 for an allowed guess when there is no history yet
    (nothing to respect); 0.0 when the guess block holds no word Wordle allows. A made-up word
    earns nothing here: paying for clues kept by any five letters taught a 135M model to invent
    words that fit them (DICE, LALZE) instead of finding real ones (benchmarks/cpu_learning.py).
    A word already guessed earns nothing either: it keeps most clues (all but its own) and is always
    allowed, so partial credit for it taught GRPO to replay earlier guesses, a turn wasted for sure.
    """
    histories = _column("history", history, len(completions))
    scores = []
    for completion, entries in zip(completions, histories):
        word = parse_completion(completion).word
        key = _history_key(entries)
        checks = _checks_for(key)
        if word is None or not is_allowed(word) or any(word == guess for guess, _ in key):
            scores.append(0.0)
        elif not checks:
            scores.append(NO_HISTORY_FEEDBACK_REWARD)
        else:
            scores.append(sum(check.holds_for(word) for check in checks) / len(checks))
    return scores


def guess_value_reward(
    completions: Sequence[Any],
    secret: Sequence[str] | None = None,
    history: Sequence[Any] | None = None,
    **kwargs: Any,
) -> list[float]:
    """Pays for a guess that narrows the search: expected information over the answers still possible.

    Scale: 1.0 for the secret itself; otherwise the expected information of the guess (bits) over
    the n answers consistent with the history, divided by log2(n), the most any guess can give,
    so in [0, 1]; 0.0 with one answer left and the guess not it; 0.0 for a guess Wordle does not
    allow or no guess at all.
    """
    secrets = _column("secret", secret, len(completions))
    histories = _column("history", history, len(completions))
    table = default_table()
    scores = []
    for completion, answer, entries in zip(completions, secrets, histories):
        if not isinstance(answer, str):
            raise ValueError(f"column 'secret' holds {answer!r}, not a word")
        word = parse_completion(completion).word
        if word is None or not is_allowed(word):
            scores.append(0.0)
            continue
        if word == answer.lower():
            scores.append(1.0)
            continue
        candidates = _candidates_for(_history_key(entries))
        if len(candidates) <= 1:
            scores.append(0.0)
            continue
        share = table.information(word, candidates) / math.log2(len(candidates))
        scores.append(min(1.0, max(0.0, share)))  # float rounding can stray past either end
    return scores


def novelty_reward(
    completions: Sequence[Any],
    history: Sequence[Any] | None = None,
    rejected: Sequence[Any] | None = None,
    **kwargs: Any,
) -> list[float]:
    """Takes back what a surely wasted turn earns elsewhere: a word already guessed, or an answer the
    game just turned down written again.

    Both cost a turn and tell nothing new, yet a replayed word is always allowed, so the format
    reward pays it in full; a small model that cannot yet find a fresh word learns to replay one,
    and a greedy one writes a turned-down answer again (the habits ``game_metrics`` counts). At
    weight 0.25 beside format 1, a replay earns what a made-up word does.
    Scale: 1.0 for any other answer, 0.0 for a word in ``history`` or a guess-tag text in
    ``rejected`` (compared in lowercase, as play names them; "" stands for no guess tag). Only
    differences within a group matter to GRPO, so paying the rest 1.0 is the same as charging these.
    A dataset without a ``rejected`` column has no lost turns. Not among the default rewards: ask
    for it by name (``rewards=format=1,feedback=3,guess_value=0.5,novelty=0.25``).
    """
    histories = _column("history", history, len(completions))
    turned_down = (
        [[]] * len(completions) if rejected is None else _column("rejected", rejected, len(completions))
    )
    scores = []
    for completion, entries, texts in zip(completions, histories, turned_down):
        if isinstance(texts, (str, bytes)) or not isinstance(texts, Sequence):
            raise ValueError(f"column 'rejected' holds {texts!r:.200}, not a list of turned-down answers")
        parsed = parse_completion(completion)
        guessed = {guess for guess, _ in _history_key(entries)}
        again = parsed.rejected_text.lower() in {str(text).lower() for text in texts}
        scores.append(0.0 if again or parsed.word in guessed else 1.0)
    return scores


# ---------------------------------------------------------------------------------------------
# Whole games
# ---------------------------------------------------------------------------------------------


def _game_turns(value: Any) -> list[Mapping[str, Any]]:
    """One game's ``game_turns`` entry, or the configuration error that names the column."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise ValueError(f"column 'game_turns' holds {value!r:.200}, not a list of turns")
    for turn in value:
        if not isinstance(turn, Mapping) or not isinstance(turn.get("text"), str) or "history" not in turn:
            raise ValueError(f"column 'game_turns' holds a turn {turn!r:.200} without its text and history")
    return list(value)


def over_game_turns(reward: RewardFunction) -> RewardFunction:
    """``reward`` for whole games as well as single states: with a ``game_turns`` column, each game
    is paid the mean of what ``reward`` pays its turns (each scored against the history it was
    written after); without one, ``reward`` itself. A game with no turn (cut before its first
    answer) gets 0.0."""

    @functools.wraps(reward)
    def scored(
        completions: Sequence[Any], game_turns: Sequence[Any] | None = None, **kwargs: Any
    ) -> list[float]:
        if game_turns is None:
            return reward(completions, **kwargs)
        games = _column("game_turns", game_turns, len(completions))
        secrets = _column("secret", kwargs.get("secret"), len(completions))
        styles = _prompt_styles(kwargs.get("prompt_style"), len(completions))
        scores = []
        for turns, answer, style in zip(games, secrets, styles):
            turns = _game_turns(turns)
            if not turns:
                scores.append(0.0)
                continue
            values = reward(
                [turn["text"] for turn in turns],
                secret=[answer] * len(turns),
                history=[turn["history"] for turn in turns],
                rejected=[list(turn.get("rejected") or ()) for turn in turns],
                prompt_style=[style] * len(turns),
            )
            scores.append(float(sum(values)) / len(values))
        return scores

    return scored


def win_reward(
    completions: Sequence[Any],
    won: Sequence[Any] | None = None,
    guesses: Sequence[Any] | None = None,
    **kwargs: Any,
) -> list[float]:
    """Pays a whole game's outcome: a win, more for fewer guesses.

    Scale: 1.0 for a win at the first guess down to 0.5 for a win at the sixth (``guesses`` counts
    every turn of the game, the ones before its start state and the lost ones too); 0.0 for a
    game lost, or cut by its token budget. Needs the game fields of a whole-game rollout."""
    if won is None or guesses is None:
        raise ValueError("the win reward needs whole games (rollout games): no 'won'/'guesses' columns")
    outcomes = _column("won", won, len(completions))
    counts = _column("guesses", guesses, len(completions))
    scores = []
    for outcome, count in zip(outcomes, counts):
        if not isinstance(outcome, bool) or isinstance(count, bool) or not isinstance(count, int):
            raise ValueError(f"columns 'won'/'guesses' hold {outcome!r}/{count!r}, not a bool and a count")
        if not outcome:
            scores.append(0.0)
            continue
        spent = min(max(count, 1), MAX_GUESSES)
        scores.append(1.0 - 0.5 * (spent - 1) / (MAX_GUESSES - 1))
    return scores


# ---------------------------------------------------------------------------------------------
# Choosing rewards by name
# ---------------------------------------------------------------------------------------------

# Each per-turn reward scores a single state, or a whole game's turns (their mean).
REWARD_FUNCTIONS: dict[str, RewardFunction] = {
    "format": over_game_turns(format_reward),
    "feedback": over_game_turns(feedback_reward),
    "guess_value": over_game_turns(guess_value_reward),
    "novelty": over_game_turns(novelty_reward),
    "win": win_reward,
}
# Rewards that only a whole game can be paid.
GAME_ONLY_REWARDS = frozenset({"win"})

DEFAULT_REWARD_WEIGHTS: dict[str, float] = {"format": 1.0, "feedback": 1.0, "guess_value": 1.0}


def select_rewards(weights: Mapping[str, float] | None = None) -> tuple[list[RewardFunction], list[float]]:
    """The Wordle rewards named in ``weights`` (format, feedback and guess value, equally weighted,
    by default)."""
    return choose_rewards(DEFAULT_REWARD_WEIGHTS if weights is None else weights, REWARD_FUNCTIONS)
