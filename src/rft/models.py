"""Loading a model to play or score with: a preset's base model, a run folder (its base and
adapter), a local model folder or a Hub id. Wordle's evaluation, GSM8K's, the terminal's games
and the recipe all load through here; training loads through :mod:`rft.training.policy`, which
this builds on.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rft.constrained import hold_answers
from rft.generation import EVAL_MAX_NEW_TOKENS
from rft.runtime import inference_dtype, unsloth_usable
from rft.training.config import Preset
from rft.training.policy import (
    EMBEDDED_MODEL_ID,
    TINY_HIDDEN_SIZE,
    TINY_LAYERS,
    adapter_dir_of,
    cpu_dtype,
    load_unsloth_for_inference,
    model_path,
)
from rft.training.presets import PRESETS, get_preset
from rft.weights import SHIPPED_MODELS
from rft.wordle.guess_language import guess_regex


@dataclass
class LoadedModel:
    model: Any
    tokenizer: Any
    prompt_style: str
    label: str
    adapter_off: bool = False  # the base model, seen through a PEFT model with its adapter disabled
    loader: str = "transformers"  # or "unsloth", "tiny": how the base was loaded
    # A run that trained on whole games (rollout games) plays each game as one chat, as it trained;
    # otherwise a fresh prompt every turn.
    whole_games: bool = False


def preset_of(model: str | Path) -> Preset | None:
    """The preset behind a preset name or a run folder; None for a plain model folder or hub id."""
    if str(model) in PRESETS:
        return get_preset(str(model))
    config = Path(model) / "config.json"
    if config.is_file() and "preset" in json.loads(config.read_text(encoding="utf-8")):
        from rft.training.run_folder import read_run_config

        return read_run_config(Path(model))
    return None


def max_new_tokens_for(model: str | Path) -> int:
    """New tokens a turn for a preset or run folder (what it trained with), else the default."""
    preset = preset_of(model)
    return EVAL_MAX_NEW_TOKENS if preset is None else preset.eval_max_new_tokens


def load_base(
    spec: Preset | str, constrain_guesses: bool = False, prompt_style: str | None = None
) -> LoadedModel:
    """The base model of a preset (its prompt style too, unless ``prompt_style`` names the one
    it plays in), or a model folder / hub id.

    Its guesses are held to allowed words (:mod:`rft.wordle.guess_language`, in the style it is
    prompted in) where the preset says so (``constrain_guesses``: a run plays as it trained) or
    ``constrain_guesses`` asks it.

    A preset trained through Unsloth is played through Unsloth where it can run: the same 4-bit
    base its adapter was trained on, in Unsloth's inference mode, in a process whose model classes
    Unsloth has patched anyway. Everything else loads with plain transformers."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    loader = "transformers"
    if isinstance(spec, Preset) and spec.loader == "unsloth" and unsloth_usable():
        network, tokenizer = load_unsloth_for_inference(spec)
        loader = "unsloth"
    elif isinstance(spec, Preset) and spec.loader == "tiny":
        from rft.training.policy import load_tiny

        network, tokenizer = load_tiny(seed=spec.seed)
        loader = "tiny"
    else:
        name = spec.model if isinstance(spec, Preset) else spec
        path = model_path(name)
        tokenizer = AutoTokenizer.from_pretrained(path)
        kwargs: dict[str, Any] = {}
        if torch.cuda.is_available():
            kwargs = {"dtype": inference_dtype(name), "device_map": "cuda"}
        elif isinstance(spec, Preset):  # played in the dtype it trained in
            kwargs = {"dtype": cpu_dtype(spec)}
        network = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    network.eval()
    style = prompt_style or (spec.prompt_style if isinstance(spec, Preset) else "full")
    if constrain_guesses or (isinstance(spec, Preset) and spec.constrain_guesses):
        language = spec.task_definition.answer_language if isinstance(spec, Preset) else guess_regex
        if language is None:
            raise ValueError(f"constrain_guesses: task {spec.task!r} has no list of allowed answers")
        hold_answers(network, tokenizer, language(style))
    games = isinstance(spec, Preset) and spec.rollout == "games"
    return LoadedModel(network, tokenizer, style, "base", loader=loader, whole_games=games)


def with_adapter(loaded: LoadedModel, run_dir: str | Path) -> LoadedModel:
    from peft import PeftModel

    network = PeftModel.from_pretrained(loaded.model, adapter_dir_of(run_dir))
    network.eval()
    if loaded.loader == "unsloth":  # the adapter's layers too run Unsloth's inference kernels
        from unsloth import FastLanguageModel

        FastLanguageModel.for_inference(network)
    return replace(loaded, model=network, label="trained")


