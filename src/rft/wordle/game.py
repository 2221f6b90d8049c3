"""The rules of Wordle: feedback for a guess, how it is written down, and what a history implies.

Feedback is computed in exactly one place, :func:`pattern_codes`, which the solver, the rewards,
the dataset builder and the player all call (one word or thousands at once). The rule for repeated
letters is the real game's: exact matches first; then, left to right, a letter is marked "wrong
place" only while the secret still has an unmatched copy of it; every other letter is absent.
So SPEED against ABIDE marks one E, not two.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

from rft.wordle.words import WORD_LENGTH, encode_words, validate_word

MAX_GUESSES = 6


class Mark(IntEnum):
    """One tile of feedback. The values are the digits of a pattern code in base 3."""

    ABSENT = 0
    PRESENT = 1  # in the word, wrong place
    CORRECT = 2  # right letter, right place


_POWERS_OF_3 = np.array([3**i for i in range(WORD_LENGTH)], dtype=np.uint8)
ALL_CORRECT_CODE = int(2 * _POWERS_OF_3.sum())  # 242: the pattern of a won game


def pattern_codes(guesses: np.ndarray, secrets: np.ndarray) -> np.ndarray:
    """Feedback as base-3 codes (0 … 242), for many guess/secret pairs at once.

    Both arguments hold words encoded by :func:`~rft.wordle.words.encode_words`, shape (..., 5),
    and broadcast against each other like any numpy operation: pass (N, 5) and (N, 5) for N pairs,
    or (G, 1, 5) and (1, S, 5) for every guess against every secret. Digit ``i`` of a code
    (``code // 3**i % 3``) is the :class:`Mark` of letter ``i``; the result is uint8.
    """
    correct = guesses == secrets  # (..., 5)
    marks = correct.astype(np.uint8) * np.uint8(Mark.CORRECT)
    for i in range(WORD_LENGTH):
        letter = guesses[..., i : i + 1]
        # Copies of this letter in the secret that no exact match has used up ...
        unmatched_in_secret = ((secrets == letter) & ~correct).sum(axis=-1)
        # ... minus those that earlier non-exact copies in the guess have already claimed.
        claimed_earlier = ((guesses[..., :i] == letter) & ~correct[..., :i]).sum(axis=-1)
        present = ~correct[..., i] & (unmatched_in_secret > claimed_earlier)
        marks[..., i] += present.astype(np.uint8) * np.uint8(Mark.PRESENT)
    return (marks * _POWERS_OF_3).sum(axis=-1, dtype=np.uint8)


def marks_from_code(code: int) -> tuple[Mark, ...]:
    """The five marks a pattern code stands for."""
    if not 0 <= code <= ALL_CORRECT_CODE:
        raise ValueError(f"pattern code {code!r} is outside 0..{ALL_CORRECT_CODE}")
    return tuple(Mark(code // 3**i % 3) for i in range(WORD_LENGTH))


def code_from_marks(marks: Sequence[Mark | int]) -> int:
    if len(marks) != WORD_LENGTH:
        raise ValueError(f"feedback needs {WORD_LENGTH} marks, got {len(marks)}: {marks!r}")
    return sum(int(Mark(m)) * 3**i for i, m in enumerate(marks))


def feedback(guess: str, secret: str) -> tuple[Mark, ...]:
    """The marks Wordle shows for ``guess`` when the answer is ``secret`` (any letter case)."""
    guess, secret = validate_word(guess), validate_word(secret)
    code = pattern_codes(encode_words([guess]), encode_words([secret]))[0]
    return marks_from_code(int(code))


# ---------------------------------------------------------------------------------------------
# Writing feedback down and reading it back
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Symbols:
    """How each mark is written. The prompts use the Unicode set; the ASCII set suits plain logs."""

    correct: str
    present: str
    absent: str

    def __post_init__(self) -> None:
        symbols = (self.correct, self.present, self.absent)
        if len(set(symbols)) != 3 or any(not s or "(" in s or ")" in s or s.isspace() for s in symbols):
            raise ValueError(
                f"symbols must be three distinct non-empty strings without brackets: {symbols!r}"
            )

    def of(self, mark: Mark) -> str:
        return (self.absent, self.present, self.correct)[mark]

    def mark_of(self, symbol: str) -> Mark | None:
        return {self.correct: Mark.CORRECT, self.present: Mark.PRESENT, self.absent: Mark.ABSENT}.get(symbol)


UNICODE_SYMBOLS = Symbols(correct="✔", present="-", absent="❌")
ASCII_SYMBOLS = Symbols(correct="G", present="Y", absent="X")
_KNOWN_SYMBOLS = (UNICODE_SYMBOLS, ASCII_SYMBOLS)

_RENDERED = re.compile(r"^\s*([A-Za-z]{5})\s*(?:→|->)\s*(.+?)\s*$")
_TILE = re.compile(r"([A-Za-z])\(([^()]+)\)")


@dataclass(frozen=True)
class GuessWithFeedback:
    """One line of a game's history: a guess and the marks it earned."""

    guess: str
    marks: tuple[Mark, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "guess", validate_word(self.guess))
        object.__setattr__(self, "marks", tuple(Mark(m) for m in self.marks))
        if len(self.marks) != WORD_LENGTH:
            raise ValueError(f"feedback for {self.guess!r} needs {WORD_LENGTH} marks, got {len(self.marks)}")

    @classmethod
    def score(cls, guess: str, secret: str) -> GuessWithFeedback:
        return cls(guess, feedback(guess, secret))

    @property
    def code(self) -> int:
        return code_from_marks(self.marks)

    @property
    def is_win(self) -> bool:
        return all(m == Mark.CORRECT for m in self.marks)

    def render(self, symbols: Symbols = UNICODE_SYMBOLS) -> str:
        """``CRANE → C(❌) R(✔) A(-) N(❌) E(❌)``: the notation the prompts teach."""
        tiles = " ".join(f"{letter.upper()}({symbols.of(m)})" for letter, m in zip(self.guess, self.marks))
        return f"{self.guess.upper()} → {tiles}"

    @classmethod
    def parse(cls, text: str) -> GuessWithFeedback:
        """Read back a line written by :meth:`render` with either built-in symbol set."""
        match = _RENDERED.match(text)
        if not match:
            raise ValueError(f"{text!r} is not a rendered guess like 'CRANE → C(❌) R(✔) A(-) N(❌) E(❌)'")
        guess, rest = match.group(1), match.group(2)
        tiles = _TILE.findall(rest)
        if len(tiles) != WORD_LENGTH or _TILE.sub("", rest).strip():
            raise ValueError(f"{text!r} must have exactly {WORD_LENGTH} tiles like 'C(✔)' after the arrow")
        if "".join(letter for letter, _ in tiles).lower() != guess.lower():
            raise ValueError(f"{text!r}: the tiles do not spell the guess {guess.upper()}")
        for symbols in _KNOWN_SYMBOLS:
            marks = [symbols.mark_of(symbol) for _, symbol in tiles]
            if all(m is not None for m in marks):
                return cls(guess, tuple(marks))
        raise ValueError(f"{text!r}: unknown feedback symbols; use ✔ - ❌ or G Y X")

    def to_dict(self) -> dict[str, str]:
        """JSON- and Arrow-friendly form, e.g. ``{"guess": "crane", "feedback": "XGYXX"}``."""
        return {"guess": self.guess, "feedback": "".join(ASCII_SYMBOLS.of(m) for m in self.marks)}

    @classmethod
    def from_dict(cls, row: Mapping[str, object]) -> GuessWithFeedback:
        guess, marks_text = row.get("guess"), row.get("feedback")
        if not isinstance(marks_text, str) or len(marks_text) != WORD_LENGTH:
            raise ValueError(
                f"history entry {dict(row)!r}: 'feedback' must be {WORD_LENGTH} symbols like 'XGYXX'"
            )
        for symbols in _KNOWN_SYMBOLS:
            marks = [symbols.mark_of(symbol) for symbol in marks_text]
            if all(m is not None for m in marks):
                return cls(str(guess), tuple(marks))
        raise ValueError(f"history entry {dict(row)!r}: unknown feedback symbols; use G Y X or ✔ - ❌")


History = tuple[GuessWithFeedback, ...]


def as_history(entries: Iterable[GuessWithFeedback | Mapping[str, object] | str] | None) -> History:
    """Accept a history as objects, dataset dicts or rendered lines; raise ``ValueError`` if malformed."""
    if entries is None:
        return ()
    if isinstance(entries, (str, bytes)):
        raise ValueError(f"a history is a list of guesses, not a single string: {entries!r}")
    history: list[GuessWithFeedback] = []
    for entry in entries:
        if isinstance(entry, GuessWithFeedback):
            history.append(entry)
        elif isinstance(entry, Mapping):
            history.append(GuessWithFeedback.from_dict(entry))
        elif isinstance(entry, str):
            history.append(GuessWithFeedback.parse(entry))
        else:
            raise ValueError(
                f"history entry {entry!r} is neither a GuessWithFeedback, a dict nor a rendered line"
            )
    return tuple(history)


# ---------------------------------------------------------------------------------------------
# What a history implies
# ---------------------------------------------------------------------------------------------


def consistent_mask(words: np.ndarray, history: Iterable[GuessWithFeedback]) -> np.ndarray:
    """For encoded ``words`` (N, 5): which could still be the secret after ``history``."""
    mask = np.ones(len(words), dtype=bool)
    for entry in history:
        mask &= pattern_codes(encode_words([entry.guess]), words) == entry.code
    return mask


def is_consistent(word: str, history: Iterable[GuessWithFeedback]) -> bool:
    """True when ``word`` would have produced every feedback in ``history`` had it been the secret."""
    return bool(consistent_mask(encode_words([validate_word(word)]), history)[0])


@dataclass(frozen=True)
class Check:
    """One fact a history establishes about the secret, in words a person (or a model) can read."""

    kind: str  # "fixed", "not_at", "at_least" or "at_most"
    letter: str
    position: int = -1  # 0-based, for "fixed" and "not_at"
    count: int = 0  # for "at_least" and "at_most"

    def holds_for(self, word: str) -> bool:
        if self.kind == "fixed":
            return word[self.position] == self.letter
        if self.kind == "not_at":
            return word[self.position] != self.letter
        if self.kind == "at_least":
            return word.count(self.letter) >= self.count
        return word.count(self.letter) <= self.count

    def describe(self) -> str:
        letter = self.letter.upper()
        if self.kind == "fixed":
            return f"{letter} is letter {self.position + 1}"
        if self.kind == "not_at":
            return f"{letter} is not letter {self.position + 1}"
        if self.kind == "at_least":
            return f"the word has at least {self.count} {letter}"
        return (
            f"the word has no {letter}" if self.count == 0 else f"the word has at most {self.count} {letter}"
        )


@dataclass(frozen=True)
class Constraints:
    """Everything a history says about the secret, as independent checks.

    A word passes every check exactly when it is consistent with the history (for feedback the
    game could have produced). Checks implied by others are left out, so a graded score over them
    counts each piece of information once: a letter ruled out entirely is one ``at_most 0`` check,
    not five ``not_at`` ones, and a green letter's ``fixed`` check already covers its first copy.
    """

    fixed: Mapping[int, str] = field(default_factory=dict)
    not_at: Mapping[int, frozenset[str]] = field(default_factory=dict)
    min_counts: Mapping[str, int] = field(default_factory=dict)
    max_counts: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def from_history(cls, history: Iterable[GuessWithFeedback]) -> Constraints:
        fixed: dict[int, str] = {}
        not_at: dict[int, set[str]] = {}
        min_counts: dict[str, int] = {}
        max_counts: dict[str, int] = {}
        for entry in history:
            found = Counter(c for c, m in zip(entry.guess, entry.marks) if m != Mark.ABSENT)
            for position, (letter, mark) in enumerate(zip(entry.guess, entry.marks)):
                if mark == Mark.CORRECT:
                    fixed[position] = letter
                else:
                    not_at.setdefault(position, set()).add(letter)
                    if mark == Mark.ABSENT:
                        max_counts[letter] = min(max_counts.get(letter, WORD_LENGTH), found[letter])
            for letter, count in found.items():
                min_counts[letter] = max(min_counts.get(letter, 0), count)
        return cls(
            fixed=fixed,
            not_at={p: frozenset(letters) for p, letters in not_at.items()},
            min_counts=min_counts,
            max_counts=max_counts,
        )

    def checks(self) -> list[Check]:
        checks = [Check("fixed", letter, position=p) for p, letter in sorted(self.fixed.items())]
        fixed_copies = Counter(self.fixed.values())
        for position, letters in sorted(self.not_at.items()):
            for letter in sorted(letters):
                if self.max_counts.get(letter) != 0:  # "no E at all" already says it
                    checks.append(Check("not_at", letter, position=position))
        for letter, count in sorted(self.min_counts.items()):
            if count > fixed_copies[letter]:
                checks.append(Check("at_least", letter, count=count))
        for letter, count in sorted(self.max_counts.items()):
            checks.append(Check("at_most", letter, count=count))
        return checks

    def is_satisfied_by(self, word: str) -> bool:
        word = validate_word(word)
        return all(check.holds_for(word) for check in self.checks())


# ---------------------------------------------------------------------------------------------
# A game
# ---------------------------------------------------------------------------------------------


class Game:
    """One game of Wordle against a known secret; used by the player and the dataset builder."""

    def __init__(self, secret: str, max_guesses: int = MAX_GUESSES) -> None:
        if max_guesses < 1:
            raise ValueError(f"max_guesses must be at least 1, got {max_guesses}")
        self.secret = validate_word(secret, must_be_allowed=True)
        self.max_guesses = max_guesses
        self.history: list[GuessWithFeedback] = []

    @property
    def is_won(self) -> bool:
        return bool(self.history) and self.history[-1].is_win

    @property
    def is_over(self) -> bool:
        return self.is_won or len(self.history) >= self.max_guesses

    @property
    def guesses_left(self) -> int:
        return self.max_guesses - len(self.history)

    def guess(self, word: str) -> GuessWithFeedback:
        """Play ``word``; an unknown word raises ``ValueError`` and does not use up a turn."""
        if self.is_over:
            raise ValueError(f"the game for {self.secret!r} is over; no more guesses")
        entry = GuessWithFeedback.score(validate_word(word, must_be_allowed=True), self.secret)
        self.history.append(entry)
        return entry
