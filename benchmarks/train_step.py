"""Seconds per GRPO step and peak memory of the CPU preset: our wrapper against plain TRL.

Both run the same model (the embedded SmolLM2-135M + LoRA), the same dataset rows, rewards,
GRPOConfig and seed, each in its own process so peak RSS is its own, and both are timed by the run
folder's step timer (``metrics.jsonl``'s ``wall_seconds``; plain TRL gets that one callback). The
first step (warm-up) is left out of the mean. Target: the wrapper at most 1.2× plain TRL. Writes
results/train_step.json.
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _results import write

STEPS = 4
SETTINGS = {"max_steps": str(STEPS), "save_steps": "1000", "max_completion_length": "64", "num_rows": "32"}


def run_child(which: str, out_dir: Path) -> dict:
    from rft.training.config import apply_overrides
    from rft.training.presets import get_preset
    from rft.training.run import make_callbacks, read_metrics

    preset = apply_overrides(get_preset("cpu-smollm2-wordle"), SETTINGS)
    if which == "rft":
        from rft.training.run import train

        metrics_path = train(preset, runs_dir=out_dir, progress=False).metrics_path
    else:
        from rft.training.policy import load_policy

        policy = load_policy(preset)
        from trl import GRPOConfig, GRPOTrainer

        from rft.wordle.dataset import build_dataset
        from rft.wordle.rewards import select_rewards

        functions, weights = select_rewards(preset.rewards)
        args = GRPOConfig(
            output_dir=str(out_dir),
            seed=preset.seed,
            reward_weights=weights,
            disable_tqdm=True,
            **preset.trainer_args,
        )
        trainer = GRPOTrainer(
            model=policy.model,
            reward_funcs=functions,
            args=args,
            train_dataset=build_dataset(preset.dataset, preset.seed, progress=False),
            processing_class=policy.tokenizer,
            peft_config=policy.peft_config,
            # The run folder's own step timer (metrics.jsonl), and nothing else of ours: both arms are
            # timed by the same callback.
            callbacks=make_callbacks(Path(out_dir), None, sample_every=10**6),
        )
        trainer.train()
        metrics_path = Path(out_dir) / "metrics.jsonl"
    times = [row["wall_seconds"] for row in read_metrics(metrics_path) if row.get("wall_seconds") is not None]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    return {"step_seconds": times, "peak_rss_mb": round(peak_mb)}


def main() -> None:
    if len(sys.argv) == 3:  # child: python train_step.py rft|trl OUT_DIR
        print("RESULT " + json.dumps(run_child(sys.argv[1], Path(sys.argv[2]))))
        return
    figures = {}
    for which in ("trl", "rft"):
        with tempfile.TemporaryDirectory() as out_dir:
            done = subprocess.run(
                [sys.executable, __file__, which, out_dir], capture_output=True, text=True, check=True
            )
        result = json.loads(next(line for line in done.stdout.splitlines() if line.startswith("RESULT "))[7:])
        measured = result["step_seconds"][1:]  # the first step warms caches up
        figures["plain_trl" if which == "trl" else "rft_wrapper"] = {
            "seconds_per_step": round(statistics.mean(measured), 2),
            "step_seconds": [round(s, 2) for s in result["step_seconds"]],
            "peak_rss_mb": result["peak_rss_mb"],
        }
    ratio = figures["rft_wrapper"]["seconds_per_step"] / figures["plain_trl"]["seconds_per_step"]
    write(
        "train_step",
        parent=None,
        changes="none (the rft wrapper against plain TRL, both in this file)",
        figures={
            "preset": "cpu-smollm2-wordle",
            "settings": {**SETTINGS, "per_device_train_batch_size": 4, "num_generations": 4},
            **figures,
            "wrapper_over_plain": round(ratio, 3),
            "target_ratio": 1.2,
            "met": ratio <= 1.2,
        },
    )


if __name__ == "__main__":
    main()
