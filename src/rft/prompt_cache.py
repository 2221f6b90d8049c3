"""A prompt that several rows repeat is computed once: its keys and values, shared by its rows.

GRPO samples ``num_generations`` completions of each prompt, and TRL hands ``model.generate`` the
prompt that many times over; evaluation's pass@k sampling repeats a game state k times. On a CPU
the prompt's prefill is most of a short completion's cost, and each copy computes the same keys
and values. :func:`generate_sharing_prompts` prefills each distinct prompt once into a
transformers ``DynamicCache``, expands the cache to the rows (``batch_select_indices``), and hands
it to ``generate``, which then computes only the last prompt token and the new tokens of each row.
Everything else is ``generate``'s own: sampling settings, stops, logits processors, and the random
stream (a prefill draws nothing), so a seed gives the same tokens as before.

The helpers beside it are what the training forward (:mod:`rft.training.shared_prompt`) shares.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any


def generate_sharing_prompts(
    generate: Callable[..., Any], model: Any, input_ids: Any, attention_mask: Any, **settings: Any
) -> Any:
    """``generate(input_ids=…, attention_mask=…, **settings)``, with each distinct row of
    ``input_ids`` (its padding included) prefilled once. ``model`` is the model ``generate``
    belongs to (what the prefill runs). Where nothing repeats, or the call is one this cannot
    share (beams, several sequences a row, a cache of the caller's or of another kind, a cache that
    a sliding window or gradient checkpointing would cut), ``generate`` runs as it was called."""
    import torch
    from transformers import DynamicCache

    if not can_share(model, input_ids, attention_mask, settings):
        return generate(input_ids=input_ids, attention_mask=attention_mask, **settings)
    key = torch.cat([input_ids, attention_mask.to(input_ids.dtype)], dim=1)
    distinct, row_of = torch.unique(key, dim=0, return_inverse=True)
    if distinct.size(0) == input_ids.size(0):
        return generate(input_ids=input_ids, attention_mask=attention_mask, **settings)
    width = input_ids.size(1)
    distinct_ids, distinct_mask = distinct[:, :width], distinct[:, width:].to(attention_mask.dtype)
    # generate's positions: counted from each row's first real token (left padding at 0)
    positions = (distinct_mask.long().cumsum(-1) - 1).masked_fill(distinct_mask == 0, 0)
    cache = DynamicCache()
    name = cache_argument(model)
    with torch.no_grad():  # the last prompt token is left to generate: it scores the first new token
        model(
            input_ids=distinct_ids[:, :-1],
            attention_mask=distinct_mask[:, :-1],
            position_ids=positions[:, :-1],
            use_cache=True,
            logits_to_keep=1,
            **{name: cache},
        )
    cache.batch_select_indices(row_of)
    return generate(input_ids=input_ids, attention_mask=attention_mask, **settings, **{name: cache})


def can_share(model: Any, input_ids: Any, attention_mask: Any, settings: dict[str, Any]) -> bool:
    """Whether a ``generate`` call with these settings can start from a shared prefill."""
    if attention_mask is None or input_ids is None or input_ids.dim() != 2 or input_ids.size(1) < 2:
        return False
    if any(settings.get(name) is not None for name in ("past_key_values", "cache", "inputs_embeds")):
        return False
    if settings.get("assistant_model") is not None or checkpointing_drops_cache(model):
        return False
    if patched_by_unsloth(model):  # Unsloth's fast forward keeps its own cache (PrefixGrouper's)
        return False
    config = settings.get("generation_config") or getattr(model, "generation_config", None)
    for name in ("num_beams", "num_return_sequences"):
        if (settings.get(name) or getattr(config, name, None) or 1) > 1:
            return False
    if settings.get("cache_implementation") or getattr(config, "cache_implementation", None):
        return False  # a cache of generate's own making (static, offloaded) is asked for
    return full_attention_only(model.config)


def share_prompts_in_generate(model: Any) -> None:
    """From now on, ``model.generate`` prefills each distinct prompt of a batch once (TRL's
    GRPOTrainer calls it with each prompt repeated ``num_generations`` times). Like
    :func:`rft.generation.end_turns_after_answer`, the wrapper goes on the innermost model, which a
    PEFT model added later still calls; it is applied once."""
    target = model.get_base_model() if hasattr(model, "get_base_model") else model
    if getattr(target.generate, "shares_prompts", False):
        return
    original = target.generate

    @functools.wraps(original)
    def generate(*args: Any, **kwargs: Any) -> Any:
        if args or "input_ids" not in kwargs:  # a positional call: left as it came
            return original(*args, **kwargs)
        input_ids, attention_mask = kwargs.pop("input_ids"), kwargs.pop("attention_mask", None)
        return generate_sharing_prompts(original, target, input_ids, attention_mask, **kwargs)

    generate.shares_prompts = True  # type: ignore[attr-defined]
    target.generate = generate


def innermost(model: Any) -> Any:
    """The transformers model under PEFT's and accelerate's wrappers."""
    base = model
    while hasattr(base, "get_base_model") or hasattr(base, "module"):
        base = base.get_base_model() if hasattr(base, "get_base_model") else base.module
    return base


def cache_argument(model: Any) -> str:
    """The name a model's forward takes a cache by: ``cache`` from transformers 5.2x on,
    ``past_key_values`` before (5.17, the GPU version set)."""
    parameters = inspect.signature(type(innermost(model)).forward).parameters
    return "cache" if "cache" in parameters else "past_key_values"


def patched_by_unsloth(model: Any) -> bool:
    """Whether Unsloth replaced the model class's forward with its own (it does on import, for the
    models it loads): its generation and cache are its own, so no prefill of ours is handed to it."""
    module = getattr(type(innermost(model)).forward, "__module__", None) or ""
    return module.split(".")[0] in ("unsloth", "unsloth_zoo")


def full_attention_only(config: Any) -> bool:
    """Whether every layer attends to the whole sequence: a sliding-window layer's cache keeps only
    the window, and a prompt longer than it would be cut."""
    text_config = config.get_text_config()
    layer_types = getattr(text_config, "layer_types", None)
    if layer_types:
        return all(kind == "full_attention" for kind in layer_types)
    return getattr(text_config, "sliding_window", None) is None


def checkpointing_drops_cache(model: Any) -> bool:
    """Whether gradient checkpointing is on in training mode: transformers' checkpointed layers
    then drop any cache they are given (5.17 even without gradients)."""
    return any(getattr(module, "gradient_checkpointing", False) is True for module in model.modules()) and (
        model.training
    )
