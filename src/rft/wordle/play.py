"""Playing whole games: any player, many games at once, and the numbers a reader can trust.

A player answers a batch of game states at once (a model generates for all of them in one call;
the baselines answer one by one). Each answer is text: a model's raw completion, or a baseline's
word in the same ``<guess>`` format, parsed by the same function the rewards use. An answer with
no guess, or a word Wordle does not accept, costs the turn and is recorded with its text; the
next state names what was turned down, so a model can try something else.

One loop, :func:`play_games`, plays every game the project plays: evaluation, a model's own games,
and whole-game GRPO rollouts (:mod:`rft.wordle.conversation`), which start from the dataset's
mid-game states and may be cut when their token budget runs out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np

from rft.stats import clustered_wilson_interval, wilson_interval
from rft.wordle.game import MAX_GUESSES, Game, GuessWithFeedback, History, is_consistent
from rft.wordle.prompts import build_messages, game_reply
from rft.wordle.rewards import format_reward, parse_completion
from rft.wordle.solver import Policy
from rft.wordle.words import is_allowed


@dataclass(frozen=True)
class GameState:
    """What a player sees: the feedback so far, how many turns are left, and what the game turned
    down since the last accepted guess (the guess tags' text; "" where there was no guess tag)."""

    history: History
    turns_left: int
    rejected: tuple[str, ...] = ()
    # Which of the games played together this state belongs to: a player that keeps one
    # conversation per game (rft.wordle.conversation) continues the right one. Bookkeeping, not
    # part of the state: two games in the same state are equal states.
    game: int = field(default=0, compare=False)

    def messages(self, style: str = "full") -> list[dict[str, str]]:
        """The chat a model is shown in this state. Training rows are built by the same call, so
        a state after lost turns reads the same in training as in play."""
        return build_messages(
            self.history,
            max_guesses=len(self.history) + self.turns_left,
            style=style,
            rejected=self.rejected,
        )

    def reply(self, style: str = "full") -> str:
        """What the game says on reaching this state from the one before, when a game is one chat
        (:func:`rft.wordle.prompts.game_reply`): the news, not the board again."""
        return game_reply(
            self.history,
            max_guesses=len(self.history) + self.turns_left,
            style=style,
            rejected=self.rejected,
        )


class Player(Protocol):
    """Answers each state with its text; None for a game the player cannot go on with (its token
    budget is spent): that game ends there, lost, and is recorded as cut."""

    def __call__(self, states: Sequence[GameState]) -> Sequence[str | None]: ...


def policy_player(policy: Policy, seed: int = 0) -> Player:
    """A baseline policy as a player; answers in the model's format so one parser serves all."""
    rng = np.random.default_rng(seed)
    name = getattr(policy, "__name__", type(policy).__name__)

    def play(states: Sequence[GameState]) -> list[str]:
        return [f"<think>\n{name}\n</think>\n<guess>{policy(state.history, rng)}</guess>" for state in states]

    return play


@dataclass
class Turn:
    text: str  # what the player wrote
    written: str | None  # the five-letter word in its last guess block, accepted or not
    guess: str | None  # the accepted word, or None when the turn was lost
    exact_format: bool  # format_reward would pay 1.0 in the player's prompt style
    consistent: bool | None  # fits all earlier feedback (None for the first guess or a lost turn)
    feedback: str | None = None  # e.g. "XGYXX", for accepted guesses


@dataclass
class GameRecord:
    secret: str
    turns: list[Turn] = field(default_factory=list)
    won: bool = False
    cut: bool = False  # ended by the player's token budget, not by the rules: counted as lost

    @property
    def guesses(self) -> int:
        return len(self.turns)

    def to_dict(self) -> dict[str, Any]:
        return {
            "secret": self.secret,
            "won": self.won,
            "guesses": self.guesses,
            "cut": self.cut,
            "turns": [asdict(t) for t in self.turns],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GameRecord:
        """A game saved by :meth:`to_dict` (an ``eval.json``), so its metrics can be recomputed."""
        turns = [Turn(**turn) for turn in data["turns"]]
        return cls(data["secret"], turns, bool(data["won"]), bool(data.get("cut", False)))


def play_game(policy: Policy, secret: str, rng: np.random.Generator, max_guesses: int = MAX_GUESSES) -> Game:
    """One game by a policy (no text, no lost turns): the fast path for the solver and datasets."""
    game = Game(secret, max_guesses=max_guesses)
    while not game.is_over:
        game.guess(policy(tuple(game.history), rng))
    return game


def play_games(
    player: Player,
    secrets: Sequence[str],
    max_guesses: int = MAX_GUESSES,
    progress: Callable[[int, int], None] | None = None,
    starts: Sequence[GameState] | None = None,
) -> list[GameRecord]:
    """Play one game per secret, all in step: each round asks the player about every game still
    running in a single call, so a model generates for the whole batch at once.

    ``starts``: the state each game begins in (a dataset's mid-game state: its history, turns left
    and turned-down answers), one per secret; by default an empty board. A record holds the turns
    played here, not the start's. A turn's format is judged by the style the player was prompted
    in (a model player's ``prompt_style``); a scripted player writes the full style's."""
    style = getattr(player, "prompt_style", "full")
    records = [GameRecord(secret) for secret in secrets]
    if starts is None:
        starts = [GameState((), max_guesses) for _ in secrets]
    if len(starts) != len(secrets):
        raise ValueError(f"{len(starts)} start states for {len(secrets)} secrets")
    histories: list[list[GuessWithFeedback]] = [list(start.history) for start in starts]
    rejected: list[list[str]] = [list(start.rejected) for start in starts]
    turns_left = [start.turns_left for start in starts]
    for round_number in range(max_guesses):
        running = [i for i, r in enumerate(records) if not (r.won or r.cut) and turns_left[i] > 0]
        if not running:
            break
        states = [GameState(tuple(histories[i]), turns_left[i], tuple(rejected[i]), game=i) for i in running]
        answers = player(states)
        if len(answers) != len(states):
            raise ValueError(f"the player answered {len(answers)} of {len(states)} game states")
        for i, text in zip(running, answers):
            if text is None:
                records[i].cut = True
                continue
            turn = _judge(text, records[i].secret, histories[i], style)
            records[i].turns.append(turn)
            turns_left[i] -= 1
            records[i].won = bool(histories[i]) and histories[i][-1].is_win
            if turn.guess is None:
                rejected[i].append(rejected_text(text))
            else:
                rejected[i].clear()
        if progress is not None:
            progress(round_number + 1, max_guesses)
    return records


def states_met(record: GameRecord, max_guesses: int = MAX_GUESSES) -> list[GameState]:
    """The state before each turn of a played game, as :func:`play_games` showed it to the player:
    the states a model reaches in its own games, its lost turns named as they were."""
    states: list[GameState] = []
    texts = iter([turn.text for turn in record.turns])

    def replay(asked: Sequence[GameState]) -> list[str | None]:
        answers = [next(texts, None) for _ in asked]  # None: a cut game, ended where it was cut
        states.extend(state for state, text in zip(asked, answers) if text is not None)
        return answers

    play_games(replay, [record.secret], max_guesses)  # the same rules, so the same states
    return states


def rejected_text(answer: str) -> str:
    """How a turned-down answer is named afterwards (:attr:`ParsedCompletion.rejected_text`)."""
    return parse_completion(answer).rejected_text


def _judge(text: str, secret: str, history: list[GuessWithFeedback], prompt_style: str = "full") -> Turn:
    word = parse_completion(text).word
    exact = format_reward([text], prompt_style=[prompt_style])[0] == 1.0
    if word is None or not is_allowed(word):
        return Turn(text=text, written=word, guess=None, exact_format=exact, consistent=None)
    consistent = is_consistent(word, history) if history else None
    entry = GuessWithFeedback.score(word, secret)
    history.append(entry)
    return Turn(
        text=text,
        written=word,
        guess=word,
        exact_format=exact,
        consistent=consistent,
        feedback=entry.to_dict()["feedback"],
    )


# ---------------------------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------------------------


def _rate(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


# What each rate of an evaluation means, one line each (the README's table is made from this).
METRIC_MEANINGS: dict[str, str] = {
    "win_rate": "games solved within six guesses, with its 95% Wilson interval",
    "mean_guesses_when_won": "guesses a won game took, on average",
    "format_valid_rate": (
        "turns written exactly as asked: `<think>…</think>` then `<guess>WORD</guess>` (the guess tag "
        "alone in the short style), an allowed word"
    ),
    "valid_guess_rate": "turns the game accepted (an allowed word in a guess tag); the others are lost",
    "invalid_word_rate": "five-letter answers that are not allowed words (made up), of all such answers",
    "consistency_rate": "accepted guesses after the first that fit every clue so far: playing, not guessing",
    "rejected_repeated_rate": "after a lost turn, the same turned-down answer written again",
    "recovered_after_lost_rate": "after a lost turn, an accepted guess on the next one",
    "replayed_guess_rate": "accepted guesses that repeat an earlier one of the same game: no news, no win",
    "top_later_guess_share": (
        "the share of later guesses taken by the most played word: one safe word everywhere is a habit"
    ),
}


def game_metrics(records: Sequence[GameRecord]) -> dict[str, Any]:
    """Win rate (with its interval), guesses, and how well the turns follow format and clues.

    Games are independent, so the win rate gets Wilson's interval over games. The turns of one game
    are not (a model that misreads the clues misreads them all game long), so each per-turn rate
    gets an interval over games (:func:`rft.stats.clustered_wilson_interval`), never one that
    counts every turn as an independent observation."""
    wins = [r for r in records if r.won]
    turns = [t for r in records for t in r.turns]
    accepted = [t for t in turns if t.guess is not None]
    later = [t for t in accepted if t.consistent is not None]
    five_letters = [t for t in turns if t.written is not None]
    low, high = wilson_interval(len(wins), len(records))
    exact = sum(t.exact_format for t in turns)
    kept = sum(1 for t in later if t.consistent)
    distribution = {str(k): sum(1 for r in wins if r.guesses == k) for k in range(1, MAX_GUESSES + 1)}
    distribution["lost"] = len(records) - len(wins)
    retried = [(t, after) for r in records for t, after in _retried(r)]
    repeated = sum(1 for t, after in retried if _same_answer(t, after))
    recovered = sum(1 for _, after in retried if after.guess is not None)
    replayed = sum(_replays(r) for r in records)
    later_words = Counter(t.guess for r in records for t in _accepted(r)[1:])
    later_count = later_words.total()
    top_word, top_count = later_words.most_common(1)[0] if later_words else (None, 0)

    def per_game(count: Callable[[GameRecord], tuple[int, int]]) -> list[float]:
        hits, trials = zip(*(count(r) for r in records)) if records else ((), ())
        return list(clustered_wilson_interval(hits, trials))

    return {
        "games": len(records),
        "wins": len(wins),
        # Games a token budget ended (whole-game play): lost, and said apart from lost by the rules.
        "cut_games": sum(1 for r in records if r.cut),
        "win_rate": _rate(len(wins), len(records)),
        "win_rate_ci95": [low, high],
        "mean_guesses_when_won": (sum(r.guesses for r in wins) / len(wins)) if wins else None,
        "guess_distribution": distribution,
        "turns": len(turns),
        "format_valid_rate": _rate(exact, len(turns)),
        "format_valid_rate_ci95": per_game(lambda r: (sum(t.exact_format for t in r.turns), len(r.turns))),
        "valid_guess_rate": _rate(len(accepted), len(turns)),
        "invalid_word_rate": _rate(sum(1 for t in five_letters if t.guess is None), len(five_letters)),
        # Over accepted guesses after the first: the turns that had clues to keep.
        "consistency_turns": len(later),
        "consistency_rate": _rate(kept, len(later)),
        "consistency_rate_ci95": per_game(_consistent_turns),
        # Two habits that cost a greedy model whole games: writing a turned-down answer again on
        # the next turn (the prompt barely changed, so neither does the answer), and replaying a
        # word it already guessed, which can never win and tells it nothing new. And the way out
        # of the first: an accepted guess on the turn right after a lost one.
        "lost_turns_retried": len(retried),
        "rejected_repeated_rate": _rate(repeated, len(retried)),
        "rejected_repeated_rate_ci95": per_game(
            lambda r: (sum(1 for t, after in _retried(r) if _same_answer(t, after)), len(_retried(r)))
        ),
        "recovered_after_lost_rate": _rate(recovered, len(retried)),
        "recovered_after_lost_rate_ci95": per_game(
            lambda r: (sum(1 for _, after in _retried(r) if after.guess is not None), len(_retried(r)))
        ),
        "replayed_guess_rate": _rate(replayed, len(accepted)),
        "replayed_guess_rate_ci95": per_game(lambda r: (_replays(r), len(_accepted(r)))),
        # How varied the play is once clues are in: a policy that found one safe word plays it on
        # every later turn (always allowed, so every format rate stays high) and learned no Wordle.
        # The solver's most played later word takes about a tenth of its later guesses.
        "later_guesses": later_count,
        "distinct_later_guesses": len(later_words),
        "top_later_guess": top_word,
        "top_later_guess_share": _rate(top_count, later_count),
    }


def _retried(record: GameRecord) -> list[tuple[Turn, Turn]]:
    """Each lost turn of a game that was followed by another turn, with that turn."""
    return [(t, after) for t, after in zip(record.turns, record.turns[1:]) if t.guess is None]


def _consistent_turns(record: GameRecord) -> tuple[int, int]:
    """A game's accepted guesses after the first that fit every clue, and how many there were."""
    later = [t.consistent for t in record.turns if t.guess is not None and t.consistent is not None]
    return sum(later), len(later)


def _same_answer(lost: Turn, after: Turn) -> bool:
    return rejected_text(lost.text).lower() == rejected_text(after.text).lower()


def _accepted(record: GameRecord) -> list[Turn]:
    return [t for t in record.turns if t.guess is not None]


def _replays(record: GameRecord) -> int:
    guessed = [t.guess for t in _accepted(record)]
    return sum(1 for i, word in enumerate(guessed) if word in guessed[:i])
