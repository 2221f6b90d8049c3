"""The bottom floor: what every layer asks of the machine it runs on. Is there a CUDA GPU, can
Unsloth run, which dtype, is a package installed, where the cache lives, and memory given back.
It imports nothing of ours, so loading, training, evaluation, export and the notebooks all use it
without reaching into each other."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

from platformdirs import user_cache_dir


def default_cache_dir() -> Path:
    """``$RFT_CACHE_DIR`` if set, else the platform's user cache folder (e.g. ~/.cache/rft): the
    solver's pattern matrix and the converted models live there, never in the repository. A path
    that cannot be a folder (a file, or inside one) is a ``ValueError`` naming the variable, not a
    ``NotADirectoryError`` from deep inside whatever writes there first."""
    given = os.environ.get("RFT_CACHE_DIR")
    folder = Path(given or user_cache_dir("rft", appauthor=False))
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        where = "" if existing == folder else f" ({existing} is a file)"
        name = f"RFT_CACHE_DIR={given}" if given else f"the cache folder {folder}"
        raise ValueError(f"{name} is not a folder{where}: point RFT_CACHE_DIR at a folder rft may write")
    return folder


class MissingDependencyError(ImportError):
    """An optional package a preset needs is not installed; the message has the pip command."""


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def import_unsloth_first() -> bool:
    """Import Unsloth before trl, transformers or peft, where it can run (a CUDA GPU, Unsloth
    installed): it patches them on import, and when it comes second it warns that training may be
    slower or run out of memory. True when Unsloth is now imported."""
    if not unsloth_usable():
        return False
    import unsloth  # noqa: F401

    return True


def release_memory() -> None:
    """Collect models nobody references any more and hand their GPU memory back."""
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def inference_dtype(model_name: str) -> Any:
    """The dtype to run a model in on a GPU: bf16 where the GPU has it natively (Ampere and later);
    on a T4, fp16, except for Gemma, whose activations overflow fp16 and give NaN logits, so it
    runs in fp32 there (a 1B model in fp32 still fits a T4)."""
    import torch

    if torch.cuda.is_available() and torch.cuda.get_device_capability()[0] >= 8:
        return torch.bfloat16
    return torch.float32 if "gemma" in model_name.lower() else torch.float16


def require(module: str, install: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise MissingDependencyError(f"this needs the package {module!r}; install it with: {install}")


def cpu_has_bf16() -> bool:
    """The CPU multiplies bfloat16 natively (AVX512-BF16 or AMX): there bf16 weights run about
    twice as fast as fp32 (benchmarks/cpu_bf16.py); elsewhere torch emulates bf16, slower than fp32."""
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:  # not Linux: no cheap way to ask, so fp32
        return False
    return any(flag in flags.split() for flag in ("avx512_bf16", "amx_bf16"))


def unsloth_usable() -> bool:
    """Unsloth installed and a CUDA GPU to run it on."""
    return importlib.util.find_spec("unsloth") is not None and cuda_available()