def load_models(
    model: str, adapter: str | Path | None = None, constrain_guesses: bool = False
) -> list[LoadedModel]:
    """What ``rft eval --model M [--adapter RUN]`` plays: M alone; M and M + RUN's adapter; or, for
    M a run folder, its base model and its adapter. A run's adapter is played as that run trained
    (a whole-game run one chat a game, with its prompt style), and the base beside it the same way,
    so the two are compared on one protocol. Guesses are held to allowed words for both where
    ``constrain_guesses`` asks it or either run trained so (the base as its adapter plays)."""
    preset = preset_of(model)
    if adapter is None and preset is not None and Path(model).is_dir():
        adapter = model
    spec: Preset | str = preset if preset is not None else model
    if adapter is None:
        return [load_base(spec, constrain_guesses)]
    # Played as its run trained (one chat a game, its prompts, its constraint), whatever M's preset.
    run = run_preset_of_adapter(adapter)
    constrain_guesses = constrain_guesses or bool(run and run.constrain_guesses)
    # One copy of the weights serves both: the base plays with the adapter disabled, so a 3B
    # model is loaded once, not twice, on a 16 GB T4.
    trained = with_adapter(load_base(spec, constrain_guesses, run and run.prompt_style), adapter)
    if run is not None:
        trained = replace(trained, prompt_style=run.prompt_style, whole_games=run.rollout == "games")
    base = replace(trained, label="base", adapter_off=True)
    return [base, trained]


def run_preset_of_adapter(adapter: str | Path) -> Preset | None:
    """The preset of the run an adapter was trained in: the run folder itself, or the run folder
    next to it (``RUN/adapter``, ``RUN/checkpoint-N``); None for an adapter with no run beside it
    (an export's ``lora/``), which plays as ``--model``'s preset says."""
    folder = Path(adapter)
    for candidate in (folder, folder.parent):
        config = candidate / "config.json"
        if config.is_file() and "preset" in json.loads(config.read_text(encoding="utf-8")):
            return preset_of(candidate)
    return None


HUB_ID = re.compile(r"[\w.-]+/[\w.-]+")


def check_model(model: str | Path) -> None:
    """``model`` is a preset name, a run folder, a local model folder or a Hub id (``org/name``);
    anything else is a ``ValueError`` before anything loads."""
    text = str(model)
    if not text.strip():
        raise ValueError(
            "--model is empty: give a preset (see `rft presets`), a run folder, a model folder or a Hub id"
        )
    if text in PRESETS or text == EMBEDDED_MODEL_ID or text in SHIPPED_MODELS:
        return
    if Path(text).is_dir():
        check_model_folder(Path(text))
        return
    if HUB_ID.fullmatch(text) and not Path(text).parent.is_dir():
        return
    suggestions = difflib.get_close_matches(text, list(PRESETS), n=1)
    hint = f" (did you mean {suggestions[0]!r}?)" if suggestions else " (see `rft presets`)"
    raise ValueError(
        f"--model {text!r} is not a preset, a run folder, a model folder nor a Hub id like org/name{hint}"
    )


def check_model_folder(folder: Path) -> None:
    """A folder given as ``--model`` is a run folder or a model's own folder; a folder of runs, a
    training checkpoint or any other folder is a ``ValueError`` saying what to give instead."""
    config = folder / "config.json"
    if (folder / "adapter_config.json").is_file():
        raise ValueError(
            f"--model {folder} is an adapter (a checkpoint or an export's lora/), not a model: give its "
            f"base as --model (a preset or model) and --adapter {folder}"
        )
    if not config.is_file():
        runs = [p.parent.name for p in sorted(folder.glob("*/config.json"))[:3]]
        hint = f"; give one of its runs, say {folder / runs[0]}" if runs else ""
        raise ValueError(f"--model {folder} is not a model or run folder (no config.json in it){hint}")
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise ValueError(f"--model {folder}: {config} is not valid JSON") from None
    if not isinstance(data, dict) or not (
        "preset" in data or "model_type" in data or "architectures" in data
    ):
        raise ValueError(f"--model {folder}: its config.json is neither a run's nor a model's")


