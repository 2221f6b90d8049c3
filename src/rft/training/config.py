"""What a preset is: the :class:`Preset` record, reading it from the command line and from a run
folder, and every check made before a model loads (each error names the field). The named recipes
themselves are data, in :mod:`rft.training.presets`.

A preset says which trainer (GRPO, or SFT for the warm-up), which model and loader, the LoRA shape,
rewards and their weights, the task's dataset config (``dataset``), and any field of the trainer's
TRL config (``GRPOConfig`` or ``SFTConfig``). Everything can be overridden by name
(``learning_rate=1e-5`` or ``num_rows=64``; ``--learning_rate 1e-5`` on the command line).
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from rft.checks import check_integer, check_number
from rft.generation import EVAL_MAX_NEW_TOKENS
from rft.gsm8k.task import GSM8K
from rft.reward_common import RewardFunction
from rft.tasks import Task
from rft.wordle.dataset import WordleDatasetConfig
from rft.wordle.task import WORDLE

ALL_PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
LOADERS = ("unsloth", "transformers", "tiny")
CPU_DTYPES = ("auto", "float32", "bfloat16")
TRAINERS = ("grpo", "sft")
ROLLOUTS = ("turns", "games")
DEVICES = ("cuda", "cpu")
# The tasks a preset can train: a third is one folder with its Task (rft.tasks) and one entry here.
TASKS: dict[str, Task] = {task.name: task for task in (WORDLE, GSM8K)}


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    model: str
    loader: str
    device: str
    task: str = "wordle"  # or "gsm8k"
    trainer: str = "grpo"
    init_from: str | None = None  # a run folder whose adapter this run continues (e.g. the SFT warm-up)
    cpu_alternative: str = "cpu-smollm2-wordle"
    load_in_4bit: bool = False
    # The base weights' dtype on a CPU: "auto" is bfloat16 where the CPU multiplies it natively
    # (AVX512-BF16, AMX) and float32 elsewhere; LoRA stays float32 (benchmarks/cpu_bf16.py).
    cpu_dtype: str = "float32"
    max_seq_length: int = 1024
    # Unsloth's in-process vLLM engine for generation (loader "unsloth" only; needs vllm installed).
    # Opt-in until measured on a T4. TRL's own vLLM settings (use_vllm, vllm_mode: "server" for the
    # multi-GPU recipe) are GRPOConfig fields and go to trainer_args like any other.
    fast_inference: bool = False
    gpu_memory_utilization: float = 0.6  # the share of GPU memory fast_inference's engine may take
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.0
    lora_target_modules: tuple[str, ...] = ALL_PROJECTIONS
    rewards: Mapping[str, float] = field(default_factory=lambda: dict(WORDLE.default_rewards))
    # The task's dataset config, an instance of its Task.dataset_config: WordleDatasetConfig (game
    # states: how many, whose histories, prompt style, lost turns) or GSM8KDatasetConfig. Its
    # fields are set by name like the preset's own (num_rows=64).
    dataset: Any = field(default_factory=WordleDatasetConfig)
    # With init_from: also train on the states the run it continues reaches in this many games of
    # its own (training secrets). SFT answers them as the trace player would: the way out of its
    # own mistakes; GRPO samples its groups there, where the model really stands.
    own_games: int = 0
    # GRPO: each completion ends right after its answer's closing tag (rft.generation), as it does
    # in evaluation. Off only to measure what it saves (benchmarks/end_at_answer.py).
    end_at_answer: bool = True
    # Wordle: inside <guess> the model may only spell an allowed word, then </guess> (the reasoning
    # before it stays free), in training, evaluation and play alike (rft.constrained); where vLLM
    # generates, TRL's vllm_structured_outputs_regex carries the same language.
    constrain_guesses: bool = False
    # GRPO's unit: "turns" samples one answer to one game state; "games" plays each group's game to
    # its end from that state, one chat per game (rft.wordle.conversation), the outcome rewarded
    # too. max_game_tokens caps a game's answers and replies together; a game cut there is lost.
    rollout: str = "turns"
    max_game_tokens: int = 1024
    seed: int = 0
    sample_every: int = 5  # write sample completions to the run folder every N steps (GRPO)
    trainer_args: Mapping[str, Any] = field(default_factory=dict)  # any GRPOConfig / SFTConfig field

    @property
    def eval_max_new_tokens(self) -> int:
        """New tokens a turn when this run's model plays: what GRPO let it write, so evaluation
        never cuts short an answer that training paid for (the warm-up's traces fit the default)."""
        return int(self.trainer_args.get("max_completion_length") or EVAL_MAX_NEW_TOKENS)

    @property
    def task_definition(self) -> Task:
        """What this preset's task provides to training (rows, warm-up, rewards, checks)."""
        return get_task(self.task)

    @property
    def closing_tag(self) -> str:
        return self.task_definition.closing_tag

    @property
    def prompt_style(self) -> str:
        """How this run's model is prompted when it plays Wordle (its dataset's style; a task
        without styles prompts one way, "full")."""
        return getattr(self.dataset, "prompt_style", "full")

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["rewards"], data["trainer_args"] = dict(self.rewards), dict(self.trainer_args)
        data["lora_target_modules"] = list(self.lora_target_modules)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Preset:
        """A preset as a run folder's ``config.json`` holds it; a field of the wrong type or an unknown
        one is a ``ValueError`` naming it."""
        values = dict(data)
        dataset_class = get_task(values.get("task", "wordle")).dataset_config
        dataset_fields = {f.name for f in fields(dataset_class)}
        dataset = values.pop("dataset", None) or {}
        if not isinstance(dataset, Mapping):
            raise ValueError(
                f"dataset: expected an object of {dataset_class.__name__} fields, got {dataset!r:.60}"
            )
        dataset = dict(dataset)
        unknown = sorted(set(values) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"unknown preset field {unknown[0]!r}")
        unknown = sorted(set(dataset) - dataset_fields)
        if unknown:
            raise ValueError(f"unknown {dataset_class.__name__} field {unknown[0]!r} in dataset")
        hints = typing.get_type_hints(cls)
        for name, value in values.items():  # a hand-edited "lora_dropout": "0.1" is named, not a TypeError
            if not _matches(value, hints[name]):
                raise ValueError(f"{name}: expected {_describe(hints[name])}, got {value!r}")
        if "lora_target_modules" in values:
            values["lora_target_modules"] = tuple(values["lora_target_modules"])
        return validate(cls(**values, dataset=dataset_class(**dataset)))


def _matches(value: Any, annotation: Any) -> bool:
    """``value`` is of the type a preset field declares (JSON's types: an int is a float too)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, option) for option in args)
    if annotation is type(None):
        return value is None
    if annotation is bool:
        return isinstance(value, bool)
    if annotation in (int, float):
        allowed = (int,) if annotation is int else (int, float)
        return isinstance(value, allowed) and not isinstance(value, bool)
    if annotation is str:
        return isinstance(value, str)
    if origin in (tuple, list):
        return isinstance(value, (list, tuple)) and all(_matches(item, args[0]) for item in value)
    if origin in (dict, Mapping, typing.Mapping) or annotation in (dict, Mapping):
        if not isinstance(value, Mapping):
            return False
        return not args or all(_matches(k, args[0]) and _matches(v, args[1]) for k, v in value.items())
    return True


def _describe(annotation: Any) -> str:
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "").replace("collections.abc.", "")


# ---------------------------------------------------------------------------------------------
# Overrides
# ---------------------------------------------------------------------------------------------


def trainer_config_class(trainer: str) -> type:
    """TRL's config class for a trainer name: ``GRPOConfig`` or ``SFTConfig``."""
    if trainer not in TRAINERS:
        raise ValueError(f"trainer must be one of {TRAINERS}, got {trainer!r}")
    import trl

    return trl.GRPOConfig if trainer == "grpo" else trl.SFTConfig


def trainer_field_types(trainer: str) -> dict[str, Any]:
    """Every field of the trainer's config class in the installed TRL, with its type."""
    config_class = trainer_config_class(trainer)
    hints = typing.get_type_hints(config_class)
    return {f.name: hints.get(f.name, str) for f in fields(config_class) if f.init}


def _convert(name: str, raw: Any, annotation: Any) -> Any:
    """A command-line string as the type the field declares; non-strings pass through."""
    if not isinstance(raw, str):
        return raw
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if raw.lower() in ("none", "null") and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        for option in options:
            try:
                return _convert(name, raw, option)
            except ValueError:
                continue
        raise ValueError(f"{name}: cannot read {raw!r} as {annotation}")
    if annotation is bool:
        lowered = raw.lower()
        if lowered in ("true", "1", "yes", "on"):
            return True
        if lowered in ("false", "0", "no", "off"):
            return False
        raise ValueError(f"{name}: expected true or false, got {raw!r}")
    if annotation in (int, float):
        try:
            return annotation(raw)
        except ValueError:
            raise ValueError(f"{name}: expected {annotation.__name__}, got {raw!r}") from None
    if origin in (list, tuple) or annotation in (list, tuple):
        items = json.loads(raw) if raw.startswith("[") else [item for item in raw.split(",") if item]
        item_type = args[0] if args else str
        return [_convert(name, item, item_type) if isinstance(item, str) else item for item in items]
    if origin is dict or annotation is dict:
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            raise ValueError(f"{name}: expected a JSON object, got {raw!r}") from None
    return raw


def _parse_weights(field_name: str, raw: Any, example: str) -> dict[str, float]:
    """``format=1,guess_value=2`` or a mapping, for the weighted fields (rewards, history_players)."""
    if isinstance(raw, Mapping):
        return {str(k): float(v) for k, v in raw.items()}
    weights = {}
    for part in str(raw).split(","):
        name, sep, value = part.partition("=")
        if not sep:
            raise ValueError(f"{field_name}: expected name=weight pairs like {example!r}, got {raw!r}")
        try:
            weights[name.strip()] = float(value)
        except ValueError:
            raise ValueError(
                f"{field_name}: weight of {name.strip()!r} must be a number, got {value!r}"
            ) from None
    return weights


def apply_overrides(
    preset: Preset, overrides: Mapping[str, Any], *, init_from_trained: bool = True
) -> Preset:
    """A copy of ``preset`` with fields set by name: the preset's own, its dataset config's, then the
    trainer's config. ``init_from_trained=False`` checks settings for a run whose ``init_from`` is
    still to be trained, so that a wrong one fails before the run it continues spends its time."""
    overrides = {key.lstrip("-").replace("-", "_"): raw for key, raw in overrides.items()}
    if "task" in overrides and overrides["task"] != preset.task:
        # Another task reads another dataset config and scores with other rewards: the new task's
        # defaults, then any set here.
        task = get_task(overrides["task"])
        preset = replace(
            preset, task=task.name, dataset=task.dataset_config(), rewards=dict(task.default_rewards)
        )
    preset_types = typing.get_type_hints(Preset)
    preset_fields = {f.name for f in fields(Preset)} - {"name", "trainer_args", "trainer", "dataset"}
    dataset_class = type(preset.dataset)
    dataset_types = typing.get_type_hints(dataset_class)
    dataset_fields = {f.name for f in fields(dataset_class)} - {"split"}  # GRPO trains on training data
    config_types = trainer_field_types(preset.trainer)
    changes: dict[str, Any] = {}
    dataset_changes: dict[str, Any] = {}
    trainer_args = dict(preset.trainer_args)
    for name, raw in overrides.items():
        if name == "rewards":
            changes["rewards"] = _parse_weights("rewards", raw, "format=1,guess_value=2")
        elif name == "history_players" and name in dataset_fields:
            dataset_changes[name] = _parse_weights(name, raw, "solver=3,random-consistent=1")
        elif name == "lora_target_modules":
            changes[name] = tuple(raw.split(",")) if isinstance(raw, str) else tuple(raw)
        elif name == "init_from" and raw is not None:
            changes[name] = str(Path(raw).resolve())  # the run stays valid from any working folder
        elif name in preset_fields:
            changes[name] = _convert(name, raw, preset_types[name])
        elif name in dataset_fields:
            dataset_changes[name] = _convert(name, raw, dataset_types[name])
        elif name == "report_to" and isinstance(raw, str) and "," in raw:  # several integrations
            trainer_args[name] = [part.strip() for part in raw.split(",") if part.strip()]
        elif name in config_types:
            trainer_args[name] = _convert(name, raw, config_types[name])
        else:
            close = difflib.get_close_matches(name, [*preset_fields, *dataset_fields, *config_types], n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            config_name = trainer_config_class(preset.trainer).__name__
            raise ValueError(
                f"unknown setting {name!r}{hint}: not a preset field, a {dataset_class.__name__} field "
                f"({preset.task}), nor a {config_name} field"
            )
    if dataset_changes:
        changes["dataset"] = replace(preset.dataset, **dataset_changes)  # raises naming the field
    return validate(
        replace(preset, trainer_args=trainer_args, **changes), init_from_trained=init_from_trained
    )


def get_task(name: str) -> Task:
    if name not in TASKS:
        raise ValueError(f"task must be one of {tuple(TASKS)}, got {name!r}")
    return TASKS[name]


def task_rewards(preset: Preset) -> tuple[list[RewardFunction], list[float]]:
    """The preset's reward functions and weights, from its task's set."""
    return preset.task_definition.select_rewards(preset.rewards)


def check_rollout(preset: Preset, task: Task) -> None:
    """Whole games need GRPO and a task that plays games; a reward only a game can earn needs them."""
    if preset.rollout not in ROLLOUTS:
        raise ValueError(f"rollout must be one of {ROLLOUTS}, got {preset.rollout!r}")
    check_integer("max_game_tokens", preset.max_game_tokens, minimum=1)
    if preset.rollout == "games":
        if preset.trainer != "grpo":
            raise ValueError("rollout 'games' is for GRPO; the warm-up (trainer 'sft') learns single turns")
        if task.whole_games is None:
            raise ValueError(f"rollout 'games': task {preset.task!r} has no games to play")
        if preset.max_game_tokens < preset.eval_max_new_tokens:
            raise ValueError(
                f"max_game_tokens {preset.max_game_tokens} is less than one turn "
                f"(max_completion_length {preset.eval_max_new_tokens})"
            )
        if preset.trainer_args.get("use_vllm"):
            # A game's turns are generated by the policy model, one after another, with the
            # generation config TRL builds only without vLLM: found here, not after loading.
            raise ValueError(
                "use_vllm: rollout 'games' plays its turns with the trained model itself, not vLLM; "
                "--use_vllm false"
            )
    elif preset.trainer == "grpo":
        whole_game_only = sorted(name for name in preset.rewards if name in task.game_only_rewards)
        if whole_game_only:
            raise ValueError(
                f"rewards: {whole_game_only[0]!r} pays a whole game's outcome; it needs --rollout games"
            )


def check_constrain_guesses(preset: Preset, task: Task) -> None:
    """Guesses held to allowed words need a task with a word list, and a generator that can hold
    them: transformers' (rft.constrained) or TRL's vLLM (vllm_structured_outputs_regex, set from
    the same language); Unsloth's own vLLM engine takes no such setting."""
    if not preset.constrain_guesses:
        return
    if task.answer_language is None:
        raise ValueError(
            f"constrain_guesses: task {preset.task!r} has no list of allowed answers (Wordle has)"
        )
    if preset.fast_inference:
        raise ValueError(
            "constrain_guesses: Unsloth's fast_inference (vLLM) cannot hold guesses to allowed words; "
            "--fast_inference false, or TRL's vLLM (--use_vllm true), or --constrain_guesses false"
        )
    if preset.trainer_args.get("vllm_structured_outputs_regex") is not None:
        raise ValueError(
            "constrain_guesses sets vllm_structured_outputs_regex itself (to the allowed words): "
            "give one or the other"
        )


def validate(preset: Preset, *, init_from_trained: bool = True) -> Preset:
    """Check everything that can be checked without a model; raise ``ValueError`` naming the field.
    With ``init_from_trained=False`` the folder ``init_from`` names need not hold a run yet."""
    if preset.loader not in LOADERS:
        raise ValueError(f"loader must be one of {LOADERS}, got {preset.loader!r}")
    if preset.device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {preset.device!r}")
    if preset.cpu_dtype not in CPU_DTYPES:
        raise ValueError(f"cpu_dtype must be one of {CPU_DTYPES}, got {preset.cpu_dtype!r}")
    if preset.loader == "unsloth" and preset.device != "cuda":
        raise ValueError("loader 'unsloth' needs device 'cuda'")
    if preset.fast_inference and preset.loader != "unsloth":
        raise ValueError(
            "fast_inference is Unsloth's in-process vLLM engine: it needs loader 'unsloth' "
            "(TRL's own vLLM is --use_vllm true with --vllm_mode server or colocate)"
        )
    task = get_task(preset.task)
    if preset.trainer == "sft" and task.warm_up_rows is None:
        raise ValueError(f"trainer 'sft' (the supervised warm-up) has no rows for task {preset.task!r}")
    if not isinstance(preset.dataset, task.dataset_config):
        raise ValueError(
            f"dataset: task {preset.task!r} reads a {task.dataset_config.__name__}, "
            f"got {type(preset.dataset).__name__}"
        )
    for name in ("lora_r", "lora_alpha", "max_seq_length", "sample_every"):
        check_integer(name, getattr(preset, name), minimum=1)
    check_integer("seed", preset.seed, minimum=0)
    if not 0.0 <= preset.lora_dropout < 1.0:
        raise ValueError(f"lora_dropout must be in [0, 1), got {preset.lora_dropout!r}")
    if not 0.0 < preset.gpu_memory_utilization <= 1.0:
        raise ValueError(f"gpu_memory_utilization must be in (0, 1], got {preset.gpu_memory_utilization!r}")
    if not preset.lora_target_modules:
        raise ValueError("lora_target_modules must name at least one module")
    task.check_settings(preset)  # raises naming the field
    check_integer("own_games", preset.own_games, minimum=0)
    if preset.own_games and (task.play_own_games is None or preset.init_from is None):
        raise ValueError(
            "own_games is for a Wordle run with init_from (--init-from RUN): the run it continues "
            "plays the games"
        )
    task_rewards(preset)  # raises naming the reward
    check_rollout(preset, task)
    check_constrain_guesses(preset, task)

    if (
        init_from_trained
        and preset.init_from is not None
        and not (Path(preset.init_from) / "adapter" / "adapter_config.json").is_file()
    ):
        raise ValueError(f"init_from: {preset.init_from} is not a finished run folder (no adapter/ in it)")

    args = dict(preset.trainer_args)
    config_types = trainer_field_types(preset.trainer)
    for name in args:
        if name not in config_types:
            config_name = trainer_config_class(preset.trainer).__name__
            raise ValueError(f"trainer_args: unknown {config_name} field {name!r} for the installed TRL")
    for name in POSITIVE_INTEGER_ARGS:
        if args.get(name) is not None:
            check_integer(name, args[name], minimum=1)
    if "seed" in args:
        check_integer("seed", args["seed"], minimum=0)
    for name, allow_zero in NUMBER_ARGS.items():
        if args.get(name) is not None:
            check_number(name, args[name], allow_zero=allow_zero)
    steps = args.get("max_steps", -1)
    if isinstance(steps, bool) or not isinstance(steps, int) or not (steps == -1 or steps >= 1):
        raise ValueError(
            f"max_steps must be a positive integer (or -1 to train for num_train_epochs), got {steps!r}"
        )
    if preset.trainer == "grpo" and "loss_type" in args:
        supported = supported_loss_types()
        if supported and args["loss_type"] not in supported:
            raise ValueError(
                f"loss_type must be one of {supported} (the installed TRL's), got {args['loss_type']!r}"
            )
    if args.get("push_to_hub") and any(value and name.endswith("_token") for name, value in args.items()):
        raise ValueError(
            "with push_to_hub, give the token as HF_TOKEN in the environment, not as a setting: rft keeps "
            "credentials out of the trainer's settings (they are uploaded with every checkpoint)"
        )
    if preset.device == "cpu":
        for name in ("fp16", "bf16"):
            if args.get(name):
                raise ValueError(f"{name}=True needs a GPU; set {name}=false for a CPU preset")
    if preset.trainer == "grpo":
        generations = args.get("num_generations", 8)
        batch = args.get("per_device_train_batch_size", 8) * args.get("gradient_accumulation_steps", 1)
        if isinstance(generations, bool) or not isinstance(generations, int) or generations < 2:
            raise ValueError(
                f"num_generations must be an integer >= 2 (GRPO compares completions), got {generations!r}"
            )
        if batch % generations:
            raise ValueError(
                f"per_device_train_batch_size × gradient_accumulation_steps = {batch} must be divisible by "
                f"num_generations = {generations}: each prompt's completions are scored as one group"
            )
    return preset


# Trainer settings that count something (steps, rows, tokens): whole numbers from 1. A zero would
# fail deep inside training, after the model loaded; -1 is max_steps' own "use epochs" value.
POSITIVE_INTEGER_ARGS = (
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "max_completion_length",
    "max_prompt_length",
    "save_total_limit",
    "num_iterations",
    "generation_batch_size",
)
# Trainer settings that are amounts, and whether zero is one (no KL term, no weight decay).
NUMBER_ARGS = {
    "learning_rate": False,
    "logging_steps": False,  # below 1: a share of max_steps
    "save_steps": False,
    "temperature": False,
    "beta": True,
    "weight_decay": True,
    "warmup_steps": True,
    "warmup_ratio": True,
    "max_grad_norm": True,
    "epsilon": True,
}


def supported_loss_types() -> tuple[str, ...]:
    """The GRPO loss types the installed TRL names in its ``loss_type`` help (they differ between
    releases); empty when it names none, and the check is left to TRL."""
    import re

    field_ = next(f for f in fields(trainer_config_class("grpo")) if f.name == "loss_type")
    help_text = field_.metadata.get("help", "")
    listed = re.search(r"Supported values are (.*?)\.\s", help_text)
    return tuple(re.findall(r"'([a-z_]+)'", listed.group(1))) if listed else ()
