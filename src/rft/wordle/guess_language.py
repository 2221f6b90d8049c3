"""The language a Wordle completion is held to where a preset constrains guesses (``constrain_guesses``):
anything at all until ``<guess>`` opens, then one allowed word, then ``</guess>``, then the end.

Before the tag nothing is constrained: the reasoning is the model's own. Inside it, only the
12,972 allowed words (rft.wordle.words), so a turn is never lost to a made-up word or one of the
wrong length, and GRPO's advantage falls on which word, not on whether it is one. After the closing
tag only the end of the sequence is left, as :class:`rft.generation.EndAfterAnswer` forces anyway.

Each word is written wholly in upper case or wholly in lower case. The prompts, their placeholder and
the game's feedback write words in upper case, so that is what a model is asked for; the rewards and
the game read any case (they compare in lower case), and lower case is how a model meets most words
in its pretraining, often as a single token, so holding it to upper case alone would move the guess
away from the word the model prefers. Mixed case ("Crane") is left out: nothing asks for it.

The language is one regex, for two engines: :class:`rft.constrained.Language` on transformers'
generation, and vLLM's structured outputs (TRL's ``vllm_structured_outputs_regex``) where vLLM
generates. A regex engine like these has no look-ahead, so "no ``<guess>`` before the answer" is
spelled out: any character but ``<``, or a ``<`` that is not the start of ``<guess>`` — a prefix of
the tag cut off by a character that does not continue it (another ``<`` starts over).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from rft.wordle.prompts import ANSWER_ONLY_STYLES
from rft.wordle.rewards import GUESS_CLOSE, GUESS_OPEN
from rft.wordle.words import allowed_words


def alternation(words: Iterable[str]) -> str:
    """A regex matching exactly ``words`` (letters only), factored as a trie so that an engine
    compiles 26,000 words as one small automaton, not 26,000 branches."""
    trie: dict[str, dict] = {}
    for word in words:
        node = trie
        for letter in word:
            node = node.setdefault(letter, {})
        node[""] = {}  # a word ends here

    def spell(node: dict[str, dict]) -> str:
        branches = [letter + spell(child) for letter, child in sorted(node.items()) if letter]
        if not branches:
            return ""
        group = branches[0] if len(branches) == 1 and len(branches[0]) == 1 else f"(?:{'|'.join(branches)})"
        return group + "?" if "" in node else (branches[0] if len(branches) == 1 else group)

    return spell(trie)


def text_without(tag: str) -> str:
    """A regex for any text (newlines included) in which ``tag`` never occurs, for a tag that starts
    with a character it holds nowhere else (``<guess>``: a mismatch can only restart at a ``<``)."""
    first, rest = tag[0], tag[1:]
    if first in rest:
        raise ValueError(f"{tag!r}: its first character recurs in it")
    start = re.escape(first)
    cut = "|".join(re.escape(rest[:i]) + f"[^{re.escape(rest[i])}{start}]" for i in range(len(rest)))
    opened = start + functools.reduce(
        lambda inner, letter: f"(?:{re.escape(letter)}{inner})?", rest[-2::-1], ""
    )
    # A cut-off prefix follows zero or more prefixes that a new first character interrupted; the
    # text may end inside a prefix.
    return f"(?:[^{start}]|(?:{opened})*{start}(?:{cut}))*(?:{opened})*"


@functools.cache
def guess_regex(prompt_style: str = "full") -> str:
    """The whole completion: free text without ``<guess>``, then (optionally, as a completion may
    end before it guesses) ``<guess>`` + an allowed word + ``</guess>``. A style whose answer is the
    guess tag alone (``short``) gets no free text: the tag opens the completion, so a completion cap
    made to fit the tag (16 tokens) is never spent on a preamble."""
    words = allowed_words()
    spelled = alternation([word.upper() for word in words] + list(words))
    answer = f"{re.escape(GUESS_OPEN)}{spelled}{re.escape(GUESS_CLOSE)}"
    if prompt_style in ANSWER_ONLY_STYLES:
        return answer
    return f"{text_without(GUESS_OPEN)}(?:{answer})?"
