"""Where a training step's time goes, and how close each part came to the machine's matmul rate.

``rft preflight`` says how long a step takes; this says why. :class:`StepProfile` is a trainer
callback that times the last step it sees in parts: generation (the prompt's prefill, the
one-token decode steps, and what ``generate`` does around them), the log-prob forward, the
backward pass, the optimizer step, and the rest (rewards, the loss). For each part it counts the
token positions the model computed and the multiply-adds of its linear layers (every
``nn.Linear`` call, LoRA's included, and TRL's fused LM head; attention's own products are not
counted), and divides that work by the seconds it took and by this machine's matrix-multiply
rate, measured once in the same process in the dtype the model's weights are in. A share near 1
is a part the hardware bounds; a small share is time spent elsewhere (memory traffic, Python,
one-token matmuls), which is where a faster recipe finds its time.
"""

from __future__ import annotations

import functools
import time
from typing import Any

from transformers import TrainerCallback

PHASES = ("prefill", "decode", "generation_other", "log_prob_forward", "backward", "optimizer_step", "other")


def matmul_rate(dtype: Any, device: str = "cpu", size: int | None = None) -> dict[str, Any]:
    """This machine's matrix-multiply rate in ``dtype`` (FLOP/s), the best of a few square
    products: the ceiling each part of a step is compared with."""
    import torch

    size = size or (4096 if device == "cuda" else 1024)
    a = torch.randn(size, size, device=device).to(dtype)
    b = torch.randn(size, size, device=device).to(dtype)
    best = float("inf")
    for _ in range(4):  # the first warms up
        if device == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        torch.matmul(a, b)
        if device == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - started)
    return {"dtype": str(dtype).removeprefix("torch."), "size": size, "flops_per_second": 2 * size**3 / best}


