"""The GRPO objective in four small pieces, on plain tensors, for reading and for plots.

For a prompt, GRPO samples a group of G completions, scores each with the rewards, and pushes up
the tokens of the completions that did better than their group:

1. **probability ratio** ``r = π_θ(token) / π_old(token)``: how much the update changed a token's
   probability (1 before the first update of a batch);
2. **group-relative advantage** ``A = (R - mean(R_group)) / (std(R_group) + ε)``: a completion is
   good or bad only relative to its siblings, so no value network is needed;
3. **clipping** ``min(r·A, clip(r, 1-ε_low, 1+ε_high)·A)``: once a token's ratio leaves the trust
   region in the direction the advantage wants, the gradient stops;
4. **KL penalty** ``β·(π_ref/π_θ - log(π_ref/π_θ) - 1)``: a per-token estimate of the divergence
   from the starting model, always >= 0 (off when β = 0, TRL's default).

The loss is the negative of (3) plus (4), averaged over completion tokens. How the average is taken
is TRL's ``loss_type``; ``tests/test_grpo_math.py`` checks :func:`grpo_loss` against TRL's own
``GRPOTrainer`` on identical inputs for each of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

LOSS_TYPES = ("grpo", "bnpo", "dr_grpo", "dapo")


def token_logps(
    model: Any,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    completion_length: int,
    temperature: float = 1.0,
) -> torch.Tensor:
    """log π(token) for the last ``completion_length`` tokens of each row, shape (batch, length).

    The logits at position t predict token t+1, hence the shift by one. Dividing by the sampling
    temperature scores the tokens under the distribution they were sampled from.
    """
    logits = model(input_ids=input_ids, attention_mask=attention_mask).logits
    logits = logits[:, -completion_length - 1 : -1, :].float() / temperature
    completion_ids = input_ids[:, -completion_length:]
    return torch.log_softmax(logits, dim=-1).gather(-1, completion_ids.unsqueeze(-1)).squeeze(-1)


def probability_ratio(logps: torch.Tensor, old_logps: torch.Tensor) -> torch.Tensor:
    """π_θ / π_old per token, computed in log space so tiny probabilities do not underflow."""
    return torch.exp(logps - old_logps)


def group_advantages(
    rewards: torch.Tensor, group_size: int, scale: bool = True, eps: float = 1e-4
) -> torch.Tensor:
    """Each reward minus its group's mean, divided by the group's (sample) std when ``scale``.

    ``rewards`` holds consecutive groups: G completions of prompt 1, then G of prompt 2, ...
    A group whose completions all scored the same gets advantage 0: nothing to learn from it.
    """
    if rewards.numel() % group_size:
        raise ValueError(f"{rewards.numel()} rewards do not split into groups of {group_size}")
    groups = rewards.view(-1, group_size)
    advantages = groups - groups.mean(dim=1, keepdim=True)
    if scale:
        advantages = advantages / (groups.std(dim=1, keepdim=True) + eps)
    return advantages.reshape(-1)


def clipped_surrogate(
    ratio: torch.Tensor, advantages: torch.Tensor, epsilon_low: float = 0.2, epsilon_high: float | None = None
) -> torch.Tensor:
    """PPO's pessimistic objective per token: the smaller of the plain and the clipped ratio times A."""
    epsilon_high = epsilon_low if epsilon_high is None else epsilon_high
    advantages = advantages.unsqueeze(-1) if advantages.dim() == 1 else advantages
    clipped = torch.clamp(ratio, 1 - epsilon_low, 1 + epsilon_high)
    return torch.min(ratio * advantages, clipped * advantages)


def kl_penalty(logps: torch.Tensor, ref_logps: torch.Tensor) -> torch.Tensor:
    """The k3 estimator of KL(π_θ ‖ π_ref) per token: unbiased, and never negative."""
    log_ratio = ref_logps - logps
    return torch.exp(log_ratio) - log_ratio - 1


