"""What the GPU path does before any GPU work starts, checked on a CPU: where each flag lands
(``--dry-run``), Unsloth's engine against TRL's vLLM, and Unsloth imported before TRL."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from rich.console import Console

from rft import cli
from rft.generation import EVAL_MAX_NEW_TOKENS
from rft.training.config import apply_overrides
from rft.training.presets import PRESETS, get_preset


def dry_run(capsys, *arguments: str) -> dict:
    assert cli.main(["train", *arguments, "--dry-run"]) == 0
    return json.loads(capsys.readouterr().out)


def test_dry_run_shows_where_each_flag_lands_and_loads_nothing(capsys, tmp_path):
    runs = tmp_path / "runs"
    described = dry_run(
        capsys,
        *("--preset", "t4-qwen2.5-3b-wordle", "--runs-dir", str(runs)),
        *("--use_vllm", "true", "--vllm_mode", "server", "--fast_inference", "false"),
        *("--hub_token", "hf_SECRET", "--learning_rate", "1e-5"),
    )
    assert described["trainer_config_class"] == "GRPOConfig"
    config = described["trainer_config"]
    assert config["use_vllm"] is True and config["vllm_mode"] == "server"  # TRL's own vLLM server
    assert config["learning_rate"] == 1e-5 and config["fp16"] is True
    assert described["preset"]["fast_inference"] is False and described["preset"]["loader"] == "unsloth"
    assert "hf_SECRET" not in json.dumps(described)
    assert not runs.exists()  # nothing written, nothing loaded


def test_dry_run_of_a_warm_up_shows_the_sft_config(capsys):
    described = dry_run(capsys, "--preset", "tiny-test-sft")
    assert described["trainer_config_class"] == "SFTConfig"
    assert described["trainer_config"]["max_steps"] == get_preset("tiny-test-sft").trainer_args["max_steps"]


def test_fast_inference_is_unsloths():
    with pytest.raises(ValueError, match=r"fast_inference .* needs loader 'unsloth'"):
        apply_overrides(get_preset("cpu-smollm2-wordle"), {"fast_inference": "true"})
    assert apply_overrides(get_preset("t4-qwen2.5-3b-wordle"), {"fast_inference": "true"}).fast_inference


def test_unsloth_is_imported_before_trl_transformers_and_peft(tmp_path):
    """With a GPU and Unsloth installed (both stood in for here), `rft train` imports Unsloth first:
    it patches the other three on import and warns when it comes second."""
    (tmp_path / "unsloth.py").write_text(
        textwrap.dedent(
            """
            import sys
            early = [name for name in ("trl", "transformers", "peft") if name in sys.modules]
            open(__file__ + ".imported", "w").write(",".join(early) or "first")
            """
        )
    )
    script = (
        "import rft.runtime as runtime\n"
        "runtime.cuda_available = lambda: True\n"
        "from rft.cli import main\n"
        "raise SystemExit(main(['train', '--preset', 'tiny-test', '--dry-run']))\n"
    )
    env = {"PYTHONPATH": str(tmp_path), "HF_HUB_OFFLINE": "1", "PATH": ""}
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "unsloth.py.imported").read_text() == "first"


def test_evaluation_gives_a_turn_as_many_tokens_as_training_did():
    assert get_preset("t4-qwen2.5-3b-wordle").eval_max_new_tokens == 256  # not the old 160
    assert get_preset("t4-qwen2.5-3b-gsm8k").eval_max_new_tokens == 320
    assert get_preset("cpu-smollm2-wordle").eval_max_new_tokens == 160
    assert get_preset("cpu-smollm2-wordle-sft").eval_max_new_tokens == EVAL_MAX_NEW_TOKENS
    for name, preset in PRESETS.items():
        length = preset.trainer_args.get("max_completion_length")
        assert length is None or preset.eval_max_new_tokens >= length, name


@pytest.mark.slow
def test_evaluation_and_watching_share_one_loaded_model(tmp_path, monkeypatch):
    from rft import evaluation, models, terminal

    loaded = models.load_models("tiny-test")
    result = evaluation.evaluate_model("tiny-test", games=1, out_dir=tmp_path, baselines=False, loaded=loaded)
    assert result["max_new_tokens"] == get_preset("tiny-test").eval_max_new_tokens
    monkeypatch.setattr(models, "load_base", lambda *a, **k: pytest.fail("a second copy was loaded"))
    console = Console(record=True, width=100)
    assert terminal.watch_model("tiny-test", seed=1, console=console, loaded=loaded[-1]) == 0
    assert "The model" in console.export_text()
