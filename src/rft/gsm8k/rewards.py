"""The GSM8K rewards, in the same signature as the Wordle ones (``completions`` plus the dataset's
``answer`` column, one float per completion).

- ``correctness``: 1.0 when the number in the ``<answer>`` block equals the gold answer, else 0.0.
- ``format``: 1.0 for exactly ``<think>…</think>`` then ``<answer>…</answer>``; 0.5 for an answer
  block in any other shape; 0.0 without one.
- ``number``: 1.0 when the answer block holds nothing but a number (``1,234``, ``$18``, ``-2.5``),
  the shape correctness needs to be checked; else 0.0.

Totality as for Wordle: any text gets a float; a missing ``answer`` column raises naming it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rft.reward_common import RewardFunction, choose_rewards, column, completion_text

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
ANSWER_OPEN, ANSWER_CLOSE = "<answer>", "</answer>"
_TAGS = (THINK_OPEN, THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE)
MAX_ANSWER_CHARS = 64  # longer answer blocks are prose, not a number
# A number; commas only as thousands separators (1,234,567), so "1,2,3" is three numbers, not 123.
_NUMBER = re.compile(r"-?(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?")
# A block that is one number and nothing else (the gold answers are read by the same rule).
BARE_NUMBER = re.compile(r"\$?\s*(-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?)\s*")


@dataclass(frozen=True)
class ParsedAnswer:
    exact_shape: bool  # <think>reasoning</think> then <answer>…</answer>, each once, nothing else
    answer_block: str | None  # stripped content of the last <answer>…</answer>
    number: float | None  # the last number in that block
    bare_number: bool  # the block is a number and nothing else


def parse_answer(completion: Any) -> ParsedAnswer:
    """Read a completion without a regex over the whole text (nothing can backtrack on huge input)."""
    text = completion_text(completion)
    close = text.rfind(ANSWER_CLOSE)
    start = text.rfind(ANSWER_OPEN, 0, close) if close != -1 else -1
    block = text[start + len(ANSWER_OPEN) : close].strip() if start != -1 else None
    number, bare = None, False
    if block is not None and len(block) <= MAX_ANSWER_CHARS:
        bare_match = BARE_NUMBER.fullmatch(block)
        bare = bare_match is not None
        digits = bare_match.group(1) if bare_match else block
        found = _NUMBER.findall(digits)
        number = float(found[-1].replace(",", "")) if found else None

    stripped = text.strip()
    exact = False
    if (
        block is not None
        and stripped.startswith(THINK_OPEN)
        and stripped.endswith(ANSWER_CLOSE)
        and all(stripped.count(tag) == 1 for tag in _TAGS)
    ):
        reasoning, _, rest = stripped[len(THINK_OPEN) :].partition(THINK_CLOSE)
        exact = bool(reasoning.strip()) and rest.lstrip().startswith(ANSWER_OPEN)
    return ParsedAnswer(exact_shape=exact, answer_block=block, number=number, bare_number=bare)


def is_correct(parsed: ParsedAnswer, gold: str) -> bool:
    try:
        expected = float(str(gold).replace(",", ""))
    except ValueError:
        return False
    return parsed.number is not None and abs(parsed.number - expected) < 1e-6


def correctness_reward(
    completions: Sequence[Any], answer: Sequence[str] | None = None, **kwargs: Any
) -> list[float]:
    golds = column("answer", answer, len(completions), "GSM8K")
    missing = [index for index, gold in enumerate(golds) if gold is None]
    if missing:
        raise ValueError(f"column 'answer' holds no gold answer (None) for completion {missing[0]}")
    return [1.0 if is_correct(parse_answer(c), gold) else 0.0 for c, gold in zip(completions, golds)]


def format_reward(completions: Sequence[Any], **kwargs: Any) -> list[float]:
    scores = []
    for completion in completions:
        parsed = parse_answer(completion)
        scores.append(1.0 if parsed.exact_shape else 0.5 if parsed.answer_block is not None else 0.0)
    return scores


def number_reward(completions: Sequence[Any], **kwargs: Any) -> list[float]:
    return [1.0 if parse_answer(c).bare_number else 0.0 for c in completions]


REWARD_FUNCTIONS: dict[str, RewardFunction] = {
    "correctness": correctness_reward,
    "format": format_reward,
    "number": number_reward,
}
DEFAULT_REWARD_WEIGHTS: dict[str, float] = {"correctness": 2.0, "format": 0.5, "number": 0.5}


def select_rewards(weights: Mapping[str, float] | None = None) -> tuple[list[RewardFunction], list[float]]:
    """The GSM8K rewards named in ``weights`` (correctness counting double by default)."""
    return choose_rewards(DEFAULT_REWARD_WEIGHTS if weights is None else weights, REWARD_FUNCTIONS)
