"""bf16 against fp32 base weights on a CPU with native bf16 (AVX512-BF16 or AMX): generation
speed, and seconds per SFT and GRPO step, for SmolLM2-135M and Qwen2.5-Coder-0.5B, same seed.

    python benchmarks/cpu_bf16.py                       # both models
    python benchmarks/cpu_bf16.py --models cpu-smollm2-wordle

Each (model, dtype) runs in its own process, so its peak RSS is its own. Generation: 4 held-out
game states in the preset's prompt style, greedy, exactly 64 new tokens each, in one batch. SFT:
the preset's warm-up on its traces; GRPO: the preset at its full completion length. The LoRA
weights stay fp32 in both (PEFT keeps adapters in fp32), so only the frozen base is rounded. The
rule the CPU presets follow: bf16 where it is at least 1.3× faster and the SFT losses of the same
steps stay within noise. Writes results/cpu_bf16.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _results import write

MODELS = ("cpu-smollm2-wordle", "cpu-qwen2.5-coder-0.5b-wordle")
DTYPES = ("float32", "bfloat16")
GENERATED = 64
SFT_STEPS, GRPO_STEPS = 3, 2
SPEEDUP_RULE = 1.3


def generation(preset, dtype: str) -> dict:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rft.training.policy import model_path
    from rft.wordle.dataset import build_rows

    path = model_path(preset.model)
    tokenizer = AutoTokenizer.from_pretrained(path)
    tokenizer.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, dtype)).eval()
    rows = build_rows(preset.dataset, seed=1, progress=False)[:4]
    template = tokenizer.apply_chat_template
    prompts = [template(r["prompt"], tokenize=False, add_generation_prompt=True) for r in rows]
    encoded = tokenizer(prompts, return_tensors="pt", padding=True)
    with torch.inference_mode():
        model.generate(**encoded, max_new_tokens=4, min_new_tokens=4, do_sample=False)  # warm caches
        started = time.perf_counter()
        model.generate(**encoded, max_new_tokens=GENERATED, min_new_tokens=GENERATED, do_sample=False)
        seconds = time.perf_counter() - started
    return {
        "prompt_tokens": int(encoded["input_ids"].shape[1]),
        "seconds": round(seconds, 2),
        "tokens_per_second": round(len(prompts) * GENERATED / seconds, 1),
    }


def training(preset_name: str, dtype: str, steps: int, out_dir: Path) -> dict:
    from rft.training.config import apply_overrides
    from rft.training.presets import get_preset
    from rft.training.run import read_metrics, train

    preset = apply_overrides(
        get_preset(preset_name),
        {"cpu_dtype": dtype, "max_steps": str(steps), "save_steps": "1000", "num_rows": "64"},
    )
    result = train(preset, runs_dir=out_dir, progress=False)
    rows = read_metrics(result.metrics_path)
    figures = {"step_seconds": [round(row["wall_seconds"], 2) for row in rows]}
    figures["seconds_per_step"] = round(statistics.mean(figures["step_seconds"]), 2)
    key = "loss" if preset.trainer == "sft" else "reward"
    figures[key] = [round(row[key], 4) for row in rows]
    return figures


def run_child(preset_name: str, dtype: str) -> dict:
    from rft.training.presets import get_preset

    preset = get_preset(preset_name)
    figures = {"generation": generation(preset, dtype)}
    with tempfile.TemporaryDirectory() as out_dir:
        figures["sft"] = training(f"{preset_name}-sft", dtype, SFT_STEPS, Path(out_dir))
        figures["grpo"] = training(preset_name, dtype, GRPO_STEPS, Path(out_dir))
    figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return figures


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        print("RESULT " + json.dumps(run_child(*sys.argv[2].split("@"))))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", nargs="+", default=list(MODELS), metavar="PRESET")
    args = parser.parse_args()
    from rft.runtime import cpu_has_bf16

    if not cpu_has_bf16():
        sys.exit("this CPU has no native bf16 (avx512_bf16 or amx_bf16): nothing to compare")
    figures: dict = {}
    for preset_name in args.models:
        per_dtype = {}
        for dtype in DTYPES:
            print(f"{preset_name} in {dtype} ...", flush=True)
            done = subprocess.run(
                [sys.executable, __file__, "--child", f"{preset_name}@{dtype}", "-"],
                capture_output=True,
                text=True,
            )
            if done.returncode:
                sys.exit(f"{preset_name} {dtype} failed:\n{done.stderr[-3000:]}")
            line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
            per_dtype[dtype] = json.loads(line[7:])
        fp32, bf16 = per_dtype["float32"], per_dtype["bfloat16"]
        speedups = {
            "generation": round(
                bf16["generation"]["tokens_per_second"] / fp32["generation"]["tokens_per_second"], 2
            ),
            "sft_step": round(fp32["sft"]["seconds_per_step"] / bf16["sft"]["seconds_per_step"], 2),
            "grpo_step": round(fp32["grpo"]["seconds_per_step"] / bf16["grpo"]["seconds_per_step"], 2),
        }
        loss_gap = max(abs(a - b) for a, b in zip(fp32["sft"]["loss"], bf16["sft"]["loss"]))
        figures[preset_name] = {
            **per_dtype,
            "bf16_speedup": speedups,
            "sft_loss_largest_gap": round(loss_gap, 4),
            "adopt_bf16": min(speedups.values()) >= SPEEDUP_RULE,
        }
    write(
        "cpu_bf16",
        parent=None,
        changes="none (fp32 against bf16 base weights, both in this file)",
        figures={
            "settings": {
                "generation": f"4 prompts, greedy, {GENERATED} new tokens each, one batch",
                "sft_steps": SFT_STEPS,
                "grpo_steps": GRPO_STEPS,
                "rule": f"bf16 where every speedup is at least {SPEEDUP_RULE}x",
            },
            **figures,
        },
    )


if __name__ == "__main__":
    main()
