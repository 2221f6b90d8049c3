"""The pattern matrix, information gain, and the baseline policies a trained model is compared with.

The matrix holds the feedback code of every allowed guess against every answer (12,972 × 2,315
bytes, about 30 MB). Building it takes seconds, so it is cached in the user's cache directory,
keyed by a hash of the word lists; it never goes into the repository.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from rft.files import replacing
from rft.runtime import default_cache_dir
from rft.weights import remove_leftovers
from rft.wordle.game import ALL_CORRECT_CODE, GuessWithFeedback, History, consistent_mask, pattern_codes
from rft.wordle.words import allowed_words, answer_words, encode_words, validate_word

NUM_PATTERNS = ALL_CORRECT_CODE + 1
_CACHE_FORMAT = "patterns-v1"
_BUILD_CHUNK = 256  # guesses per vectorised block: bounds peak memory at ~15 MB of booleans

# The best opening by expected information over the 2,315 answers (5.886 bits); a test re-derives it.
FIRST_GUESS = "soare"


def entropy_bits(codes: np.ndarray) -> np.ndarray:
    """Shannon entropy of the feedback distribution in each row of ``codes`` (R, n): the expected
    information, in bits, that each guess gives when the n candidates are equally likely.

    H = log2(n) - mean over candidates of log2(size of the candidate's feedback group).
    """
    rows, n = codes.shape
    if n == 0:
        return np.zeros(rows)
    if n > 64:  # many candidates: count each row's 243 possible codes directly
        offsets = (np.arange(rows, dtype=np.int64) * NUM_PATTERNS)[:, None]
        counts = np.bincount((codes + offsets).ravel(), minlength=rows * NUM_PATTERNS)
        counts = counts.reshape(rows, NUM_PATTERNS)
        return np.log2(n) - (counts * np.log2(np.maximum(counts, 1))).sum(axis=1) / n
    # few candidates: sort each row, then every candidate's group is the run of equal codes around it
    ordered = np.sort(codes, axis=1)
    change = ordered[:, 1:] != ordered[:, :-1]
    edge = np.ones((rows, 1), dtype=bool)
    position = np.arange(n)
    first = np.maximum.accumulate(np.where(np.hstack([edge, change]), position, 0), axis=1)
    last = np.minimum.accumulate(np.where(np.hstack([change, edge]), position, n)[:, ::-1], axis=1)[:, ::-1]
    return np.log2(n) - np.log2(last - first + 1).mean(axis=1)


@dataclass
class PatternTable:
    """Feedback codes of every guess (rows) against every answer (columns)."""

    guesses: tuple[str, ...]
    answers: tuple[str, ...]
    codes: np.ndarray
    guess_index: dict[str, int] = field(init=False, repr=False)
    _encoded_answers: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        expected = (len(self.guesses), len(self.answers))
        if self.codes.shape != expected or self.codes.dtype != np.uint8:
            raise ValueError(
                f"pattern codes must be uint8 of shape {expected}, got {self.codes.dtype}{self.codes.shape}"
            )
        self.guess_index = {word: i for i, word in enumerate(self.guesses)}
        self._encoded_answers = encode_words(self.answers)

    @classmethod
    def build(cls, guesses: Sequence[str], answers: Sequence[str], progress: bool = True) -> PatternTable:
        encoded_guesses, encoded_answers = encode_words(list(guesses)), encode_words(list(answers))
        codes = np.empty((len(guesses), len(answers)), dtype=np.uint8)
        for start in tqdm(
            range(0, len(guesses), _BUILD_CHUNK),
            desc="Wordle pattern matrix",
            unit="block",
            disable=not progress,
        ):
            block = encoded_guesses[start : start + _BUILD_CHUNK, None, :]
            codes[start : start + _BUILD_CHUNK] = pattern_codes(block, encoded_answers[None, :, :])
        return cls(tuple(guesses), tuple(answers), codes)

    @classmethod
    def load_or_build(
        cls,
        guesses: Sequence[str],
        answers: Sequence[str],
        cache_dir: Path | None = None,
        progress: bool = True,
    ) -> PatternTable:
        """Read the matrix from the cache, or build it and write it there for next time."""
        digest = hashlib.sha256(("\n".join(guesses) + "|" + "\n".join(answers)).encode()).hexdigest()[:16]
        path = (cache_dir or default_cache_dir()) / f"{_CACHE_FORMAT}-{digest}.npy"
        if path.is_file():
            try:
                return cls(tuple(guesses), tuple(answers), np.load(path, allow_pickle=False))
            except (ValueError, OSError):
                pass  # a truncated or foreign file: rebuild it below
        table = cls.build(guesses, answers, progress=progress)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            remove_leftovers(path.parent)  # half-written tables of killed runs (30 MB each)
            with replacing(path) as temporary:  # a concurrent reader never sees half a file
                np.save(temporary, table.codes)
        except OSError as error:  # a read-only or full cache: the table serves this run from memory
            print(
                f"note: the Wordle pattern table could not be kept in {path.parent} "
                f"({error.strerror or error}); it is built again next time",
                file=sys.stderr,
            )
        return table

    def row(self, guess: str) -> np.ndarray:
        """Codes of ``guess`` against every answer; computed on the spot for a word outside the table."""
        index = self.guess_index.get(guess)
        if index is not None:
            return self.codes[index]
        return pattern_codes(encode_words([validate_word(guess)]), self._encoded_answers)

    def candidates(self, history: History) -> np.ndarray:
        """Indices of the answers still possible after ``history``."""
        mask = np.ones(len(self.answers), dtype=bool)
        for entry in history:
            mask &= self.row(entry.guess) == entry.code
        return np.flatnonzero(mask)

    def information(self, guess: str, candidates: np.ndarray) -> float:
        """Expected information (bits) of ``guess`` when the secret is one of ``candidates``."""
        return float(entropy_bits(self.row(guess)[candidates][None, :])[0])

    def information_of_all(self, candidates: np.ndarray, guess_rows: np.ndarray | None = None) -> np.ndarray:
        """Expected information of every guess (or of ``guess_rows``) over ``candidates``."""
        rows = np.arange(len(self.guesses)) if guess_rows is None else guess_rows
        block = max(1, 4_000_000 // max(1, len(candidates)))  # bounds the bincount's memory
        parts = [
            entropy_bits(self.codes[np.ix_(rows[i : i + block], candidates)])
            for i in range(0, len(rows), block)
        ]
        return np.concatenate(parts) if parts else np.zeros(0)


@lru_cache(maxsize=1)
def default_table() -> PatternTable:
    """The table for Wordle's own lists, built once per machine and loaded once per process."""
    return PatternTable.load_or_build(allowed_words(), answer_words())


# ---------------------------------------------------------------------------------------------
# Policies: (history, rng) -> next guess. The entropy solver is the strong baseline; the random
# ones are the floor, and they give the dataset builder varied game states.
# ---------------------------------------------------------------------------------------------

Policy = Callable[[History, np.random.Generator], str]


class EntropySolver:
    """Greedy maximum-information player.

    Each turn it picks the allowed word whose feedback splits the remaining answers most evenly
    (highest expected information); among equally informative words it prefers one that could be
    the answer, since that one may win at once. With one or two answers left it guesses one of
    them. In ``hard_mode`` it only plays words consistent with every clue so far, as Wordle's
    hard mode demands.
    """

    def __init__(self, table: PatternTable | None = None, hard_mode: bool = False) -> None:
        self.table = table or default_table()
        self.hard_mode = hard_mode
        self._memo: dict[bytes, str] = {}
        self._encoded_guesses = encode_words(self.table.guesses)
        self._plays_wordle_lists = (
            self.table.guesses == allowed_words() and self.table.answers == answer_words()
        )

    def __call__(self, history: History, rng: np.random.Generator | None = None) -> str:
        if not history and self._plays_wordle_lists:
            return FIRST_GUESS
        candidates = self.table.candidates(history)
        if len(candidates) == 0:
            raise ValueError("no answer is consistent with this history: the feedback contradicts itself")
        key = candidates.tobytes()
        if self.hard_mode:
            key += b"|" + "".join(e.guess + str(e.code) for e in history).encode()
        if key not in self._memo:
            self._memo[key] = self._choose(history, candidates)
        return self._memo[key]

    def _choose(self, history: History, candidates: np.ndarray) -> str:
        if len(candidates) <= 2:
            return self.table.answers[candidates[0]]
        if self.hard_mode:
            rows = np.flatnonzero(consistent_mask(self._encoded_guesses, history))
        else:
            rows = np.arange(len(self.table.guesses))
        bits = self.table.information_of_all(candidates, rows)
        candidate_words = {self.table.answers[i] for i in candidates}
        could_win = np.array([self.table.guesses[r] in candidate_words for r in rows])
        # Information first (rounded so float noise cannot break ties), then a possible win, then
        # the earlier word in the list, so the choice never depends on anything but the state.
        best = np.lexsort((-rows, could_win, np.round(bits, 9)))[-1]
        return self.table.guesses[rows[best]]


def random_valid_policy(history: History, rng: np.random.Generator) -> str:
    """Any allowed word not yet played: the floor any model should beat."""
    played = {entry.guess for entry in history}
    words = allowed_words()
    while True:
        word = words[int(rng.integers(len(words)))]
        if word not in played:
            return word


def random_consistent_policy(history: History, rng: np.random.Generator) -> str:
    """A random allowed word that fits every clue so far: a player who follows the rules but
    does not plan."""
    words = allowed_words()
    options = np.flatnonzero(consistent_mask(_encoded_allowed(), history))
    if len(options) == 0:
        raise ValueError("no allowed word is consistent with this history: the feedback contradicts itself")
    return words[int(options[rng.integers(len(options))])]


@lru_cache(maxsize=1)
def _encoded_allowed() -> np.ndarray:
    return encode_words(allowed_words())


def history_for(secret: str, guesses: Sequence[str]) -> History:
    """The history a sequence of guesses produces against ``secret``."""
    return tuple(GuessWithFeedback.score(guess, secret) for guess in guesses)
