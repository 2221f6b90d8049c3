# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # GRPO, explained on small tensors
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/rft-recipe/rft/blob/main/notebooks/00_grpo_explained.ipynb)
#
# GRPO (Group Relative Policy Optimization) is the reinforcement learning step of this recipe.
# For each prompt it samples a **group** of answers, scores them with reward functions, and makes
# the better-than-their-group answers more likely. Its objective has four parts; each is a few
# lines in `rft/grpo_math.py`, and a test checks that together they give the same loss as TRL's
# `GRPOTrainer` on the same inputs. No GPU needed: this notebook runs anywhere in seconds.

# %% [markdown]
# ## Install
# Installs the recipe from the clone or uploaded copy of the repository this notebook sits in, or
# clones `REPOSITORY` first (Kaggle: switch *Internet* on in the settings). `install.py` picks the
# versions this machine can use: with a GPU the set Unsloth supports (`requirements.txt`), without
# one the same set less the GPU-only packages, plus the 135M CPU model. Nothing is installed when
# the package is already there (`make venv` on your own machine, or a second run of this cell).

# %%
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

REPOSITORY = "https://github.com/rft-recipe/rft"  # a fork or a mirror of the recipe: change it here
CLONE = ["git", "clone", "--depth", "1", REPOSITORY, "rft-recipe"]
if importlib.util.find_spec("rft") is None:
    here = Path.cwd()
    copies = [p for p in (here, here.parent, *here.iterdir()) if (p / "install.py").is_file()]
    if not copies and (shutil.which("git") is None or subprocess.run(CLONE).returncode):
        raise SystemExit(f"Could not clone {REPOSITORY}: set REPOSITORY in this cell to the recipe's address")
    installer = (copies[0] if copies else here / "rft-recipe") / "install.py"
    subprocess.run([sys.executable, str(installer)], check=True)
    importlib.invalidate_caches()

# %%
import torch

from rft import figures
from rft.grpo_math import (
    clipped_surrogate,
    group_advantages,
    grpo_loss,
    kl_penalty,
    probability_ratio,
)

figures.objective_figure()

# %% [markdown]
# ## 1. Group-relative advantage
# Six answers to one Wordle prompt, scored by the three rewards (the total of format, feedback
# and guess value). An answer's advantage is its reward minus the group's mean, divided by the
# group's standard deviation: no value network, just "better or worse than its siblings".

# %%
rewards = torch.tensor([2.6, 2.1, 1.0, 1.0, 0.6, 0.0])
advantages = group_advantages(rewards, group_size=6)
print("advantages:", advantages.round(decimals=2).tolist())
print("a group whose answers all score the same:", group_advantages(torch.ones(4), 4).tolist())
figures.advantage_figure(rewards.tolist())

# %% [markdown]
# ## 2. Probability ratio
# After an update, each token of a sampled answer is more or less likely than when it was
# sampled. The ratio π_θ/π_old is 1 before the first update, and is computed from log
# probabilities so that tiny probabilities do not underflow.

# %%
old_logps = torch.log(torch.tensor([[0.50, 0.10, 0.02]]))
new_logps = torch.log(torch.tensor([[0.60, 0.09, 0.03]]))
probability_ratio(new_logps, old_logps)

# %% [markdown]
# ## 3. Clipping
# The objective per token is `min(r·A, clip(r, 1-ε, 1+ε)·A)`. Inside the trust region it is just
# `r·A`; once the ratio has moved far enough in the direction the advantage wants, the curve is
# flat and the gradient stops, so one lucky batch cannot move the policy too far.

# %%
ratio = torch.tensor([[0.7, 1.0, 1.1, 1.5]])
print("A = +1:", clipped_surrogate(ratio, torch.tensor([1.0])).tolist())
print("A = -1:", clipped_surrogate(ratio, torch.tensor([-1.0])).tolist())
figures.clipping_figure()

# %% [markdown]
# ## 4. KL penalty
# With β > 0, each token pays `π_ref/π_θ − log(π_ref/π_θ) − 1` (the "k3" estimator of the KL
# divergence from the starting model): 0 when they agree, positive otherwise. TRL's default is
# β = 0, and the recipe's presets keep it there: with a LoRA model TRL's reference is the model with
# the adapter switched off, the base before the warm-up, so a KL term would pull GRPO back from what
# the warm-up taught. Clipping and a small learning rate keep the steps small instead.

# %%
print(kl_penalty(new_logps, old_logps).tolist())
figures.kl_figure()

# %% [markdown]
# ## All four together
# `grpo_loss` is the negative of the clipped objective plus β·KL, averaged over the answers'
# tokens (TRL's default `loss_type="dapo"`: one mean over every token in the batch).

# %%
logps = torch.log(torch.tensor([[0.6, 0.5], [0.2, 0.3], [0.4, 0.4]]))
old = torch.log(torch.tensor([[0.5, 0.5], [0.25, 0.3], [0.4, 0.5]]))
group = group_advantages(torch.tensor([2.0, 0.0, 1.0]), group_size=3)
mask = torch.tensor([[1, 1], [1, 1], [1, 0]])  # the third answer is one token long
for loss_type in ("dapo", "grpo", "dr_grpo"):
    loss = grpo_loss(
        logps, old, group, mask, ref_logps=old, beta=0.04, loss_type=loss_type, max_completion_length=2
    )
    print(f"{loss_type:>8}: {loss.item():+.4f}")

# %% [markdown]
# ## GRPO on the smallest policy there is
# A policy over four possible answers with fixed rewards. Every step samples a group of 8,
# computes advantages and takes two gradient steps on `grpo_loss`. The probability moves to the
# best answer; with β > 0 the KL penalty holds it closer to where it started.

# %%
figures.toy_policy_figure(betas=(0.0, 0.5))
