"""GSM8K as a task: problems for GRPO, accuracy on held-out ones; no warm-up, no games of its own."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rft.gsm8k.held_out_problems import evaluate_loaded, markdown_table
from rft.gsm8k.problems import GSM8KDatasetConfig, build_dataset, build_rows, load_problems
from rft.gsm8k.rewards import ANSWER_CLOSE, DEFAULT_REWARD_WEIGHTS, select_rewards
from rft.tasks import PresetLike, Task


def grpo_dataset(preset: PresetLike, progress: bool, own_games: Sequence[Any] = ()) -> Any:
    return build_dataset(load_problems(preset.dataset.problems), preset.dataset.num_rows, preset.seed)


def example_rows(preset: PresetLike, count: int) -> list[dict[str, Any]]:
    return build_rows(load_problems(preset.dataset.problems), count, preset.seed)


def how_to_prompt(preset: PresetLike) -> str:
    return (
        "Prompts are built by `rft.gsm8k.build_messages(question)`; the model answers "
        "`<think>…</think>` then `<answer>NUMBER</answer>`."
    )


def check_settings(preset: PresetLike) -> None:
    problems = preset.dataset.problems
    if problems.endswith(".jsonl") and not Path(problems).is_file():
        raise ValueError(f"problems: no file {problems}")


def check_data(preset: PresetLike) -> None:
    """The problems are read now, before a model loads: a bad line of a local file is an error naming
    the file and the line, and a Hub dataset that cannot be reached (offline, no network, a wrong
    id) one line saying what to use instead. A Hub dataset is cached, so training reads it again
    from disk."""
    problems = preset.dataset.problems
    try:
        load_problems(problems)
    except ValueError:
        raise
    except Exception as error:  # datasets raises its own types for a missing network or dataset
        first_line = (str(error).strip().splitlines() or [""])[0][:200]
        raise ValueError(
            f"problems: {problems} could not be loaded ({type(error).__name__}: {first_line}); "
            "without the Hub, use problems=sample (32 shipped problems) or a .jsonl file"
        ) from None


GSM8K = Task(
    name="gsm8k",
    skill="solve GSM8K arithmetic word problems",
    closing_tag=ANSWER_CLOSE,
    dataset_config=GSM8KDatasetConfig,
    default_rewards=DEFAULT_REWARD_WEIGHTS,
    select_rewards=select_rewards,
    grpo_dataset=grpo_dataset,
    example_rows=example_rows,
    how_to_prompt=how_to_prompt,
    check_settings=check_settings,
    check_data=check_data,
    evaluate=evaluate_loaded,
    evaluation_table=markdown_table,
)
