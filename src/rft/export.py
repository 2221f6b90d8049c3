"""Sharing a trained run: the LoRA adapter, a merged 16-bit model, GGUF, and the Hugging Face Hub.

``export_run`` writes into ``<run>/export/`` by default: ``lora/`` (adapter + tokenizer + model
card), ``merged-16bit/`` (the adapter folded into the base weights, loadable with plain
transformers), and, where Unsloth is installed, ``model_gguf/`` for llama.cpp / Ollama. Pushing needs a
token from the environment (``HF_TOKEN``) or Colab's secrets; it is never printed or written.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from rft.checks import check_output
from rft.files import replace_text
from rft.runtime import MissingDependencyError, require
from rft.training.policy import EMBEDDED_MODEL_ID, adapter_dir_of, model_path
from rft.training.run_folder import read_run_config, redact_secrets, safetensors_complete
from rft.weights import SHIPPED_MODELS

TOKEN_VARIABLES = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")


def hub_token() -> str | None:
    """A Hub token from the environment or from Colab's or Kaggle's secrets; None if there is none."""
    for name in TOKEN_VARIABLES:
        if os.environ.get(name):
            return os.environ[name]
    try:
        from google.colab import userdata  # type: ignore[import-not-found]
    except ImportError:  # not on Colab
        return _kaggle_secret("HF_TOKEN")
    try:
        return userdata.get("HF_TOKEN")
    except (userdata.SecretNotFoundError, userdata.NotebookAccessError):  # no secret, or not granted
        return None


def _kaggle_secret(name: str) -> str | None:
    """A secret from Kaggle's store (Add-ons → Secrets), when running on Kaggle."""
    if "KAGGLE_KERNEL_RUN_TYPE" not in os.environ:
        return None
    try:
        from kaggle_secrets import UserSecretsClient  # type: ignore[import-not-found]

        return UserSecretsClient().get_secret(name) or None
    except Exception:  # no such secret, or not attached to this notebook
        return None


def check_push_target(push_to: str) -> None:
    """``push_to`` is a Hub repo id (``USER/REPO``). A URL is refused, and one carrying a token or a
    password (``https://me:hf_...@huggingface.co/me/x``) above all: it would be printed, written
    into the model card and kept in the shell's history. The token comes from ``HF_TOKEN``. The
    message shows the target with any credential redacted."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    shown = redact_secrets(push_to)
    if "://" in push_to or "@" in push_to:
        raise ValueError(
            f"--push-to {shown}: give a Hub repo id like USER/REPO, not a URL; the token comes from "
            "HF_TOKEN in the environment (or Colab's secrets), never from the target"
        )
    try:
        validate_repo_id(push_to)
        if push_to.count("/") != 1:
            raise HFValidationError("no owner")
    except HFValidationError:
        raise ValueError(
            f"--push-to {shown}: not a Hub repo id; give USER/REPO (letters, digits, '-', '_', '.')"
        ) from None


def base_model_name(model: str) -> str:
    """The base model as a model card names it: where the weights came from, for a shipped one."""
    if model == EMBEDDED_MODEL_ID:
        return "SmolLM2-135M-Instruct (HuggingFaceTB)"
    if model in SHIPPED_MODELS:
        return SHIPPED_MODELS[model].description
    return model


def model_card(run_dir: Path, repo_id: str | None = None, merged: bool = False) -> str:
    """A README for the Hub: what was trained, how, how well, and how to load it (``merged``: the
    card of the merged model, which loads without PEFT)."""
    preset = read_run_config(run_dir)
    base = base_model_name(preset.model)
    rewards = ", ".join(f"{name} × {weight:g}" for name, weight in preset.rewards.items())
    settings = {k: preset.trainer_args[k] for k in sorted(preset.trainer_args) if k != "report_to"}
    settings = redact_secrets(settings)
    what = f"**{base}** with a LoRA adapter merged in" if merged else f"A LoRA adapter for **{base}**"
    skill = preset.task_definition.skill
    lines = [
        "---",
        f"library_name: {'transformers' if merged else 'peft'}",
        f"tags: [{preset.task}, grpo, trl, rft]",
        "---",
        f"# {repo_id or run_dir.name}",
        "",
        f"{what}, trained to {skill} with the `rft` recipe "
        f"(preset `{preset.name}`, trainer `{preset.trainer}`).",
        "",
        "## Training",
        f"- Trainer: TRL {'GRPOTrainer' if preset.trainer == 'grpo' else 'SFTTrainer'}",
        f"- Rewards and weights: {rewards}" if preset.trainer == "grpo" else "- Data: solver-written traces",
        f"- LoRA: r={preset.lora_r}, alpha={preset.lora_alpha}, on {', '.join(preset.lora_target_modules)}",
        f"- Continued from: {Path(preset.init_from).name}"
        if preset.init_from
        else "- Started from the base model",
        f"- Settings: `{json.dumps(settings, sort_keys=True)}`",
        "",
    ]
    evaluation = run_dir / "eval" / "eval.md"
    if evaluation.is_file():
        lines += ["## Evaluation", "", evaluation.read_text(encoding="utf-8"), ""]
    lines += [
        "## Use",
        "```python",
        "from transformers import AutoModelForCausalLM, AutoTokenizer"
        if merged
        else "from peft import AutoPeftModelForCausalLM\nfrom transformers import AutoTokenizer",
        f"model = {'AutoModelForCausalLM' if merged else 'AutoPeftModelForCausalLM'}"
        f'.from_pretrained("{repo_id or "PATH_TO_THIS_FOLDER"}")',
        f'tokenizer = AutoTokenizer.from_pretrained("{repo_id or "PATH_TO_THIS_FOLDER"}")',
        "```",
        preset.task_definition.how_to_prompt(preset),
    ]
    return "\n".join(lines) + "\n"


def _base_model(run_dir: Path) -> Any:
    """The run's base model in 16-bit, ready to have the adapter folded in."""
    import torch
    from transformers import AutoModelForCausalLM

    preset = read_run_config(run_dir)
    if preset.loader == "tiny":
        from rft.training.policy import load_tiny

        return load_tiny(seed=preset.seed)[0].to(torch.float16)
    path = model_path(preset.model)
    # Gemma's weights are kept in bf16: its fp16 activations overflow where the merged model runs.
    dtype = torch.bfloat16 if "gemma" in path.lower() else torch.float16
    return AutoModelForCausalLM.from_pretrained(path, dtype=dtype)