def aggregate(
    per_token_loss: torch.Tensor, mask: torch.Tensor, loss_type: str, max_completion_length: int | None = None
) -> torch.Tensor:
    """Average over completion tokens, the way each ``loss_type`` does it.

    - ``grpo``: mean over each completion, then over completions (long answers weigh less per token);
    - ``bnpo`` and ``dapo``: one mean over every token in the batch (TRL's default is ``dapo``);
    - ``dr_grpo``: sum over tokens divided by batch size × the maximum completion length.
    """
    mask = mask.to(per_token_loss.dtype)
    if loss_type == "grpo":
        return ((per_token_loss * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)).mean()
    if loss_type in ("bnpo", "dapo"):
        return (per_token_loss * mask).sum() / mask.sum().clamp(min=1.0)
    if loss_type == "dr_grpo":
        if max_completion_length is None:
            raise ValueError("loss_type 'dr_grpo' needs max_completion_length")
        return (per_token_loss * mask).sum() / (per_token_loss.size(0) * max_completion_length)
    raise ValueError(f"loss_type must be one of {LOSS_TYPES}, got {loss_type!r}")


def grpo_loss(
    logps: torch.Tensor,
    old_logps: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    ref_logps: torch.Tensor | None = None,
    beta: float = 0.0,
    epsilon_low: float = 0.2,
    epsilon_high: float | None = None,
    loss_type: str = "dapo",
    max_completion_length: int | None = None,
    kl_bias_correction: bool = True,
) -> torch.Tensor:
    """The GRPO loss for one batch: -(clipped surrogate) + β·KL, averaged per ``loss_type``.

    ``kl_bias_correction`` weighs the KL term by the probability ratio, which makes its gradient
    the unbiased reverse-KL gradient when sampling was off-policy (TRL >= 1.16 does this by
    default: ``use_bias_correction_kl``).
    """
    ratio = probability_ratio(logps, old_logps)
    per_token = -clipped_surrogate(ratio, advantages, epsilon_low, epsilon_high)
    if beta != 0.0:
        if ref_logps is None:
            raise ValueError("beta != 0 needs ref_logps, the reference model's log-probabilities")
        kl = kl_penalty(logps, ref_logps)
        per_token = per_token + beta * (kl * ratio if kl_bias_correction else kl)
    return aggregate(per_token, mask, loss_type, max_completion_length)


def toy_policy_run(
    rewards: Sequence[float],
    steps: int = 40,
    group_size: int = 8,
    learning_rate: float = 0.5,
    beta: float = 0.0,
    updates_per_group: int = 2,
    epsilon: float = 0.2,
    seed: int = 0,
) -> torch.Tensor:
    """GRPO on the smallest policy there is: one softmax over a few possible answers, each with a
    fixed reward. Every step samples a group, turns its rewards into advantages and takes
    ``updates_per_group`` gradient steps on :func:`grpo_loss` (the later ones off-policy, so the
    ratio and the clipping matter). Returns the probability of each answer after every step,
    shape (steps + 1, answers): the mass moves to the best answer, more slowly as β grows.
    """
    reward_of = torch.tensor([float(r) for r in rewards])
    logits = torch.zeros(len(reward_of), requires_grad=True)
    reference = torch.log_softmax(logits.detach(), dim=-1)
    optimizer = torch.optim.SGD([logits], lr=learning_rate)
    generator = torch.Generator().manual_seed(seed)
    mask = torch.ones(group_size, 1)
    history = [torch.softmax(logits.detach(), dim=-1)]
    for _ in range(steps):
        probabilities = torch.softmax(logits.detach(), dim=-1)
        answers = torch.multinomial(probabilities, group_size, replacement=True, generator=generator)
        advantages = group_advantages(reward_of[answers], group_size)
        old_logps = torch.log(probabilities[answers]).unsqueeze(-1)
        for _ in range(updates_per_group):
            logps = torch.log_softmax(logits, dim=-1)[answers].unsqueeze(-1)
            loss = grpo_loss(
                logps, old_logps, advantages, mask, reference[answers].unsqueeze(-1), beta, epsilon
            )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        history.append(torch.softmax(logits.detach(), dim=-1))
    return torch.stack(history)