class StepProfile(TrainerCallback):
    """Times the parts of each step (the last step's figures are kept in :attr:`report`).

    Installed for one training run by ``rft preflight``: hooks on the model's forward and every
    linear layer, a wrapper on its ``generate``, on ``Tensor.backward`` and on TRL's fused LM head,
    all removed when training ends."""

    def __init__(self) -> None:
        self.report: dict[str, Any] | None = None
        self.cuda = False
        self.rate: dict[str, Any] | None = None
        self._undo: list[Any] = []
        self._reset()

    def _reset(self) -> None:
        self.seconds = dict.fromkeys(PHASES, 0.0)
        self.tokens = dict.fromkeys(PHASES, 0)
        self.flops = dict.fromkeys(PHASES, 0.0)
        self.generating = False
        self.depth = 0  # nested forwards (PEFT around the model) are timed once, at the outermost
        self.phase = "other"
        self._inside = 0.0  # prefill and decode seconds when the last generate call ended

    # -- installing and removing the instruments ------------------------------------------

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        import torch

        inner = model.get_base_model() if hasattr(model, "get_base_model") else model
        weight = max((p for p in inner.parameters()), key=lambda p: p.numel())
        device = "cuda" if weight.device.type == "cuda" else "cpu"
        self.rate = matmul_rate(weight.dtype, device)
        self.cuda = device == "cuda"
        self.trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        for module in {model, inner}:
            self._undo.append(module.register_forward_pre_hook(self._forward_begins, with_kwargs=True))
            self._undo.append(module.register_forward_hook(self._forward_ends))
        for module in model.modules():
            if isinstance(module, torch.nn.Linear):
                self._undo.append(module.register_forward_hook(self._count_linear))
        self._wrap(inner, "generate", self._timed_generate)
        self._wrap(torch.Tensor, "backward", self._timed_backward)
        self._wrap_fused_head()

    def on_train_end(self, args, state, control, **kwargs):
        self.remove()

    def remove(self) -> None:
        """Every hook and wrapper off again (also where training failed before its end)."""
        while self._undo:
            undo = self._undo.pop()
            undo() if callable(undo) else undo.remove()

    def _wrap(self, owner: Any, name: str, wrapper: Any) -> None:
        had_own = name in vars(owner)
        original = getattr(owner, name)
        setattr(owner, name, functools.wraps(original)(wrapper(original)))
        self._undo.append(lambda: setattr(owner, name, original) if had_own else delattr(owner, name))

    def _wrap_fused_head(self) -> None:
        """TRL's fused LM head projects through the head's weight without calling the module: its
        work is counted where TRL looks the kernel up (at call time)."""
        try:
            import trl.trainer.utils as trl_utils
        except ImportError:
            return
        kernel = getattr(trl_utils, "_ChunkedLogProbFunction", None)
        if kernel is None:
            return
        profile = self

        class CountedKernel:
            @staticmethod
            def apply(hidden: Any, weight: Any, *rest: Any) -> Any:
                profile._count(profile.phase, 2.0 * hidden.shape[0] * weight.numel(), hidden, weight)
                return kernel.apply(hidden, weight, *rest)

        trl_utils._ChunkedLogProbFunction = CountedKernel
        self._undo.append(lambda: setattr(trl_utils, "_ChunkedLogProbFunction", kernel))

    # -- what the instruments record --------------------------------------------------------

    def _now(self) -> float:
        """The time, once the GPU's queued work is done (on a GPU a call returns before its work)."""
        if self.cuda:
            import torch

            torch.cuda.synchronize()
        return time.perf_counter()

    def _forward_begins(self, module, args, kwargs):
        import torch

        self.depth += 1
        if self.depth > 1:
            return
        ids = kwargs.get("input_ids", args[0] if args else None)
        positions = ids.shape[0] * ids.shape[1] if ids is not None and ids.dim() == 2 else 0
        if self.generating:
            self.phase = "prefill" if ids is not None and ids.shape[1] > 1 else "decode"
        else:
            self.phase = "log_prob_forward"
        self.tokens[self.phase] += positions
        if self.phase == "log_prob_forward" and torch.is_grad_enabled():
            self.tokens["backward"] += positions  # what the backward pass runs back through
        self._started = self._now()

    def _forward_ends(self, module, args, output):
        self.depth -= 1
        if self.depth == 0:
            self.seconds[self.phase] += self._now() - self._started
            self.phase = "generation_other" if self.generating else "other"

    def _count_linear(self, module, args, output):
        inputs = args[0]
        self._count(self.phase, 2.0 * inputs.numel() * module.out_features, inputs, module.weight)

    def _count(self, phase: str, flops: float, inputs: Any, weight: Any) -> None:
        import torch

        self.flops[phase] += flops
        if torch.is_grad_enabled():  # the backward's products: the input's gradient, a trained weight's
            self.flops["backward"] += flops * (bool(inputs.requires_grad) + bool(weight.requires_grad))

    def _timed_generate(self, generate):
        def timed(*args, **kwargs):
            self.generating, started = True, self._now()
            try:
                return generate(*args, **kwargs)
            finally:
                self.generating = False
                inside = self.seconds["prefill"] + self.seconds["decode"]
                self.seconds["generation_other"] += self._now() - started - (inside - self._inside)
                self._inside = inside

        return timed

    def _timed_backward(self, backward):
        def timed(tensor, *args, **kwargs):
            started = self._now()
            try:
                return backward(tensor, *args, **kwargs)
            finally:
                self.seconds["backward"] += self._now() - started

        return timed

    # -- per step ---------------------------------------------------------------------------

    def on_step_begin(self, args, state, control, **kwargs):
        self._reset()
        self.step_started = self._now()

    def on_pre_optimizer_step(self, args, state, control, **kwargs):
        self.optimizer_started = self._now()

    def on_optimizer_step(self, args, state, control, **kwargs):
        self.seconds["optimizer_step"] += self._now() - self.optimizer_started
        self.flops["optimizer_step"] = 0.0

    def on_step_end(self, args, state, control, **kwargs):
        step_seconds = self._now() - self.step_started
        self.seconds["other"] = max(
            0.0, step_seconds - sum(v for k, v in self.seconds.items() if k != "other")
        )
        rate = self.rate["flops_per_second"] if self.rate else None
        phases = {}
        for name in PHASES:
            seconds, flops = self.seconds[name], self.flops[name]
            phases[name] = {
                "seconds": round(seconds, 3),
                "tokens": self.tokens[name]
                if name in ("prefill", "decode", "log_prob_forward", "backward")
                else None,
                "gflop": round(flops / 1e9, 3),
                "share_of_matmul_rate": round(flops / seconds / rate, 4)
                if rate and seconds > 0 and flops
                else None,
            }
        total_flops = sum(self.flops.values())
        self.report = {
            "step": state.global_step,
            "step_seconds": round(step_seconds, 3),
            "matmul_rate": self.rate,
            "trainable_parameters": self.trainable,
            "phases": phases,
            "gflop": round(total_flops / 1e9, 3),
            # What the step's linear work would take at the measured rate, over what it took.
            "share_of_matmul_rate": round(total_flops / step_seconds / rate, 4) if rate else None,
        }


def profile_lines(profile: dict[str, Any]) -> list[str]:
    """The profile as a person reads it: one line a part."""
    rate = profile["matmul_rate"]
    lines = [
        f"step profile (step {profile['step']}, {profile['step_seconds']:.1f} s; this machine's "
        f"matmul rate {rate['flops_per_second'] / 1e9:.0f} GFLOP/s in {rate['dtype']}):"
    ]
    names = {
        "prefill": "generation: prefill",
        "decode": "generation: decode",
        "generation_other": "generation: sampling, stops",
        "log_prob_forward": "log-prob forward",
        "backward": "backward",
        "optimizer_step": "optimizer step",
        "other": "rewards, loss, the rest",
    }
    for name, label in names.items():
        part = profile["phases"][name]
        tokens = f"{part['tokens']:>8,} tokens" if part["tokens"] is not None else " " * 15
        share = part["share_of_matmul_rate"]
        lines.append(
            (
                f"    {label:<28} {part['seconds']:>8.2f} s {tokens}"
                + (f"  {share:6.1%} of the matmul rate" if share is not None else "")
            ).rstrip()
        )
    lines.append(f"    the whole step: {profile['share_of_matmul_rate']:.1%} of the matmul rate")
    return lines
