"""What holding guesses to allowed words (``constrain_guesses``, rft.constrained) costs a generated token.

Two measurements, each short:

1. Generation: the same Wordle prompts (held-out states, the preset's prompt style), sampled at
   temperature 1 with the same seed, free and held, on SmolLM2-135M (``cpu-smollm2-wordle``) and the
   tiny random model (``tiny-test``). Figures: seconds per generated token for each arm, and the
   time spent in the constraint's logits processor per row and step (its own cost, apart from the
   model's).
2. The mask alone, inside the tag: ``<guess>WORD</guess>`` for 400 allowed words (either case),
   replayed token by token through a matcher that computes each step's mask, with the SmolLM2 and
   the Qwen 2.5 tokenizers. A first pass pays for the lexer states it reaches first; a second pass
   over the same words is the steady cost.

Usage: ``HF_HUB_OFFLINE=1 python benchmarks/guess_constraint.py`` (a few minutes on 2 cores). Writes
results/guess_constraint.json. Timings on a shared machine move with its load: the file records the
load average beside them.
"""

from __future__ import annotations

import functools
import os
import random
import time
from typing import Any

from _results import write

from rft.constrained import HeldToLanguage, Language, held_to, hold_answers
from rft.generation import generate_from_ids
from rft.models import load_base
from rft.training.presets import get_preset
from rft.wordle.dataset import build_rows
from rft.wordle.guess_language import guess_regex
from rft.wordle.words import allowed_words

ROWS, MAX_NEW_TOKENS, WORDS = 8, 96, 400


class TimedProcessor(HeldToLanguage):
    """The constraint's processor, timing each of its calls and counting the rows it holds."""

    seconds = 0.0
    row_steps = 0

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        start = time.perf_counter()
        scores = super().__call__(input_ids, scores)
        TimedProcessor.seconds += time.perf_counter() - start
        TimedProcessor.row_steps += input_ids.shape[0]
        return scores


def prompts(loaded: Any, preset: Any) -> list[list[int]]:
    """GRPO's first ROWS game states for the preset (boards part-played), as it prompts them."""
    from dataclasses import replace

    config = replace(preset.dataset, num_rows=ROWS)
    rows = build_rows(config, seed=0, progress=False)
    texts = [
        loaded.tokenizer.apply_chat_template(row["prompt"], tokenize=False, add_generation_prompt=True)
        for row in rows
    ]
    return [loaded.tokenizer(text, add_special_tokens=False)["input_ids"] for text in texts]


def generation(preset_name: str) -> dict[str, Any]:
    preset = get_preset(preset_name)
    loaded = load_base(preset)
    sequences = prompts(loaded, preset)
    figures: dict[str, Any] = {}
    for arm in ("free", "held"):
        if arm == "held":
            hold_answers(loaded.model, loaded.tokenizer, guess_regex())
            language = held_to(loaded.model)
            language.processor = functools.partial(TimedProcessor, language)  # type: ignore[method-assign]
            language.start(loaded.model.get_output_embeddings().weight.shape[0])  # compiled before timing
        TimedProcessor.seconds, TimedProcessor.row_steps = 0.0, 0
        start = time.perf_counter()
        written = generate_from_ids(
            loaded.model, loaded.tokenizer, sequences, [MAX_NEW_TOKENS] * ROWS, 1.0, ROWS, 0, "</guess>"
        )
        seconds = time.perf_counter() - start
        tokens = sum(len(ids) for ids in written)
        texts = [loaded.tokenizer.decode(ids, skip_special_tokens=True) for ids in written]
        figures[arm] = {
            "seconds": round(seconds, 2),
            "generated_tokens": tokens,
            "ms_per_token": round(1000 * seconds / tokens, 2),
            "rows_that_guessed": sum("</guess>" in text for text in texts),
        }
        if arm == "held":
            figures[arm]["constraint_seconds"] = round(TimedProcessor.seconds, 3)
            figures[arm]["constraint_us_per_row_step"] = round(
                1e6 * TimedProcessor.seconds / max(TimedProcessor.row_steps, 1), 1
            )
    figures["held_over_free_per_token"] = round(
        figures["held"]["ms_per_token"] / figures["free"]["ms_per_token"], 3
    )
    return figures


def mask_replay(tokenizer: Any) -> dict[str, Any]:
    language = Language(guess_regex(), tokenizer, [tokenizer.eos_token_id])
    start = time.perf_counter()
    language.start(len(tokenizer))
    compile_seconds = time.perf_counter() - start
    pick = random.Random(0)
    words = [word.upper() if pick.random() < 0.5 else word for word in pick.sample(allowed_words(), WORDS)]
    encoded = tokenizer([f"<guess>{word}</guess>" for word in words], add_special_tokens=False)["input_ids"]
    passes = []
    for _ in range(2):
        masks, seconds = 0, 0.0
        for ids in encoded:
            matcher = language.start(len(tokenizer))
            for token in ids:
                begin = time.perf_counter()
                matcher.compute_bitmask()
                seconds += time.perf_counter() - begin
                masks += 1
                assert matcher.consume_token(token)
        passes.append({"masks": masks, "us_per_mask": round(1e6 * seconds / masks, 1)})
    return {
        "vocabulary": len(tokenizer),
        "compile_seconds": round(compile_seconds, 2),
        "first_pass": passes[0],
        "second_pass": passes[1],
    }


def main() -> None:
    from transformers import AutoTokenizer

    from rft.runtime import default_cache_dir
    from rft.training.policy import embedded_model_dir
    from rft.weights import QWEN_CODER_05B, shipped_tokenizer_dir

    load_before = os.getloadavg()
    figures: dict[str, Any] = {
        "rows": ROWS,
        "max_new_tokens": MAX_NEW_TOKENS,
        "temperature": 1.0,
        "generation": {name: generation(name) for name in ("cpu-smollm2-wordle", "tiny-test")},
        "mask_inside_the_tag": {
            "smollm2": mask_replay(AutoTokenizer.from_pretrained(embedded_model_dir())),
            "qwen2.5": mask_replay(
                AutoTokenizer.from_pretrained(shipped_tokenizer_dir(QWEN_CODER_05B, default_cache_dir()))
            ),
            "words": WORDS,
        },
        "load_average": {
            "before": [round(x, 2) for x in load_before],
            "after": [round(x, 2) for x in os.getloadavg()],
        },
    }
    write(
        "guess_constraint",
        figures,
        parent=None,
        changes="none (free and held generation, both in this file)",
    )


if __name__ == "__main__":
    main()
