"""Wordle's word lists and the checks every word passes before it is used.

The lists are the 2,315 original answers and the 12,972 allowed guesses (answers included). They
ship as package data in a wheel and are read from the checkout's ``data/wordle/`` in an editable
install, so the same code finds them on Colab, on Windows and in CI.
"""

from __future__ import annotations

import string
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np

WORD_LENGTH = 5
ALPHABET = string.ascii_lowercase

_LIST_FILES = {"answers": "answers.txt", "allowed": "allowed.txt"}


def _word_list_path(name: str) -> Path:
    """Where a list lives: inside the installed package, else in the source checkout."""
    filename = _LIST_FILES[name]
    packaged = resources.files("rft.wordle") / "data" / filename
    if packaged.is_file():
        return Path(str(packaged))
    checkout = Path(__file__).resolve().parents[3] / "data" / "wordle" / filename
    if checkout.is_file():
        return checkout
    raise FileNotFoundError(
        f"Wordle word list {filename!r} not found in the package ({packaged}) nor the checkout "
        f"({checkout}); reinstall the package with `pip install .`"
    )


def _read_word_list(path: Path) -> tuple[str, ...]:
    words: list[str] = []
    seen: set[str] = set()
    for line_number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        word = line.strip()
        if len(word) != WORD_LENGTH or not all(c in ALPHABET for c in word):
            raise ValueError(f"{path}:{line_number}: {word!r} is not {WORD_LENGTH} lowercase ASCII letters")
        if word in seen:
            raise ValueError(f"{path}:{line_number}: {word!r} appears twice")
        seen.add(word)
        words.append(word)
    return tuple(words)


@cache
def answer_words() -> tuple[str, ...]:
    """The 2,315 words Wordle draws its secrets from, sorted."""
    return _read_word_list(_word_list_path("answers"))


@cache
def allowed_words() -> tuple[str, ...]:
    """All 12,972 words Wordle accepts as a guess (answers included), sorted."""
    return _read_word_list(_word_list_path("allowed"))


@cache
def _allowed_set() -> frozenset[str]:
    return frozenset(allowed_words())


def is_allowed(word: str) -> bool:
    """True when Wordle would accept ``word`` as a guess (any letter case)."""
    return isinstance(word, str) and word.lower() in _allowed_set()


def validate_word(word: object, *, must_be_allowed: bool = False) -> str:
    """Return ``word`` in lowercase, or raise ``ValueError`` naming the word and the rule it breaks.

    Shape is always checked (five ASCII letters); membership in the allowed list only on request,
    because feedback itself is defined for any five letters.
    """
    if not isinstance(word, str):
        raise ValueError(f"{word!r} is not a word: expected a string of {WORD_LENGTH} letters")
    lowered = word.lower()
    if len(lowered) != WORD_LENGTH or not all(c in ALPHABET for c in lowered):
        raise ValueError(f"{word!r} is not a Wordle word: it must be exactly {WORD_LENGTH} ASCII letters")
    if must_be_allowed and lowered not in _allowed_set():
        raise ValueError(f"{word!r} is not in Wordle's list of {len(_allowed_set()):,} allowed guesses")
    return lowered


def encode_words(words: list[str] | tuple[str, ...]) -> np.ndarray:
    """Letters as numbers (a=0 … z=25), shape (len(words), 5), for vectorised feedback.

    Words must already be valid lowercase words; this is a hot path and does not re-check.
    """
    if not words:
        return np.zeros((0, WORD_LENGTH), dtype=np.uint8)
    flat = np.frombuffer("".join(words).encode("ascii"), dtype=np.uint8)
    return (flat - ord("a")).reshape(len(words), WORD_LENGTH)
