"""GSM8K grade-school arithmetic as a second GRPO task: problems, prompts, rewards, accuracy."""

from rft.gsm8k.problems import (
    HUB_DATASET,
    SAMPLE,
    SYSTEM_PROMPT,
    GSM8KDatasetConfig,
    Problem,
    build_dataset,
    build_messages,
    build_rows,
    gold_answer,
    load_problems,
)
from rft.gsm8k.rewards import (
    DEFAULT_REWARD_WEIGHTS,
    REWARD_FUNCTIONS,
    correctness_reward,
    format_reward,
    number_reward,
    parse_answer,
    select_rewards,
)

__all__ = [
    "DEFAULT_REWARD_WEIGHTS",
    "HUB_DATASET",
    "REWARD_FUNCTIONS",
    "SAMPLE",
    "SYSTEM_PROMPT",
    "GSM8KDatasetConfig",
    "Problem",
    "build_dataset",
    "build_messages",
    "build_rows",
    "correctness_reward",
    "format_reward",
    "gold_answer",
    "load_problems",
    "number_reward",
    "parse_answer",
    "select_rewards",
]
