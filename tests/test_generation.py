"""A turn ends with its answer: in our own generation, in TRL's, and never where a length is forced."""

import math
from dataclasses import replace

import pytest
import torch

from rft.generation import EndAfterAnswer, end_turns_after_answer, eos_token_ids, generate_completions
from rft.training.config import TASKS, apply_overrides
from rft.training.policy import embedded_model_dir, load_tiny
from rft.training.presets import get_preset
from rft.training.run import read_metrics, train


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(embedded_model_dir())


def ids(tokenizer, text):
    return tokenizer(text, add_special_tokens=False).input_ids


def test_only_rows_whose_generated_text_closed_the_tag_are_forced_to_end(tokenizer):
    prompt = ids(tokenizer, "Earlier: <guess>CRANE</guess>. Your turn:")  # a tag in the prompt never counts
    rows = [
        ids(tokenizer, "<think>ok</think><guess>SLATE</guess>"),
        ids(tokenizer, "<think>ok</think><guess>SLATE</gu"),
        ids(tokenizer, "<guess>SLATE</guess>\n\nAnd"),  # closed a few tokens ago: still within the tail
    ]
    width = max(map(len, rows))
    batch = torch.tensor([prompt + [0] * (width - len(row)) + row for row in rows])
    processor = EndAfterAnswer(tokenizer, "</guess>", eos_token_id=7)
    processor(batch[:, : len(prompt)], torch.zeros(3, len(tokenizer)))  # the first step: prompt only
    scores = processor(batch, torch.zeros(3, len(tokenizer)))
    assert scores[0].argmax() == 7 and torch.isinf(scores[0]).sum() == len(tokenizer) - 1
    assert not torch.isinf(scores[1]).any()
    assert scores[2].argmax() == 7


def test_a_tag_that_opens_no_answer_is_an_error(tokenizer):
    with pytest.raises(ValueError, match="closing_tag"):
        EndAfterAnswer(tokenizer, "", eos_token_id=1)


def test_eos_token_ids_join_the_tokenizer_and_the_generation_config(tokenizer):
    model, _ = load_tiny()
    model.generation_config.eos_token_id = [5, tokenizer.eos_token_id]
    assert eos_token_ids(model, tokenizer) == [5, tokenizer.eos_token_id]
    model.generation_config.eos_token_id = 5
    assert eos_token_ids(model, tokenizer) == [tokenizer.eos_token_id, 5]


@pytest.fixture(scope="module")
def smollm2():
    from rft.models import load_base

    return load_base(get_preset("cpu-smollm2-wordle"))


def primed_prompts(tokenizer):
    """Prompts the model answers with a closed guess followed by more text (greedy)."""
    header = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Write <guess>WORD</guess> then a poem."}],
        tokenize=False,
        add_generation_prompt=True,
    )
    return [header + "<guess>SL", header + "Hello </guess> there <guess>"]


def test_generation_ends_where_the_guess_closes_and_runs_on_without_the_end(smollm2):
    prompts = primed_prompts(smollm2.tokenizer)
    run_on = generate_completions(smollm2.model, smollm2.tokenizer, prompts, 40)
    ended = generate_completions(smollm2.model, smollm2.tokenizer, prompts, 40, end_after="</guess>")
    for long, short in zip(run_on, ended, strict=True):
        assert short.endswith("</guess>") and short.count("</guess>") == 1
        assert long.startswith(short) and len(long) > len(short) + 20


def test_trl_style_generate_calls_end_too_through_a_peft_model_but_not_at_a_forced_length(smollm2):
    from peft import LoraConfig, get_peft_model
    from transformers import GenerationConfig

    model, tokenizer = smollm2.model, smollm2.tokenizer
    peft_model = get_peft_model(model, LoraConfig(r=2, target_modules=["q_proj"]))
    end_turns_after_answer(peft_model, tokenizer, "</guess>")
    end_turns_after_answer(model, tokenizer, "</guess>")  # the same innermost model: wrapped once
    assert model.generate.ends_after == "</guess>" and model.generate.__wrapped__.__self__ is model
    encoded = tokenizer(primed_prompts(tokenizer)[:1], return_tensors="pt", add_special_tokens=False)
    length = encoded.input_ids.shape[1]
    config = GenerationConfig(
        max_new_tokens=40, do_sample=False, eos_token_id=eos_token_ids(model, tokenizer)
    )
    config.pad_token_id = tokenizer.pad_token_id
    generated = peft_model.generate(**encoded, generation_config=config)[0, length:].tolist()
    assert generated[-1] == tokenizer.eos_token_id and len(generated) < 10
    assert tokenizer.decode(generated, skip_special_tokens=True).endswith("</guess>")
    config.min_new_tokens = config.max_new_tokens = 30
    forced = peft_model.generate(**encoded, generation_config=config)[0, length:]
    assert len(forced) == 30 and tokenizer.eos_token_id not in forced.tolist()


def test_grpo_completions_end_at_the_tag_and_trl_counts_them_as_ended(tmp_path, monkeypatch):
    """The random tiny model writes an "e" within a few tokens: as a closing tag it shows TRL
    stopping every completion there, with the end inside the mask (not clipped by the cap)."""
    monkeypatch.setitem(TASKS, "wordle", replace(TASKS["wordle"], closing_tag="e"))
    settings = {"max_steps": "2", "max_completion_length": "48", "num_rows": "8", "logging_steps": "1"}
    preset = apply_overrides(get_preset("tiny-test"), settings)
    ended = read_metrics(train(preset, runs_dir=tmp_path / "end", progress=False).metrics_path)
    off = apply_overrides(preset, {"end_at_answer": "false"})
    run_on = read_metrics(train(off, runs_dir=tmp_path / "off", progress=False).metrics_path)
    for row in ended:
        assert row["completions/clipped_ratio"] == 0 and row["completions/mean_length"] < 12
        assert math.isfinite(row["loss"])
    assert all(row["completions/mean_length"] > 40 for row in run_on)
