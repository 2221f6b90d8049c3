"""Figures that explain GRPO, drawn from :mod:`rft.grpo_math` itself so the pictures and the code
cannot disagree. ``00_grpo_explained.ipynb`` shows them one by one; the README shows the files.

    python -m rft.figures images/      # writes grpo-*.png

Figures are built with ``matplotlib.figure.Figure`` (no pyplot, no GUI): they render the same in a
notebook, on a headless server and in CI.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import torch
from matplotlib.figure import Figure

from rft.files import replacing
from rft.grpo_math import clipped_surrogate, group_advantages, kl_penalty, toy_policy_run

OBJECTIVE_LINES = (
    (
        r"$\mathcal{J}(\theta)=\mathbb{E}\left[\frac{1}{G}\sum_{i=1}^{G}\frac{1}{|o_i|}\sum_{t=1}^{|o_i|}"
        r"\min\left(r_{i,t}\,\hat{A}_i,\ \mathrm{clip}(r_{i,t},1-\epsilon,1+\epsilon)\,\hat{A}_i\right)"
        r"-\beta\,\mathbb{D}_{KL}\right]$",
        "the objective: G completions o_i of one prompt, averaged over their tokens",
    ),
    (
        r"$r_{i,t}=\frac{\pi_\theta(o_{i,t}\mid q,o_{i,<t})}{\pi_{\theta_{old}}(o_{i,t}\mid q,o_{i,<t})}$",
        "1. probability ratio: how far this update moved the token's probability",
    ),
    (
        r"$\hat{A}_i=\frac{R_i-\mathrm{mean}(R_1,\dots,R_G)}{\mathrm{std}(R_1,\dots,R_G)}$",
        "2. group-relative advantage: better or worse than its siblings, no value network",
    ),
    (
        r"$\mathrm{clip}(r,1-\epsilon,1+\epsilon)$",
        "3. clipping: no gradient once the ratio leaves the trust region in the wanted direction",
    ),
    (
        r"$\mathbb{D}_{KL}=\frac{\pi_{ref}}{\pi_\theta}-\log\frac{\pi_{ref}}{\pi_\theta}-1$",
        "4. KL penalty (k3 estimator, per token): stay near the starting model; β = 0 turns it off",
    ),
)


def objective_figure() -> Figure:
    """The GRPO objective and its four parts, rendered with matplotlib's mathtext."""
    figure = Figure(figsize=(10, 5.6))
    tops = (0.97, 0.74, 0.55, 0.37, 0.22)  # the objective needs more room than its parts
    for top, (formula, caption) in zip(tops, OBJECTIVE_LINES):
        figure.text(0.03, top, formula, fontsize=15, va="top")
        figure.text(0.03, top - 0.1 - 0.03 * (top == tops[0]), caption, fontsize=10, color="0.35", va="top")
    return figure


def advantage_figure(rewards: Sequence[float] = (2.6, 2.1, 1.0, 1.0, 0.6, 0.0)) -> Figure:
    """One group's rewards beside their advantages: the same completion is good or bad only
    relative to the others."""
    reward = torch.tensor([float(r) for r in rewards])
    advantage = group_advantages(reward, group_size=len(reward))
    figure = Figure(figsize=(9, 3.4))
    left, right = figure.subplots(1, 2)
    labels = [f"o{i + 1}" for i in range(len(reward))]
    left.bar(labels, reward.tolist(), color="#4c72b0")
    left.axhline(reward.mean().item(), color="black", linestyle="--", linewidth=1, label="group mean")
    left.set_title("rewards R_i of one group")
    left.legend()
    colours = ["#55a868" if a > 0 else "#c44e52" for a in advantage.tolist()]
    right.bar(labels, advantage.tolist(), color=colours)
    right.axhline(0, color="black", linewidth=0.8)
    right.set_title("advantages Â_i = (R_i − mean) / std")
    figure.tight_layout()
    return figure


def clipping_figure(epsilon: float = 0.2) -> Figure:
    """The per-token objective against the probability ratio, for a good and a bad completion."""
    ratio = torch.linspace(0.4, 1.8, 281)
    figure = Figure(figsize=(9, 3.4))
    for axes, sign in zip(figure.subplots(1, 2), (1.0, -1.0)):
        advantage = torch.full((1,), sign)
        objective = clipped_surrogate(ratio.unsqueeze(0), advantage, epsilon)[0]
        axes.plot(ratio, ratio * sign, color="0.7", linestyle="--", label="r·A (no clipping)")
        axes.plot(ratio, objective, color="#4c72b0", linewidth=2, label="min(r·A, clip(r)·A)")
        axes.axvspan(1 - epsilon, 1 + epsilon, color="#55a868", alpha=0.12, label="trust region")
        axes.set_xlabel("probability ratio r = π_θ / π_old")
        goal = "push up, until r > 1+ε" if sign > 0 else "push down, until r < 1−ε"
        axes.set_title(f"A = {sign:+.0f}: {goal}")
        axes.legend(fontsize=8)
    figure.tight_layout()
    return figure


def kl_figure() -> Figure:
    """The k3 KL estimator per token: zero when the policy agrees with the reference, growing
    on either side, never negative."""
    ratio = torch.logspace(-1.2, 1.2, 241)  # π_ref / π_θ
    penalty = kl_penalty(torch.zeros_like(ratio), torch.log(ratio))
    figure = Figure(figsize=(5.5, 3.4))
    axes = figure.add_subplot()
    axes.plot(ratio, penalty, color="#8172b2", linewidth=2)
    axes.set_xscale("log")
    axes.axvline(1, color="black", linewidth=0.8)
    axes.set_xlabel("π_ref / π_θ for one token")
    axes.set_ylabel("k3 = ratio − log ratio − 1")
    axes.set_title("KL penalty per token")
    figure.tight_layout()
    return figure


TOY_ANSWERS = {
    "solves it": 3.0,
    "fits the clues": 2.0,
    "ignores clues": 1.0,
    "malformed": 0.0,
}


def toy_policy_figure(betas: Sequence[float] = (0.0, 0.5), steps: int = 40) -> Figure:
    """GRPO on a one-step policy over four answers: the probability of each, step by step."""
    figure = Figure(figsize=(4.8 * len(betas), 3.4))
    panels = figure.subplots(1, len(betas), squeeze=False)[0]
    for axes, beta in zip(panels, betas):
        history = toy_policy_run(list(TOY_ANSWERS.values()), steps=steps, beta=beta)
        for column, label in enumerate(TOY_ANSWERS):
            axes.plot(history[:, column], label=f"{label} (R={TOY_ANSWERS[label]:g})")
        axes.set_ylim(0, 1)
        axes.set_xlabel("GRPO step")
        axes.set_ylabel("probability")
        axes.set_title(f"β = {beta:g}")
    panels[0].legend(fontsize=8, loc="center right")
    figure.tight_layout()
    return figure


FIGURES = {
    "grpo-objective.png": objective_figure,
    "grpo-advantage.png": advantage_figure,
    "grpo-clipping.png": clipping_figure,
    "grpo-kl.png": kl_figure,
    "grpo-toy-policy.png": toy_policy_figure,
}


def save_all(folder: str | Path) -> list[Path]:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, draw in FIGURES.items():
        path = folder / name
        with replacing(path) as temporary:
            draw().savefig(temporary, dpi=110)
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Draw the GRPO figures the README shows.")
    parser.add_argument("folder", type=Path, nargs="?", default=Path("images"))
    for path in save_all(parser.parse_args(argv).folder):
        print(path)


if __name__ == "__main__":
    main()
