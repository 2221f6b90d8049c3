"""The recipe, the one orchestrator: a supervised warm-up on solver traces, GRPO from it, and an
evaluation of the base model, the warm-up and the final adapter on the same held-out answers.

Its stages (:func:`plan_recipe`, :func:`warm_up_stage`, :func:`grpo_stage`, :func:`evaluate_stages`)
are what notebook 01's cells call, one a cell; :func:`run_recipe` calls them in a row for ``rft
demo`` (the CPU demo) and ``rft recipe`` (any preset), with the same resume ("latest") and time
limit. On the command line everything lands in one folder, ``runs/recipe-<timestamp>/``: the two
run folders and ``eval/`` (eval.json, eval.md, guesses.png); a resumed recipe keeps its folder.

A stage waits for the one before it, and a finished stage is never trained again: GRPO starts only
from a finished warm-up (a warm-up stopped by the time limit stops the recipe, and a resume
finishes it first), and a resume whose warm-up finished (a session that ended before GRPO's first
checkpoint) continues that warm-up's adapter with GRPO instead of warming up anew.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rft.runtime import release_memory
from rft.training.config import Preset, apply_overrides
from rft.training.policy import check_device
from rft.training.presets import get_preset
from rft.training.run import (
    RunResult,
    check_before_loading,
    last_complete_checkpoint,
    new_run_dir,
    read_metrics,
    read_run_config,
    read_run_result,
    read_status,
    run_to_continue,
    runs_under,
    train,
)


@dataclass
class RecipeResult:
    folder: Path
    sft: RunResult | None  # None: no warm-up
    grpo: RunResult | None  # None: the warm-up stopped for the time limit, and GRPO waits for it
    evaluation: dict[str, Any] | None = None


@dataclass(frozen=True)
class Plan:
    """The two stages, checked: the warm-up (None for none) and GRPO as it will run, and the folder
    under which earlier runs are looked for when resuming."""

    sft: Preset | None
    grpo: Preset
    runs: Path


def plan_recipe(sft: Preset | None, grpo: Preset, runs: str | Path) -> Plan:
    """Both stages checked before either starts: GRPO as it will run after the warm-up (continuing
    an adapter that does not exist yet), so that a wrong setting fails now, not an hour later."""
    ahead = (
        grpo if sft is None else apply_overrides(grpo, {"init_from": "the warm-up"}, init_from_trained=False)
    )
    stages = [stage for stage in (sft, ahead) if stage is not None]
    for stage in stages:
        check_device(stage)
    for stage in stages:
        check_before_loading(stage, runs)
    return Plan(sft, grpo, Path(runs))


def train_or_continue(
    preset: Preset, folder: str | Path, run: Path | None, time_limit: float | None, progress: bool = True
) -> RunResult:
    """Continue ``run`` from its last checkpoint, or train ``preset`` anew in ``folder``; either way
    stopped with a checkpoint when ``time_limit`` seconds are spent (None: no limit)."""
    if run is not None:
        print(f"Continuing {run} from its last checkpoint.")
        result = train(resume_dir=run, progress=progress, time_limit=time_limit)
    else:
        result = train(preset, runs_dir=folder, progress=progress, time_limit=time_limit)
    if result.status and result.status["state"] == "stopped":
        status = result.status
        print(
            f"Stopped for the {status['reason']} at step {status['step']} of {status['max_steps']}; "
            f'what was trained is saved. To continue: resume "latest" ({status["resume"]}).'
        )
    return result


def check_resume(resume: str | Path | None, plan: Plan) -> None:
    """A run folder given to resume is a run of one of the plan's stages: another preset's run
    would be passed over without a word, and a new recipe started."""
    if resume is None or str(resume) == "latest":
        return
    trained = read_run_config(Path(resume)).name
    stages = [stage.name for stage in (plan.sft, plan.grpo) if stage is not None]
    if trained not in stages:
        raise ValueError(
            f"resume: {resume} is a run of {trained}, not of this recipe's {' or '.join(stages)}; give "
            f'one of its runs, or "latest"'
        )


def _finished(run: Path) -> bool:
    status = read_status(run)
    return status is not None and status.get("state") == "finished"


def warm_up_to_continue(resume: str | Path | None, plan: Plan) -> Path | None:
    """The warm-up run ``resume`` names: that folder; or, for ``"latest"``, the newest warm-up of
    the plan's preset under its runs that is unfinished with a checkpoint, or finished without a
    finished GRPO run from it (its recipe was stopped between the stages)."""
    if resume is None or plan.sft is None:
        return None
    if str(resume) != "latest":
        return Path(resume) if read_run_config(Path(resume)).name == plan.sft.name else None
    runs = runs_under(plan.runs)
    done = {
        str(Path(config.init_from).resolve())
        for run, config in runs
        if config.name == plan.grpo.name and config.init_from and _finished(run)
    }
    found = []
    for run, config in runs:
        if config.name != plan.sft.name:
            continue
        try:
            finished = _finished(run)
        except ValueError as error:
            print(f"note: skipping {run}: {error}")
            continue
        checkpoint = last_complete_checkpoint(run)
        if finished and str(run.resolve()) not in done:
            found.append(((run / "adapter").stat().st_mtime, run))
        elif not finished and checkpoint is not None:
            found.append((checkpoint.stat().st_mtime, run))
    return max(found)[1] if found else None


def warm_up_stage(
    plan: Plan, folder: str | Path, resume: str | Path | None, time_limit: float | None, progress: bool = True
) -> RunResult | None:
    """The supervised warm-up, continued (``resume``) or started, or, when the one ``resume`` finds
    has finished, that one as it is (never trained again); None when the plan has none, or when the
    GRPO run it feeds is already under way, which carries on from its own checkpoint."""
    check_resume(resume, plan)
    if plan.sft is None or run_to_continue(resume, plan.runs, plan.grpo) is not None:
        return None
    earlier = warm_up_to_continue(resume, plan)
    if earlier is not None and _finished(earlier):
        print(f"The warm-up {earlier} is finished: GRPO continues its adapter.")
        return read_run_result(earlier)
    return train_or_continue(plan.sft, folder, earlier, time_limit, progress)


def waiting_for(warm_up: RunResult | None) -> str | None:
    """Why GRPO cannot start yet: the warm-up stopped short of its last step (the time limit), in
    a sentence that says how to go on; None when it may start."""
    status = warm_up.status if warm_up is not None else None
    if status is None or status.get("state") != "stopped":
        return None
    return (
        f"the warm-up {warm_up.run_dir} stopped at step {status['step']} of {status['max_steps']}, and GRPO "
        'starts only from a finished one: resume "latest" (--resume latest, or RESUME = "latest") finishes '
        "the warm-up first, then trains GRPO"
    )


def grpo_stage(
    plan: Plan,
    folder: str | Path,
    warm_up: RunResult | None,
    resume: str | Path | None,
    time_limit: float | None,
    progress: bool = True,
) -> RunResult:
    """GRPO: the unfinished run ``resume`` names, continued; else a new run continuing the warm-up's
    adapter (or the base model's, without a warm-up). Refused while the warm-up is unfinished."""
    check_resume(resume, plan)
    waiting = waiting_for(warm_up)
    if waiting is not None:
        raise ValueError(waiting)
    preset = plan.grpo if warm_up is None else apply_overrides(plan.grpo, {"init_from": str(warm_up.run_dir)})
    return train_or_continue(
        preset, folder, run_to_continue(resume, plan.runs, plan.grpo), time_limit, progress
    )


def run_recipe(
    sft_preset: str | None = "cpu-smollm2-wordle-sft",
    grpo_preset: str = "cpu-smollm2-wordle",
    sft_steps: int | None = None,
    grpo_steps: int | None = None,
    runs_dir: str | Path = "runs",
    progress: bool = True,
    eval_games: int = 0,
    eval_max_new_tokens: int | None = None,
    resume: str | Path | None = None,
    time_limit: float | None = None,
) -> RecipeResult:
    """Warm up with SFT (``sft_preset`` None: no warm-up), continue the same adapter with GRPO, then
    (``eval_games`` > 0) play held-out games with the base model, the warm-up and the final adapter,
    beside the baselines. ``resume`` ("latest" or a run folder) carries on where an earlier call
    stopped; ``time_limit`` (seconds) is shared by both training stages, each stopping with a
    checkpoint when it is spent. Notebook 01's cells run the same stages."""
    sft_settings = {} if sft_steps is None else {"max_steps": sft_steps}
    grpo_settings = {} if grpo_steps is None else {"max_steps": grpo_steps}
    sft = None if sft_preset is None else apply_overrides(get_preset(sft_preset), sft_settings)
    plan = plan_recipe(sft, apply_overrides(get_preset(grpo_preset), grpo_settings), runs_dir)
    deadline = None if time_limit is None else time.monotonic() + time_limit

    def left() -> float | None:  # a stage whose time is spent still trains one step, then stops
        return None if deadline is None else max(deadline - time.monotonic(), 0.0)

    check_resume(resume, plan)
    earlier = run_to_continue(resume, plan.runs, plan.grpo) or warm_up_to_continue(resume, plan)
    folder = earlier.parent if earlier is not None else new_run_dir(runs_dir, "recipe")
    warm_up = warm_up_stage(plan, folder, resume, left(), progress)
    waiting = waiting_for(warm_up)
    if waiting is not None:
        print(f"GRPO not started: {waiting}.")
        return RecipeResult(folder, warm_up, None)
    grpo = grpo_stage(plan, folder, warm_up, resume, left(), progress)
    if warm_up is None:  # continued GRPO: its warm-up is the run it continues
        init_from = read_run_config(grpo.run_dir).init_from
        warm_up = read_run_result(Path(init_from)) if init_from else None
    result = RecipeResult(folder, warm_up, grpo)
    if eval_games > 0:
        final = read_run_config(grpo.run_dir)
        tokens = final.eval_max_new_tokens if eval_max_new_tokens is None else eval_max_new_tokens
        result.evaluation = evaluate_stages(result, final, eval_games, tokens, progress=progress)
    return result


def evaluate_stages(
    result: RecipeResult,
    preset: Preset,
    games: int,
    max_new_tokens: int,
    skip: Collection[str] = (),
    progress: bool = True,
    seed: int | None = None,
    states: int = 0,
    samples: int = 8,
) -> dict[str, Any]:
    """Held-out games for the base model, the warm-up ("sft") and the final adapter ("sft+grpo"),
    beside the baselines; a stage in ``skip`` is left out (its games were played before). The
    secrets and the baselines follow ``seed``, the preset's when None: a caller comparing runs whose
    presets differ in seed passes one, so every stage plays the same games. ``states`` > 0: each
    stage also answers that many held-out boards (greedy, and ``samples`` answers a board for
    pass@k), paired with the stage before it (the warm-up with the base, GRPO with the warm-up:
    :mod:`rft.wordle.held_out_states`)."""
    from rft.models import load_base, with_adapter
    from rft.tasks import EvalRequest

    seed = preset.seed if seed is None else seed
    stages = {"base": None, "sft": result.sft and result.sft.run_dir, "sft+grpo": result.grpo.run_dir}
    stages = {name: run_dir for name, run_dir in stages.items() if name not in skip}
    if result.sft is None:
        stages.pop("sft", None)  # no warm-up to play
    models, loaded = [], None
    for name, run_dir in stages.items():
        loaded = load_base(preset) if run_dir is None else with_adapter(load_base(preset), run_dir)
        models.append(replace(loaded, label=name))
    details = {"preset": preset.name, "stages": {k: str(v) for k, v in stages.items()}}
    request = EvalRequest(
        count=games,
        seed=seed,
        max_new_tokens=max_new_tokens,
        progress=progress,
        states=states,
        samples=samples,
    )
    evaluation = preset.task_definition.evaluate(preset, models, request, result.folder / "eval", details)
    del models, loaded
    release_memory()  # the models played; their GPU memory goes back before anything else loads
    return evaluation


def summary(result: RecipeResult) -> str:
    """What happened, in a few lines a person reads at the end of ``make demo``."""
    sft_rows = [row for row in read_metrics(result.sft.metrics_path) if "loss" in row] if result.sft else []
    if result.grpo is None:  # the warm-up stopped for the time limit: GRPO waits for it
        lines = [f"recipe folder: {result.folder}"]
        if sft_rows:
            lines.append(f"SFT warm-up:   {len(sft_rows)} steps so far; GRPO not started")
        return "\n".join(lines)
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
        f"curves:        {(result.sft and result.sft.plot_path) or ''}  {result.grpo.plot_path}",
        f"adapter:       {result.grpo.adapter_dir}",
    ]
    if result.evaluation is not None:
        from rft.evaluation import markdown_table

        lines += ["", markdown_table(result.evaluation), f"evaluation:    {result.folder / 'eval'}"]
    return "\n".join(lines)
