"""Reward curves from a run's metrics, drawn with matplotlib's file backend (no display needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rft.files import replacing


def plot_training_curves(rows: Sequence[dict[str, Any]], out_path: Path, title: str = "") -> Path | None:
    """Reward curves for a GRPO run, the loss for an SFT run; None if nothing was logged."""
    if any("reward" in row for row in rows):
        return plot_reward_curves([row for row in rows if "reward" in row], out_path, title)
    losses = [row for row in rows if "loss" in row]
    if not losses:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), constrained_layout=True)
    ax.plot([row["step"] for row in losses], [row["loss"] for row in losses], marker="o", color="black")
    ax.set(xlabel="step", ylabel="loss on the completion", title=title or "supervised warm-up")
    with replacing(out_path) as temporary:  # a kill mid-write leaves the old figure
        fig.savefig(temporary, dpi=110)
    plt.close(fig)
    return out_path


def plot_reward_curves(rows: Sequence[dict[str, Any]], out_path: Path, title: str = "") -> Path:
    """The total reward and each reward's mean against the training step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [row["step"] for row in rows]
    names = sorted(
        {key for row in rows for key in row if key.startswith("rewards/") and key.endswith("/mean")}
    )
    fig, (total_ax, parts_ax) = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    total_ax.plot(steps, [row["reward"] for row in rows], marker="o", color="black", label="weighted total")
    if all("reward_std" in row for row in rows):
        low = [row["reward"] - row["reward_std"] for row in rows]
        high = [row["reward"] + row["reward_std"] for row in rows]
        total_ax.fill_between(steps, low, high, alpha=0.15, color="black", label="± std within groups")
    total_ax.set(xlabel="step", ylabel="reward", title="total reward")
    total_ax.legend(loc="best")
    for name in names:
        label = name.removeprefix("rewards/").removesuffix("/mean")
        parts_ax.plot(steps, [row.get(name) for row in rows], marker=".", label=label)
    parts_ax.set(xlabel="step", ylabel="mean reward (0–1)", title="each reward", ylim=(-0.05, 1.05))
    parts_ax.legend(loc="best")
    if title:
        fig.suptitle(title)
    with replacing(out_path) as temporary:  # a kill mid-write leaves the old figure
        fig.savefig(temporary, dpi=110)
    plt.close(fig)
    return out_path
