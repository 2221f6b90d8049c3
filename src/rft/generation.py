"""Generation shared by training, evaluation and play, with one rule: a turn ends with its answer.

Everything the rewards and the game read is inside the answer's tags (``<guess>…</guess>``,
``<answer>…</answer>``). What a model writes after the closing tag is never read, yet it costs
generation time, and in GRPO it is trained on too: a small model that rambles on after its guess
fills the completion cap, gets truncated, and the format reward punishes the whole completion.
:class:`EndAfterAnswer` leaves the end-of-sequence token as the only choice once the closing tag is
written, so the sequence ends there as if the model had ended it. TRL then sees an ordinary end
(its completion mask, ``mask_truncated_completions``), and the end-of-sequence token is part of
what GRPO trains, so the model learns to stop where the answer stops.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from rft.prompt_cache import generate_sharing_prompts

# New tokens a turn when playing a model that no preset describes (a plain model folder or Hub id);
# a preset's own is Preset.eval_max_new_tokens.
EVAL_MAX_NEW_TOKENS = 160


def eos_token_ids(model: Any, tokenizer: Any) -> list[int]:
    """Every token that ends a sequence: the tokenizer's and the model's generation config's
    (instruct models often list two, e.g. Qwen's ``<|im_end|>`` and ``<|endoftext|>``)."""
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    ids = [configured] if isinstance(configured, int) else list(configured or [])
    if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in ids:
        ids.insert(0, tokenizer.eos_token_id)
    return ids


class EndAfterAnswer:
    """A logits processor (transformers calls it with the ids so far and the next token's scores)
    that forces ``eos_token_id`` as the next token of every row whose generated text has closed
    ``closing_tag``. One instance serves one ``generate`` call: it takes the prompt's length from
    the first step, so a tag inside the prompt never counts."""

    def __init__(self, tokenizer: Any, closing_tag: str, eos_token_id: int) -> None:
        if not closing_tag:
            raise ValueError("closing_tag must be a non-empty string such as '</guess>'")
        self.tokenizer, self.closing_tag, self.eos_token_id = tokenizer, closing_tag, eos_token_id
        # Enough trailing tokens to hold the tag however the model spells it in tokens (one token a
        # character at worst), so only the newest tokens are decoded at each step.
        self.window = len(closing_tag) + 2
        self.prompt_length: int | None = None

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        if self.prompt_length is None:
            self.prompt_length = input_ids.shape[1]
        generated = input_ids[:, self.prompt_length :]
        if generated.shape[1] == 0:
            return scores
        tails = self.tokenizer.batch_decode(generated[:, -self.window :], skip_special_tokens=True)
        closed = [row for row, text in enumerate(tails) if self.closing_tag in text]
        if closed:
            scores[closed, :] = float("-inf")
            scores[closed, self.eos_token_id] = 0.0
        return scores


def end_turns_after_answer(model: Any, tokenizer: Any, closing_tag: str) -> None:
    """From now on, every ``model.generate`` call ends each sequence right after ``closing_tag``.

    For generation code we do not call ourselves: TRL's GRPOTrainer calls ``model.generate`` with a
    generation config only, and a config cannot carry a logits processor (its ``stop_strings``
    would need the tokenizer in that call, and would not end with an end-of-sequence token, so TRL
    would see every stopped completion as truncated). The wrapper goes on the innermost model,
    which a PEFT model that TRL or Unsloth adds later still calls; it is applied once."""
    target = model.get_base_model() if hasattr(model, "get_base_model") else model
    if getattr(target.generate, "ends_after", None) is not None:
        return
    original = target.generate
    eos = tokenizer.eos_token_id

    @functools.wraps(original)
    def generate(*args: Any, **kwargs: Any) -> Any:
        from transformers import LogitsProcessorList

        processors = LogitsProcessorList(kwargs.pop("logits_processor", None) or [])
        if not forced_to_run_on(kwargs):
            processors.append(EndAfterAnswer(tokenizer, closing_tag, eos))
        return original(*args, logits_processor=processors, **kwargs)

    generate.ends_after = closing_tag  # type: ignore[attr-defined]
    target.generate = generate


def forced_to_run_on(kwargs: dict[str, Any]) -> bool:
    """A call that demands a minimum length (``rft preflight`` measures completions at full length)
    keeps its demand: ending early there would measure the best case instead of the worst."""
    config = kwargs.get("generation_config")
    return bool(kwargs.get("min_new_tokens") or getattr(config, "min_new_tokens", None))


def generate_completions(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    max_new_tokens: int,
    temperature: float = 0.0,
    batch_size: int = 32,
    seed: int = 0,
    end_after: str | None = None,
) -> list[str]:
    """What the model writes after each prompt (chat template already applied), in batches.

    Greedy when ``temperature`` is 0; sampling is seeded per batch so a call replays exactly. With
    ``end_after`` (a closing tag) each completion ends where that tag closes, as in training.
    """
    encoded = [tokenizer(prompt, add_special_tokens=False)["input_ids"] for prompt in prompts]
    limits = [max_new_tokens] * len(prompts)
    written = generate_from_ids(model, tokenizer, encoded, limits, temperature, batch_size, seed, end_after)
    return tokenizer.batch_decode(written, skip_special_tokens=True)


def generate_from_ids(
    model: Any,
    tokenizer: Any,
    sequences: Sequence[Sequence[int]],
    max_new_tokens: Sequence[int],
    temperature: float = 0.0,
    batch_size: int = 32,
    seed: int | None = 0,
    end_after: str | None = None,
    generation_config: Any = None,
) -> list[list[int]]:
    """The new token ids after each token sequence, at most ``max_new_tokens[i]`` for row ``i``,
    each ending at its first end-of-sequence token (kept: it is what the model wrote).

    For conversations kept in token space (whole games): a turn is generated after the exact ids
    of everything before it, never after a re-rendered chat. ``generation_config`` (a training
    run's sampling settings) replaces ``temperature``; ``seed`` None leaves torch's generator as
    the caller has it, so a training run's sampling stream is not reset every turn. A row whose
    turn was forced to full length (``min_new_tokens``, as preflight measures) runs on past the tag.
    """
    import copy

    import torch
    from transformers import LogitsProcessorList

    if len(max_new_tokens) != len(sequences):
        raise ValueError(f"{len(max_new_tokens)} token limits for {len(sequences)} sequences")
    stop_ids = eos_token_ids(model, tokenizer)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else stop_ids[0]
    forced = bool(getattr(generation_config, "min_new_tokens", None))
    new_ids: list[list[int]] = []
    for number, start in enumerate(range(0, len(sequences), batch_size)):
        rows = [list(ids) for ids in sequences[start : start + batch_size]]
        limits = list(max_new_tokens[start : start + batch_size])
        width = max(len(ids) for ids in rows)
        input_ids = torch.tensor([[pad] * (width - len(ids)) + ids for ids in rows], device=model.device)
        attention = torch.tensor(
            [[0] * (width - len(ids)) + [1] * len(ids) for ids in rows], device=model.device
        )
        processors = LogitsProcessorList()
        if end_after and not forced:
            processors.append(EndAfterAnswer(tokenizer, end_after, stop_ids[0]))
        if generation_config is not None:
            config = copy.deepcopy(generation_config)
            config.max_new_tokens = max(limits)
            if forced:  # a turn forced to full length is forced to its own cap, not past it
                config.min_new_tokens = min(config.min_new_tokens, max(limits))
            config.pad_token_id, config.eos_token_id = pad, stop_ids
            settings: dict[str, Any] = {"generation_config": config}
        else:
            sampling = temperature > 0
            settings = {
                "pad_token_id": pad,
                "eos_token_id": stop_ids,
                "max_new_tokens": max(limits),
                "do_sample": sampling,
                "temperature": temperature if sampling else None,
                "top_p": None,
                "top_k": None,
            }
        if seed is not None:
            torch.manual_seed(seed * 1_000_003 + number)
        with torch.inference_mode():  # pass@k repeats a prompt: prefilled once (rft.prompt_cache)
            output = generate_sharing_prompts(
                model.generate, model, input_ids, attention, logits_processor=processors, **settings
            )
        for row, limit in zip(output[:, width:].tolist(), limits):
            row = row[:limit]
            ends = [i for i, token in enumerate(row) if token in stop_ids]
            new_ids.append(row[: ends[0] + 1] if ends else row)
    return new_ids