def export_run(
    run_dir: str | Path,
    out_dir: str | Path | None = None,
    merged: bool = True,
    gguf_quantization: str | None = None,
    push_to: str | None = None,
    private: bool = True,
) -> dict[str, Any]:
    """Write the exports of a finished run; push the adapter (and merged model) when ``push_to``."""
    run_dir = Path(run_dir)
    if push_to is not None:
        check_push_target(push_to)  # before anything is written: a bad target is never echoed
    adapter = adapter_dir_of(run_dir)
    if not (adapter / "adapter_config.json").is_file():
        raise FileNotFoundError(f"{run_dir} has no trained adapter (adapter/adapter_config.json)")
    try:
        if not isinstance(json.loads((adapter / "adapter_config.json").read_text(encoding="utf-8")), dict):
            raise ValueError
    except (ValueError, UnicodeDecodeError):
        raise ValueError(
            f"{run_dir}: its adapter/adapter_config.json is damaged; nothing was exported"
        ) from None
    if not safetensors_complete(adapter / "adapter_model.safetensors"):
        raise ValueError(f"{run_dir}: its adapter's weights are missing or cut short; nothing was exported")
    read_run_config(run_dir)  # a run folder whose config.json does not read is one line, here
    out = Path(out_dir) if out_dir is not None else run_dir / "export"
    check_output(out)  # before the merge's minutes, not after
    written: dict[str, Any] = {}

    lora = out / "lora"
    # training_args.bin is the trainer's pickled config: of no use to whoever loads the adapter.
    shutil.copytree(adapter, lora, dirs_exist_ok=True, ignore=shutil.ignore_patterns("training_args.bin"))
    replace_text(lora / "README.md", model_card(run_dir, push_to))
    written["lora"] = lora

    if merged or gguf_quantization:
        from peft import PeftModel
        from transformers import AutoTokenizer

        model = PeftModel.from_pretrained(_base_model(run_dir), adapter).merge_and_unload()
        tokenizer = AutoTokenizer.from_pretrained(adapter)
        merged_dir = out / "merged-16bit"
        model.save_pretrained(merged_dir)
        tokenizer.save_pretrained(merged_dir)
        merged_repo = f"{push_to}-merged" if push_to else None
        replace_text(merged_dir / "README.md", model_card(run_dir, merged_repo, merged=True))
        written["merged"] = merged_dir
        if gguf_quantization:
            written["gguf"] = _export_gguf(merged_dir, out / "model", gguf_quantization)

    if push_to:
        try:
            written["pushed"] = push(written, push_to, private=private)
        except Exception as error:  # no network, no token, no permission: the local export stays
            raise PushFailed(written, push_to, error) from error
    return written


class PushFailed(RuntimeError):
    """The local export is written (``written``); sending it to the Hub failed."""

    def __init__(self, written: dict[str, Any], repo_id: str, error: BaseException) -> None:
        self.written = written
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        super().__init__(f"pushing to {repo_id} failed ({reason}); the local export above is kept")


def _export_gguf(merged_dir: Path, stem: Path, quantization: str) -> Path:
    """GGUF through Unsloth, which drives llama.cpp's converter for us. Unsloth writes the files
    beside the folder it is given, into ``<stem>_gguf/``, and says where: that folder is returned."""
    try:
        require("unsloth", 'pip install "rft[gpu]"')
    except MissingDependencyError as error:
        raise MissingDependencyError(
            f"GGUF export uses Unsloth ({error}); without it, convert {merged_dir} with llama.cpp's "
            "convert_hf_to_gguf.py"
        ) from None
    from unsloth import FastLanguageModel

    model, tokenizer = FastLanguageModel.from_pretrained(str(merged_dir), load_in_4bit=False)
    saved = model.save_pretrained_gguf(str(stem), tokenizer, quantization_method=quantization)
    reported = saved.get("gguf_directory") if isinstance(saved, dict) else None
    return Path(reported or f"{stem}_gguf")


def push(written: dict[str, Any], repo_id: str, private: bool = True) -> list[str]:
    """Upload the adapter to ``repo_id`` and the merged model to ``repo_id``-merged."""
    token = hub_token()
    if not token:
        raise RuntimeError(
            "pushing to the Hub needs a token: set HF_TOKEN in the environment (or add it to Colab's "
            "secrets); it is never stored by rft"
        )
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    pushed = []
    for key, suffix in (("lora", ""), ("merged", "-merged")):
        if key in written:
            target = f"{repo_id}{suffix}"
            api.create_repo(target, private=private, exist_ok=True)
            api.upload_folder(folder_path=str(written[key]), repo_id=target)
            pushed.append(target)
    return pushed