def check_adapter(adapter: str | Path) -> None:
    """``adapter`` is a run folder with a whole trained adapter (or an adapter folder itself)."""
    folder = adapter_dir_of(adapter)
    config = folder / "adapter_config.json"
    if not config.is_file():
        raise FileNotFoundError(
            f"--adapter {adapter}: no trained adapter there (no {config.relative_to(adapter)})"
        )
    try:
        json.loads(config.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise ValueError(f"--adapter {adapter}: {config} is not valid JSON") from None
    from rft.training.run_folder import safetensors_complete

    weights = folder / "adapter_model.safetensors"
    if not safetensors_complete(weights):
        raise ValueError(f"--adapter {adapter}: {weights} is missing or cut short")


def check_hub_model(name: str) -> None:
    """A Hub id (``org/name``) that is no local folder can be reached: its ``config.json`` is in the
    local cache or downloads now (a few kB). Offline or misspelled, that is one line here instead of
    an ``OSError`` traceback from transformers once loading starts."""
    if not HUB_ID.fullmatch(name) or Path(name).exists():
        return
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import GatedRepoError, LocalEntryNotFoundError, RepositoryNotFoundError

    try:
        hf_hub_download(name, "config.json")
    except GatedRepoError:
        reason = "a gated model: accept its terms on the Hub and set HF_TOKEN"
    except RepositoryNotFoundError:
        reason = "no such model on the Hub, or a private one: check the id, or set HF_TOKEN"
    except LocalEntryNotFoundError:
        reason = "not in the local Hugging Face cache, and the Hub cannot be reached (offline)"
    except Exception as error:  # no network, a proxy, a full disk: the first line of what it says
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
    else:
        return
    raise ValueError(f"model {name}: {reason}; or give a preset or a local model folder")


# A LoRA weight's name holds its layer's index, and lora_A's input width is the base model's hidden
# size for these projections, which read the hidden state.
_LAYER_INDEX = re.compile(r"\.layers\.(\d+)\.")
_READS_HIDDEN_STATE = re.compile(r"\.(q_proj|k_proj|v_proj|gate_proj|up_proj)\.lora_A(\.default)?\.weight$")


def adapter_shape(adapter: str | Path) -> tuple[int | None, int | None]:
    """The base model's (layers, hidden size) that an adapter's weights fit, read from their
    safetensors header without loading them; None where the names do not tell."""
    weights = adapter_dir_of(adapter) / "adapter_model.safetensors"
    try:
        with weights.open("rb") as handle:
            header = json.loads(handle.read(int.from_bytes(handle.read(8), "little")))
    except (OSError, ValueError):
        return None, None
    layers = [int(match.group(1)) for key in header if (match := _LAYER_INDEX.search(key))]
    widths = {
        entry["shape"][-1]
        for key, entry in header.items()
        if _READS_HIDDEN_STATE.search(key) and isinstance(entry, dict) and entry.get("shape")
    }
    return (max(layers) + 1 if layers else None), (widths.pop() if len(widths) == 1 else None)


def base_shape(spec: Preset | str) -> tuple[int | None, int | None]:
    """A base model's (layers, hidden size), from its config.json where it is at hand locally (a
    preset's shipped model, a model folder, a Hub id already cached); None where it is not."""
    if isinstance(spec, Preset) and spec.loader == "tiny":
        return TINY_LAYERS, TINY_HIDDEN_SIZE
    name = spec.model if isinstance(spec, Preset) else str(spec)
    config_path = Path(model_path(name)) / "config.json"
    if not config_path.is_file() and HUB_ID.fullmatch(name):
        try:
            from huggingface_hub import try_to_load_from_cache

            cached = try_to_load_from_cache(name, "config.json")
            config_path = Path(cached) if isinstance(cached, str) else config_path
        except Exception:  # no cache to look in: the shape is not known, and nothing is refused
            pass
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None, None
    config = config.get("text_config", config) if isinstance(config, dict) else {}
    return config.get("num_hidden_layers"), config.get("hidden_size")


def check_adapter_fits(model: str | Path, adapter: str | Path) -> None:
    """``adapter`` was trained on a base of ``model``'s shape: an adapter of another base (a tiny
    test run given to SmolLM2) is one line naming both, not a tensor size mismatch after loading."""
    preset = preset_of(model)
    trained_on = preset_of(adapter)
    wanted = adapter_shape(adapter)
    given = base_shape(preset if preset is not None else str(model))
    if all(a is None or b is None or a == b for a, b in zip(wanted, given, strict=True)):
        return
    if trained_on is not None:  # a run folder: the base it names, and the way to play it there
        base, hint = trained_on.model, f"--model {adapter} plays it on its own base"
    else:  # an adapter folder: the base PEFT wrote into its config, where it did
        try:
            config = json.loads((adapter_dir_of(adapter) / "adapter_config.json").read_text(encoding="utf-8"))
            base = str(config.get("base_model_name_or_path") or "") if isinstance(config, dict) else ""
        except (OSError, ValueError):
            base = ""
        hint = f"give --model {base}" if base else "give the model it was trained on as --model"

    def shape(layers: int | None, hidden: int | None) -> str:
        return (
            f"{layers if layers is not None else '?'} layers of width {hidden if hidden is not None else '?'}"
        )

    raise ValueError(
        f"--adapter {adapter} was trained on another base model{f' ({base})' if base else ''}: its weights "
        f"fit {shape(*wanted)}, --model {model} has {shape(*given)}; {hint}"
    )
