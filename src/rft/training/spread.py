"""``rft preflight --spread``: before the long run, whether GRPO can learn from its groups at all.

The task samples and scores the groups (Wordle: :mod:`rft.wordle.spread`, reward spread on held-out
boards); this loads the model the run starts from, as training loads it (its base, or the run it
continues, ``init_from``), hands it over, and gives its memory back afterwards.
"""

from __future__ import annotations

import time
from typing import Any

from rft.constrained import hold_answers
from rft.runtime import release_memory
from rft.training.config import Preset
from rft.training.policy import load_policy

SPREAD_STATES = 50
SPREAD_SAMPLES = 8


def check_spread_request(preset: Preset, random_weights: bool = False) -> None:
    """The check samples a GRPO preset's real model on a task that has the check: anything else is
    a ``ValueError`` naming the option, before any model loads."""
    if preset.trainer != "grpo" or preset.task_definition.spread_check is None:
        raise ValueError(
            f"--spread samples Wordle GRPO groups; {preset.name} is a {preset.task} {preset.trainer} preset"
        )
    if random_weights:
        raise ValueError("--spread samples the real model: random weights have nothing to tell; drop one")


def spread_check(
    preset: Preset, states: int = SPREAD_STATES, samples: int = SPREAD_SAMPLES
) -> dict[str, Any]:
    """``samples`` answers at temperature 1 on ``states`` held-out items by the model ``preset``'s
    GRPO run starts from; the task's report of their reward spread, with the model and the time."""
    check_spread_request(preset)
    started = time.monotonic()
    policy = load_policy(preset)
    if policy.loader == "unsloth":
        from unsloth import FastLanguageModel

        FastLanguageModel.for_inference(policy.model)
    policy.model.eval()
    if preset.constrain_guesses:  # the groups GRPO will see are sampled under the same constraint
        language = preset.task_definition.answer_language
        assert language is not None  # validate() refuses constrain_guesses for a task without one
        hold_answers(policy.model, policy.tokenizer, language(preset.prompt_style))
    check = preset.task_definition.spread_check
    assert check is not None  # check_spread_request refused a task without one
    report = check(preset, policy.model, policy.tokenizer, states, samples)
    del policy
    release_memory()
    return {
        **report,
        "model": preset.init_from or preset.model,
        "seconds": round(time.monotonic() - started, 1),
    }
