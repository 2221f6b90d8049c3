"""The README's reference tables, made from the code so that they cannot drift from it: the
settings users change most, with each preset's default, and what every evaluation rate means.
``rft presets --markdown`` prints them; a test compares them with the README's copy."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from rft.training.config import Preset
from rft.training.presets import PRESETS
from rft.wordle.play import METRIC_MEANINGS

# The Wordle GRPO presets a user starts from, GPU first; each one's warm-up is NAME-sft.
MAIN_PRESETS = (
    "t4-qwen2.5-3b-wordle",
    "t4-gemma3-1b-wordle",
    "cpu-qwen2.5-coder-0.5b-wordle",
    "cpu-smollm2-wordle",
)


def _trainer(name: str) -> Callable[[Preset], Any]:
    return lambda preset: preset.trainer_args.get(name, "TRL's")


def _weights(preset: Preset) -> str:
    return ", ".join(f"{name} {weight:g}" for name, weight in preset.rewards.items())


# (the setting as given on the command line, what it does, how a preset's value is read)
SETTINGS: Sequence[tuple[str, str, Callable[[Preset], Any]]] = (
    ("--model", "the base model", lambda p: p.model),
    ("--max_steps", "GRPO steps", _trainer("max_steps")),
    ("--learning_rate", "GRPO's learning rate (LoRA)", _trainer("learning_rate")),
    ("--num_generations", "completions per prompt: one group", _trainer("num_generations")),
    ("--max_completion_length", "new tokens a completion may take", _trainer("max_completion_length")),
    ("--beta", "KL term to the model continued (0: none)", _trainer("beta")),
    ("--rewards", "rewards and their weights", _weights),
    ("--num_rows", "game states GRPO samples from", lambda p: p.dataset.num_rows),
    (
        "--prompt_style",
        "`full` (rules, worked example), `compact`, or `short` (the guess tag alone)",
        lambda p: p.dataset.prompt_style,
    ),
    ("--lora_r", "LoRA rank (alpha is twice it)", lambda p: p.lora_r),
    ("--cpu_dtype", "base weights' dtype without a GPU", lambda p: p.cpu_dtype if p.device == "cpu" else "—"),
)
WARM_UP_SETTINGS: Sequence[tuple[str, str, Callable[[Preset], Any]]] = (
    ("--max_steps", "warm-up (`-sft`) steps", _trainer("max_steps")),
    ("--learning_rate", "warm-up learning rate", _trainer("learning_rate")),
    ("--num_rows", "solver traces to learn from", lambda p: p.dataset.num_rows),
)


def _cell(value: Any) -> str:
    return f"`{value}`" if not isinstance(value, str) or value not in ("TRL's", "—") else value


def settings_table() -> str:
    """Markdown: the settings a user changes most, and each main preset's default."""
    header = ["setting", "what it does", *(f"`{name}`" for name in MAIN_PRESETS)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for presets, settings in (
        ([PRESETS[name] for name in MAIN_PRESETS], SETTINGS),
        ([PRESETS[f"{name}-sft"] for name in MAIN_PRESETS], WARM_UP_SETTINGS),
    ):
        for flag, meaning, read in settings:
            lines.append("| " + " | ".join([f"`{flag}`", meaning, *(_cell(read(p)) for p in presets)]) + " |")
    return "\n".join(lines) + "\n"


def metrics_table() -> str:
    """Markdown: what each rate of a Wordle evaluation means."""
    lines = ["| metric | what it counts |", "|---|---|"]
    lines += [f"| `{name}` | {meaning} |" for name, meaning in METRIC_MEANINGS.items()]
    return "\n".join(lines) + "\n"
