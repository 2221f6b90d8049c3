"""The CPU fallback that lets TRL 1.15 (the version set GPU users install) train on a CPU: it must give
the values and gradients of an unfused reference, and, where TRL 1.16 is installed, of TRL's own
kernel, which has a CPU path there."""

from __future__ import annotations

from importlib import metadata

import pytest
import torch

from rft.training.trl_compat import (
    CpuOrKernelLogProbs,
    chunked_log_probs,
    enable_cpu_training,
    needs_cpu_fallback,
)

ALL_OUTPUTS = ("log_probs", "entropy", "log_sum_sq_probs", "mean_logits", "is_top1")
CASES = {
    "plain": {"bias": False, "softcap": None, "scale": 1.0, "temperature": 1.0},
    "temperature": {"bias": False, "softcap": None, "scale": 1.0, "temperature": 0.7},
    "bias, softcap, scale": {"bias": True, "softcap": 30.0, "scale": 0.5, "temperature": 0.9},
}


def inputs(case: dict, seed: int = 0) -> dict:
    generator = torch.Generator().manual_seed(seed)
    tokens, hidden_size, vocab = 11, 16, 37
    return {
        "hidden": torch.randn(tokens, hidden_size, generator=generator, requires_grad=True),
        "weight": torch.randn(vocab, hidden_size, generator=generator, requires_grad=True),
        "bias": torch.randn(vocab, generator=generator, requires_grad=True) if case["bias"] else None,
        "targets": torch.randint(0, vocab, (tokens,), generator=generator),
        "temperature": case["temperature"],
        "chunk_size": 8,  # smaller than the vocabulary, so TRL's kernel really works in chunks
        "final_logit_softcapping": case["softcap"],
        "logit_scale": case["scale"],
        "outputs": ALL_OUTPUTS,
    }


def unfused(case_inputs: dict) -> dict[str, torch.Tensor]:
    """Every output written the obvious way, from the whole logits matrix."""
    logits = case_inputs["hidden"] @ case_inputs["weight"].t()
    if case_inputs["bias"] is not None:
        logits = logits + case_inputs["bias"]
    logits = logits * case_inputs["logit_scale"]
    if (cap := case_inputs["final_logit_softcapping"]) is not None:
        logits = cap * torch.tanh(logits / cap)
    logits = logits / case_inputs["temperature"]
    distribution = torch.distributions.Categorical(logits=logits)
    return {
        "log_probs": distribution.log_prob(case_inputs["targets"]),
        "entropy": distribution.entropy(),
        "log_sum_sq_probs": (distribution.probs**2).sum(-1).log(),
        "mean_logits": logits.mean(-1),
        "is_top1": logits.argmax(-1) == case_inputs["targets"],
    }


def gradients(values: torch.Tensor, case_inputs: dict) -> list[torch.Tensor]:
    leaves = [t for t in (case_inputs["hidden"], case_inputs["weight"], case_inputs["bias"]) if t is not None]
    return list(torch.autograd.grad(values.sum(), leaves))


@pytest.mark.parametrize("case", CASES.values(), ids=list(CASES))
def test_fallback_equals_the_unfused_reference_with_its_gradients(case):
    ours, reference = inputs(case), inputs(case)
    values = dict(zip(ALL_OUTPUTS, chunked_log_probs(**ours)))
    expected = unfused(reference)
    for name in ALL_OUTPUTS:
        torch.testing.assert_close(values[name], expected[name], msg=lambda m, name=name: f"{name}: {m}")
    trained = values["log_probs"] + 0.3 * values["entropy"]
    for got, want in zip(
        gradients(trained, ours), gradients(expected["log_probs"] + 0.3 * expected["entropy"], reference)
    ):
        torch.testing.assert_close(got, want)
    assert not values["log_sum_sq_probs"].requires_grad  # logged by TRL, never trained on


def test_only_the_requested_outputs_are_computed():
    values = chunked_log_probs(**{**inputs(CASES["plain"]), "outputs": ("log_probs",)})
    assert values[0] is not None and values[1:] == (None, None, None, None)


@pytest.mark.skipif(needs_cpu_fallback(), reason="TRL 1.16's kernel (with a CPU path) is the reference")
@pytest.mark.parametrize("case", CASES.values(), ids=list(CASES))
def test_fallback_equals_trl_1_16s_own_kernel_on_cpu(case):
    from trl.kernels import ChunkedLogProbFunction

    ours, theirs = inputs(case), inputs(case)
    mine = chunked_log_probs(**ours)
    trl_values = ChunkedLogProbFunction.apply(*theirs.values())
    for name, got, want in zip(ALL_OUTPUTS, mine, trl_values):
        if name == "is_top1":
            assert torch.equal(got, want)
        else:
            torch.testing.assert_close(got, want, msg=lambda m, name=name: f"{name}: {m}")
    trained = (mine[0] + 0.3 * mine[1], trl_values[0] + 0.3 * trl_values[1])
    for got, want in zip(gradients(trained[0], ours), gradients(trained[1], theirs)):
        torch.testing.assert_close(got, want)


def test_cpu_tensors_get_plain_torch_and_other_devices_keep_the_kernel(monkeypatch):
    calls = []

    class Kernel:
        @staticmethod
        def apply(hidden, *args):
            calls.append(hidden.device.type)
            return ("kernel",)

    monkeypatch.setattr(CpuOrKernelLogProbs, "kernel", Kernel)
    case_inputs = inputs(CASES["plain"])
    assert CpuOrKernelLogProbs.apply(*case_inputs.values())[0].shape == (11,)
    on_gpu = case_inputs["hidden"].detach().to("meta")  # any device but the CPU: no GPU needed
    assert CpuOrKernelLogProbs.apply(on_gpu, *list(case_inputs.values())[1:]) == ("kernel",)
    assert calls == ["meta"]


def test_the_fallback_is_installed_into_trl_1_15_only():
    assert needs_cpu_fallback("1.15.0") and not needs_cpu_fallback("1.16.0")
    from trl.trainer import utils

    installed = enable_cpu_training()
    assert installed == needs_cpu_fallback(metadata.version("trl"))
    if installed:
        assert utils._ChunkedLogProbFunction is CpuOrKernelLogProbs
        assert enable_cpu_training() and CpuOrKernelLogProbs.kernel is not CpuOrKernelLogProbs  # idempotent
    else:
        assert utils._ChunkedLogProbFunction is not CpuOrKernelLogProbs
