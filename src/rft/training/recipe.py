"""The whole recipe in one call: a supervised warm-up on solver traces, then GRPO from it.

``make demo`` runs this on CPU with the embedded SmolLM2-135M; on a GPU the same function runs the
T4 presets. Both stages land in one folder, ``runs/recipe-<timestamp>/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rft.training.presets import apply_overrides, get_preset
from rft.training.run import RunResult, new_run_dir, read_metrics, train


@dataclass
class RecipeResult:
    folder: Path
    sft: RunResult
    grpo: RunResult


def run_recipe(
    sft_preset: str = "cpu-smollm2-wordle-sft",
    grpo_preset: str = "cpu-smollm2-wordle",
    sft_steps: int | None = None,
    grpo_steps: int | None = None,
    runs_dir: str | Path = "runs",
    progress: bool = True,
) -> RecipeResult:
    """Warm up with SFT, then continue the same adapter with GRPO. Settings are checked for both
    stages before either starts."""
    sft_settings = {} if sft_steps is None else {"max_steps": sft_steps}
    grpo_settings = {} if grpo_steps is None else {"max_steps": grpo_steps}
    sft = apply_overrides(get_preset(sft_preset), sft_settings)
    apply_overrides(get_preset(grpo_preset), grpo_settings)  # fails now, not after the warm-up
    folder = new_run_dir(runs_dir, "recipe")
    sft_result = train(sft, runs_dir=folder, progress=progress)
    grpo = apply_overrides(get_preset(grpo_preset), {**grpo_settings, "init_from": str(sft_result.run_dir)})
    return RecipeResult(folder, sft_result, train(grpo, runs_dir=folder, progress=progress))


def summary(result: RecipeResult) -> str:
    """What happened, in a few lines a person reads at the end of ``make demo``."""
    sft_rows = [row for row in read_metrics(result.sft.metrics_path) if "loss" in row]
    grpo_rows = [row for row in read_metrics(result.grpo.metrics_path) if "reward" in row]
    lines = [f"recipe folder: {result.folder}"]
    if sft_rows:
        first, last = sft_rows[0]["loss"], sft_rows[-1]["loss"]
        lines.append(f"SFT warm-up:   {len(sft_rows)} steps, loss {first:.3f} → {last:.3f}")
    if grpo_rows:
        updated = sum(1 for row in grpo_rows if row.get("grad_norm", 0) > 0)
        lines.append(
            f"GRPO:          {len(grpo_rows)} steps, mean reward {grpo_rows[0]['reward']:.3f} → "
            f"{grpo_rows[-1]['reward']:.3f}; {updated} of {len(grpo_rows)} steps updated the weights "
            "(a step whose completions all score the same has nothing to learn from)"
        )
    lines += [
        f"curves:        {result.sft.plot_path}  {result.grpo.plot_path}",
        f"adapter:       {result.grpo.adapter_dir}",
    ]
    return "\n".join(lines)
