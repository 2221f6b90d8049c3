"""TRL 1.15 on a CPU: the one gap between the version set GPU users install and a machine without one.

Unsloth pins ``trl<=1.15``, and TRL 1.15 gives every GRPO and SFT model a fused LM head whose log-prob
kernel (``trl.trainer.utils._ChunkedLogProbFunction``) is written in Triton. Triton ships with
PyTorch's CUDA builds only, so on a CPU the kernel is ``None`` and the first training step fails
(``'NoneType' object has no attribute 'apply'``). TRL 1.16 falls back to plain torch by itself.

:func:`enable_cpu_training` gives TRL 1.15 that fallback: CPU tensors get full-vocabulary
``log_softmax`` in plain torch (gradients by autograd), every other device keeps TRL's own kernel.
It is applied where training starts (``rft.training.run``), so a notebook that installed
``requirements.txt`` on a runtime without a GPU still trains the CPU presets. Newer TRL is left
untouched.
"""

from __future__ import annotations

from importlib import metadata
from typing import Any

from packaging.version import Version

# TRL from this version on has a CPU path of its own.
TRL_WITH_CPU_FALLBACK = Version("1.16")


def chunked_log_probs(
    hidden: Any,
    weight: Any,
    bias: Any,
    targets: Any,
    temperature: float,
    chunk_size: int,
    final_logit_softcapping: float | None = None,
    logit_scale: float = 1.0,
    outputs: tuple[str, ...] = ("log_probs",),
) -> tuple[Any, Any, Any, Any, Any]:
    """The per-token values TRL's chunked kernel returns, computed on the full ``[N, V]`` logits.

    Same arguments and the same five results (log-probs, then entropy, ``log Σ p²``, the mean logit
    and whether the target is the top token, each ``None`` unless named in ``outputs``). On a CPU
    the logits of a completion batch fit in memory, which is what the kernel exists to avoid on a
    GPU; ``chunk_size`` is accepted for the same signature and not needed.
    """
    import torch

    logits = hidden.float() @ weight.float().t()
    if bias is not None:
        logits = logits + bias.float()
    logits = logits * logit_scale
    if final_logit_softcapping is not None:
        logits = final_logit_softcapping * torch.tanh(logits / final_logit_softcapping)
    logits = logits / temperature
    log_softmax = torch.log_softmax(logits, dim=-1)
    log_probs = log_softmax.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    entropy = log_sum_sq_probs = mean_logits = is_top1 = None
    if "entropy" in outputs:
        entropy = -(log_softmax.exp() * log_softmax).sum(-1)
    with torch.no_grad():  # TRL marks these three non-differentiable: they are logged, not trained on
        if "log_sum_sq_probs" in outputs:
            log_sum_sq_probs = torch.logsumexp(2 * log_softmax, dim=-1)
        if "mean_logits" in outputs:
            mean_logits = logits.mean(-1)
        if "is_top1" in outputs:  # as the kernel counts it: a tie goes to the earlier token
            is_top1 = logits.argmax(-1) == targets
    return log_probs, entropy, log_sum_sq_probs, mean_logits, is_top1


class CpuOrKernelLogProbs:
    """Stands where TRL 1.15 looks up its kernel: plain torch for CPU tensors, the kernel elsewhere."""

    kernel: Any = None  # TRL's own ChunkedLogProbFunction, None where Triton is missing

    @classmethod
    def apply(cls, hidden: Any, *args: Any) -> tuple[Any, Any, Any, Any, Any]:
        if hidden.device.type == "cpu" or cls.kernel is None:
            return chunked_log_probs(hidden, *args)
        return cls.kernel.apply(hidden, *args)


def needs_cpu_fallback(trl_version: str | None = None) -> bool:
    """Whether the installed TRL (or ``trl_version``) lacks a CPU path for its fused LM head."""
    version = Version(trl_version or metadata.version("trl"))
    return version < TRL_WITH_CPU_FALLBACK


def enable_cpu_training() -> bool:
    """Install the CPU fallback into TRL 1.15 (once); True when it is in place, False for a TRL that
    needs none. TRL looks the kernel up when a forward runs, so this works at any time before."""
    if not needs_cpu_fallback():
        return False
    from trl.trainer import utils

    current = getattr(utils, "_ChunkedLogProbFunction", None)
    if current is not CpuOrKernelLogProbs:
        CpuOrKernelLogProbs.kernel = current
        utils._ChunkedLogProbFunction = CpuOrKernelLogProbs
    return True
