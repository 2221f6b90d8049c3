"""The whole recipe in one call: a supervised warm-up on solver traces, GRPO from it, and an
evaluation of the base model, the warm-up and the final adapter on the same held-out answers.

``make demo`` runs this on CPU with the embedded SmolLM2-135M; on a GPU the same function runs the
T4 presets. Everything lands in one folder, ``runs/recipe-<timestamp>/``: the two run folders
and ``eval/`` (eval.json, eval.md, guesses.png).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rft.runtime import release_memory
from rft.training.config import Preset, apply_overrides
from rft.training.models import check_device
from rft.training.presets import get_preset
from rft.training.run import RunResult, check_before_loading, new_run_dir, read_metrics, train


@dataclass
class RecipeResult:
    folder: Path
    sft: RunResult
    grpo: RunResult
    evaluation: dict[str, Any] | None = None


def run_recipe(
    sft_preset: str = "cpu-smollm2-wordle-sft",
    grpo_preset: str = "cpu-smollm2-wordle",
    sft_steps: int | None = None,
    grpo_steps: int | None = None,
    runs_dir: str | Path = "runs",
    progress: bool = True,
    eval_games: int = 0,
    eval_max_new_tokens: int | None = None,
) -> RecipeResult:
    """Warm up with SFT, continue the same adapter with GRPO, then (``eval_games`` > 0) play
    held-out games with the base model, the warm-up and the final adapter, beside the baselines.
    Settings are checked for both stages before either starts."""
    sft_settings = {} if sft_steps is None else {"max_steps": sft_steps}
    grpo_settings = {} if grpo_steps is None else {"max_steps": grpo_steps}
    sft = apply_overrides(get_preset(sft_preset), sft_settings)
    # Checked as GRPO will run, continuing the warm-up: a wrong setting fails now, not after it.
    ahead = {**grpo_settings, "init_from": "the warm-up"}
    grpo_ahead = apply_overrides(get_preset(grpo_preset), ahead, init_from_trained=False)
    for stage in (sft, grpo_ahead):
        check_device(stage)
    for stage in (sft, grpo_ahead):
        check_before_loading(stage, runs_dir)
    folder = new_run_dir(runs_dir, "recipe")
    sft_result = train(sft, runs_dir=folder, progress=progress)
    grpo = apply_overrides(get_preset(grpo_preset), {**grpo_settings, "init_from": str(sft_result.run_dir)})
    result = RecipeResult(folder, sft_result, train(grpo, runs_dir=folder, progress=progress))
    if eval_games > 0:
        tokens = grpo.eval_max_new_tokens if eval_max_new_tokens is None else eval_max_new_tokens
        result.evaluation = evaluate_stages(result, grpo, eval_games, tokens, progress=progress)
    return result


def evaluate_stages(
    result: RecipeResult,
    preset: Preset,
    games: int,
    max_new_tokens: int,
    skip: Collection[str] = (),
    progress: bool = True,
    seed: int | None = None,
) -> dict[str, Any]:
    """Held-out games for the base model, the warm-up ("sft") and the final adapter ("sft+grpo"),
    beside the baselines; a stage in ``skip`` is left out (its games were played before). The
    secrets and the baselines follow ``seed``, the preset's when None: a caller comparing runs whose
    presets differ in seed passes one, so every stage plays the same games."""
    from rft.loading import load_base, with_adapter
    from rft.tasks import EvalRequest

    seed = preset.seed if seed is None else seed
    stages = {"base": None, "sft": result.sft.run_dir, "sft+grpo": result.grpo.run_dir}
    stages = {name: run_dir for name, run_dir in stages.items() if name not in skip}
    models, loaded = [], None
    for name, run_dir in stages.items():
        loaded = load_base(preset) if run_dir is None else with_adapter(load_base(preset), run_dir)
        models.append(replace(loaded, label=name))
    details = {"preset": preset.name, "stages": {k: str(v) for k, v in stages.items()}}
    request = EvalRequest(count=games, seed=seed, max_new_tokens=max_new_tokens, progress=progress)
    evaluation = preset.task_spec.evaluate(preset, models, request, result.folder / "eval", details)
    del models, loaded
    release_memory()  # the models played; their GPU memory goes back before anything else loads
    return evaluation


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
    if result.evaluation is not None:
        from rft.evaluate import markdown_table

        lines += ["", markdown_table(result.evaluation), f"evaluation:    {result.folder / 'eval'}"]
    return "\n".join(lines)
