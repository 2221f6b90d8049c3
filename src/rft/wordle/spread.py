"""Can GRPO learn here at all? Reward spread within groups sampled on held-out boards.

GRPO learns from the differences between the answers of one group: each answer's advantage is its
reward minus the group's mean. A group whose answers all earn the same total reward gives every
answer an advantage of zero, and nothing to learn. :func:`sample_spread` samples groups as GRPO
would (``samples`` answers at temperature 1 to one board, capped and ended as GRPO's completions
are) on the first held-out boards (:func:`rft.wordle.held_out_states.held_out_states`), scores them
with the preset's own rewards and weights, and reports the share of groups with any spread, beside
pass@k against greedy for a guess that fits every clue: whether sampling finds moves that greedy
decoding misses, which is what GRPO would reinforce. ``rft preflight --spread`` runs it
(:mod:`rft.training.spread`) on the model a run starts from, before the long run.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from rft.tasks import PresetLike
from rft.wordle.held_out_states import answer_states, held_out_states, state_metrics, state_rows
from rft.wordle.rewards import GAME_ONLY_REWARDS, GUESS_CLOSE, select_rewards


def per_turn_rewards(preset: PresetLike) -> dict[str, float]:
    """The preset's rewards a single answer can be paid: a whole-game preset's outcome reward
    (``win``) needs a game played out, so the check leaves it out."""
    return {name: weight for name, weight in preset.rewards.items() if name not in GAME_ONLY_REWARDS}


def group_rewards(
    preset: PresetLike, rows: Sequence[Mapping[str, Any]], groups: Sequence[Sequence[str]]
) -> list[list[float]]:
    """The total weighted reward of every answer, one list a group (a board's dataset row and its
    answers), summed as GRPO sums the preset's rewards."""
    functions, weights = select_rewards(per_turn_rewards(preset))
    totals = []
    for row, answers in zip(rows, groups):
        columns = {key: [value] * len(answers) for key, value in row.items() if key != "prompt"}
        scores = [function(list(answers), **columns) for function in functions]
        totals.append([sum(w * s[i] for w, s in zip(weights, scores)) for i in range(len(answers))])
    return totals


def spread_report(
    preset: PresetLike, rows: Sequence[Mapping[str, Any]], results: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """The figures of the check from answers already sampled (``answer_states``' results)."""
    totals = group_rewards(preset, rows, [result["sampled"] for result in results])
    spread = [max(group) - min(group) > 1e-9 for group in totals if group]
    metrics = state_metrics(results)
    samples = metrics["samples"]
    with_spread = sum(spread)
    report: dict[str, Any] = {
        "states": len(results),
        "samples": samples,
        "groups_with_spread": with_spread,
        "spread_share": with_spread / len(spread) if spread else 0.0,
        "mean_group_std": statistics.fmean(statistics.pstdev(g) for g in totals if g) if spread else 0.0,
        "greedy_consistent_rate": metrics["consistent_rate"],
        f"pass@{samples}": metrics.get(f"pass@{samples}"),
        "rewards": per_turn_rewards(preset),
    }
    if with_spread == 0:
        report["verdict"] = (
            f"no group of {samples} answers differs in reward on these {len(results)} boards: every "
            "advantage is zero, so GRPO cannot learn from these states with this model. Change the "
            "model, its warm-up or the rewards before the long run"
        )
    else:
        report["verdict"] = (
            f"{with_spread} of {len(results)} groups have reward spread; a guess that fits every clue: "
            f"greedy {100 * (metrics['consistent_rate'] or 0):.0f}%, pass@{samples} "
            f"{100 * (metrics.get(f'pass@{samples}') or 0):.0f}%"
        )
    return report


def sample_spread(
    preset: PresetLike, model: Any, tokenizer: Any, states: int, samples: int, batch_size: int = 32
) -> dict[str, Any]:
    """``samples`` answers at temperature 1 on each of the first ``states`` held-out boards by
    ``model`` (the one ``preset``'s GRPO run starts from), scored with the preset's rewards."""
    boards = held_out_states(states)  # the set's first boards, whatever the preset's seed
    results = answer_states(
        model,
        tokenizer,
        preset.prompt_style,
        boards,
        samples,
        preset.eval_max_new_tokens,
        batch_size,
        preset.seed,
        end_after=GUESS_CLOSE if preset.end_at_answer else None,
    )
    return spread_report(preset, state_rows(boards, preset.prompt_style), results)
