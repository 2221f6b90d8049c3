"""Generation held to a regular language: every completion a model writes is a prefix of a string
the language's regex matches in full, at the token level, whatever tokens spell it.

The engine is llguidance (guidance-ai's Rust library: the structured-output engine of llama.cpp and
one of vLLM's backends), chosen over the alternatives:

- A regex is the whole specification, and the same regex goes to vLLM where vLLM generates (TRL's
  ``vllm_structured_outputs_regex``), so the two paths hold generation to one language by
  construction, not by two implementations kept in step.
- It matches bytes against the tokenizer's own token bytes (byte-level BPE and SentencePiece
  alike, read from the tokenizer's JSON), so a token that straddles the regex's parts (the end of
  an opening tag and a word's first letters, a word's last letter and the closing tag's ``</``) is
  allowed exactly when the text it makes can still match. A hand-written token trie would have to
  get each of those boundaries right for each tokenizer family itself.
- It installs beside torch on a plain CPU: one abi3 wheel (3 MB) with no dependencies. xgrammar
  (vLLM's default backend) pulls triton, pydantic and apache-tvm-ffi into the CPU venv and is pinned
  exactly by vLLM; outlines pulls a stack of its own; transformers' ``prefix_allowed_tokens_fn``
  is only a hook, calling Python per row and step with an automaton still to be written.
- Its cost is one walk of the vocabulary's token trie a row and step, in Rust: about 0.3 ms with
  SmolLM2's 49,152 ids and 1.2 ms with Qwen's 151,936 (benchmarks/guess_constraint.py), a few
  percent of a CPU model's step; a batch's rows are computed on llguidance's threads.

The version range is vLLM's (``llguidance>=1.7``): vLLM pins the library it uses, and both must
install together where a notebook adds vLLM.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from rft.generation import eos_token_ids, forced_to_run_on

# llguidance builds its lexer's states as generation first reaches them, each paid from a step's
# "fuel". The allowed words make one large regex, and the first step into a word's subtree can cost
# more than the default (200,000): a step that runs out leaves its row in an error state. Steps are
# paid once per state, so a generous budget costs time once, never in every step.
STEP_LEXER_FUEL = 50_000_000
MAX_LEXER_STATES = 2_000_000


class Language:
    """A regex compiled once per tokenizer and vocabulary width; :meth:`processor` hands out a
    fresh logits processor per ``generate`` call (each row keeps its own matcher)."""

    def __init__(self, regex: str, tokenizer: Any, stop_ids: Sequence[int]) -> None:
        if not stop_ids:
            raise ValueError("stop_ids: at least one end-of-sequence token is needed to end a completion")
        self.regex, self.tokenizer, self.stop_ids = regex, tokenizer, list(stop_ids)
        self._matchers: dict[int, Any] = {}  # vocabulary width → a matcher at the start, to copy
        self._executor: Any = None

    @property
    def executor(self) -> Any:
        """llguidance's thread pool, which computes a batch's masks in parallel."""
        if self._executor is None:
            import llguidance

            self._executor = llguidance.LLExecutor()
        return self._executor

    def start(self, vocabulary: int) -> Any:
        """A matcher at the start of a completion, for a model whose logits have ``vocabulary``
        entries (a model's output width often exceeds its tokenizer's ids: those ids are never
        allowed, as they spell nothing). Compiling takes about a second; copying, microseconds."""
        if vocabulary not in self._matchers:
            import llguidance
            import llguidance.hf

            tokenizer = llguidance.hf.from_tokenizer(
                self.tokenizer, n_vocab=vocabulary, eos_token=self.stop_ids
            )
            grammar = llguidance.LLMatcher.grammar_from_regex(self.regex)
            limits = llguidance.LLParserLimits(
                step_lexer_fuel=STEP_LEXER_FUEL, max_lexer_states=MAX_LEXER_STATES
            )
            matcher = llguidance.LLMatcher(tokenizer, grammar, log_level=0, limits=limits)
            if matcher.is_error():
                raise ValueError(f"the regex does not compile: {matcher.get_error()}")
            self._matchers[vocabulary] = matcher
        return self._matchers[vocabulary].deep_copy()

    def processor(self) -> HeldToLanguage:
        return HeldToLanguage(self)


class HeldToLanguage:
    """A logits processor (transformers calls it with the ids so far and the next token's scores)
    that leaves each row only the tokens that keep its completion inside the language. One instance
    serves one ``generate`` call: it takes the prompt's length from the first step, so the prompt
    (an earlier turn's answer in a whole-game chat included) is never read. A row that has ended
    (its matcher consumed an end-of-sequence token) is left alone: ``generate`` pads it from then on.
    A row that leaves the language anyway is an error, never a row silently let free."""

    def __init__(self, language: Language) -> None:
        self.language = language
        self.prompt_length: int | None = None
        self.consumed = 0  # ids seen so far: the prompt, then what the matchers were fed
        self.matchers: list[Any] = []
        self.ended: set[int] = set()  # rows that wrote an end-of-sequence token
        self.bits: Any = None  # one bit per token and row: allowed or not
        self.positions: Any = None

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import llguidance.torch
        import torch

        if self.prompt_length is None:
            self.prompt_length = input_ids.shape[1]
            vocabulary = scores.shape[-1]
            self.matchers = [self.language.start(vocabulary) for _ in range(input_ids.shape[0])]
            self.bits = torch.zeros(
                llguidance.torch.get_bitmask_shape(input_ids.shape[0], vocabulary), dtype=torch.int32
            )
            self.positions = torch.arange(8, dtype=torch.uint8)  # bit i of each byte: token 8k+i
            self.consumed = self.prompt_length
        if input_ids.shape[1] > self.consumed:  # feed each row the tokens written since the last step
            for row, tokens in enumerate(input_ids[:, self.consumed :].tolist()):
                for token in tokens:
                    if row in self.ended:
                        break  # generate pads an ended row from here on
                    self.matchers[row].consume_token(token)
                    if token in self.language.stop_ids:
                        self.ended.add(row)
            self.consumed = input_ids.shape[1]
        # A finished answer leaves its matcher stopped, and its mask holds only the end of sequence.
        held = [(matcher, row) for row, matcher in enumerate(self.matchers) if row not in self.ended]
        if not held:
            return scores
        self.bits.fill_(-1)  # an ended row allows everything: generate replaces its token anyway
        llguidance.torch.fill_next_token_bitmask_par(self.language.executor, held, self.bits)
        for matcher, _ in held:
            if matcher.is_error():  # a token another processor forced, or a budget spent
                raise RuntimeError(f"generation left the answer's language: {matcher.get_error()}")
        flags = (self.bits.view(torch.uint8).unsqueeze(-1) >> self.positions) & 1
        refused = (
            flags.flatten(1)[:, : scores.shape[-1]] == 0
        )  # computed on the CPU, applied where scores are
        scores.masked_fill_(refused.to(scores.device, non_blocking=True), float("-inf"))
        return scores


def hold_answers(model: Any, tokenizer: Any, regex: str) -> None:
    """From now on, every ``model.generate`` call keeps its completions inside the language of
    ``regex`` (every token that ends a sequence ends one there, where the regex allows it).

    Applied, like :func:`rft.generation.end_turns_after_answer`, on the innermost model, so that
    every caller is held: TRL's GRPOTrainer (single turns), our own batched generation (whole
    games, evaluation, ``rft play``, the notebooks), and a PEFT model added later. A call forced to
    full length (``min_new_tokens``: ``rft preflight`` measures the worst case) runs free: a
    finished answer allows only the end of the sequence, which that call forbids. Applied once."""
    target = model.get_base_model() if hasattr(model, "get_base_model") else model
    if getattr(target.generate, "held_to", None) is not None:
        return
    original = target.generate
    language = Language(regex, tokenizer, eos_token_ids(model, tokenizer))

    @functools.wraps(original)
    def generate(*args: Any, **kwargs: Any) -> Any:
        from transformers import LogitsProcessorList

        processors = LogitsProcessorList(kwargs.pop("logits_processor", None) or [])
        if not forced_to_run_on(kwargs):
            processors.append(language.processor())
        return original(*args, logits_processor=processors, **kwargs)

    generate.held_to = language  # type: ignore[attr-defined]
    target.generate = generate


def held_to(model: Any) -> Language | None:
    """The language ``model``'s generation is held to, if any."""
    target = model.get_base_model() if hasattr(model, "get_base_model") else model
    return getattr(target.generate, "held_to", None)
