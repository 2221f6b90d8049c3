"""What every task's rewards share: reading a completion's text, and choosing rewards by name.

A reward function has the signature TRL's ``GRPOTrainer`` calls: ``completions`` (plain strings or
chat messages) plus the dataset's columns as keyword arguments, one float per completion back.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

RewardFunction = Callable[..., list[float]]


def completion_text(completion: Any) -> str:
    """The text a model wrote, from a plain string or a list of chat messages (TRL gives either)."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Mapping):
        completion = [completion]
    if not isinstance(completion, Sequence):
        return ""
    parts: list[str] = []
    for message in completion:
        content = message.get("content") if isinstance(message, Mapping) else message
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, Sequence):  # multimodal style: [{"type": "text", "text": ...}]
            parts.extend(
                p["text"] for p in content if isinstance(p, Mapping) and isinstance(p.get("text"), str)
            )
    return "".join(parts)


def choose_rewards(
    weights: Mapping[str, float], functions: Mapping[str, RewardFunction]
) -> tuple[list[RewardFunction], list[float]]:
    """Reward functions and their weights, in the two parallel lists ``GRPOTrainer`` and
    ``GRPOConfig.reward_weights`` take, in the order of ``functions``. A name missing from
    ``weights`` is left out; an unknown name or a weight that is not a finite number >= 0 raises."""
    unknown = sorted(set(weights) - set(functions))
    if unknown:
        raise ValueError(f"unknown reward {unknown[0]!r}; choose from {sorted(functions)}")
    for name, weight in weights.items():
        if (
            isinstance(weight, bool)
            or not isinstance(weight, (int, float))
            or not math.isfinite(weight)
            or weight < 0
        ):
            raise ValueError(f"reward weight {name!r} must be a finite number >= 0, got {weight!r}")
    if not any(weight > 0 for weight in weights.values()):
        raise ValueError(f"at least one reward weight must be positive, got {dict(weights)}")
    names = [name for name in functions if name in weights]
    return [functions[name] for name in names], [float(weights[name]) for name in names]


def column(name: str, values: Any, count: int, task: str) -> list[Any]:
    """A dataset column as TRL passes it: one value per completion, or a configuration error."""
    if values is None:
        raise ValueError(
            f"the {task} rewards need a {name!r} column in the dataset, one value per completion"
        )
    if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Sequence) or len(values) != count:
        raise ValueError(f"column {name!r} must hold one value per completion ({count}), got {values!r:.200}")
    return list(values)
