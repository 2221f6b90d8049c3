"""The shared-prompt log-prob forward equals TRL's, values and LoRA gradients, on the tiny model."""

import inspect

import pytest
import torch

from rft.training.policy import load_policy
from rft.training.presets import get_preset


@pytest.fixture(scope="module")
def tiny_trainer(tmp_path_factory):
    from rft.training.run import build_trainer

    preset = get_preset("tiny-test")
    trainer = build_trainer(preset, load_policy(preset), tmp_path_factory.mktemp("run"), False, [])
    trainer.model.eval()  # no dropout: both paths see the same function
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():  # LoRA starts with B = 0, where no gradient reaches A: move it off zero
        for name, parameter in trainer.model.named_parameters():
            if "lora_B" in name:
                parameter.copy_(0.1 * torch.randn(parameter.shape, generator=generator))
    return trainer


def grpo_batch(prompt_lengths, group_size, completion_length, vocab, seed=0):
    """Rows as TRL's loss sees them: each prompt ``group_size`` times, left-padded to the longest,
    completions right-padded where they ended early, the rows shuffled (TRL shuffles the batch)."""
    generator = torch.Generator().manual_seed(seed)
    width = max(prompt_lengths)
    ids, mask = [], []
    for length in prompt_lengths:
        prompt = torch.randint(3, vocab, (length,), generator=generator).tolist()
        for _ in range(group_size):
            ended = int(torch.randint(1, completion_length + 1, (1,), generator=generator))
            completion = torch.randint(3, vocab, (completion_length,), generator=generator).tolist()
            ids.append([0] * (width - length) + prompt + completion)
            mask.append(
                [0] * (width - length) + [1] * length + [1] * ended + [0] * (completion_length - ended)
            )
    order = torch.randperm(len(ids), generator=generator)
    return torch.tensor(ids)[order], torch.tensor(mask)[order]


def log_probs_and_lora_gradients(trainer, method, input_ids, attention_mask, completion_length):
    model = trainer.model
    model.zero_grad()
    logps, entropy, _ = method(
        trainer, model, input_ids, attention_mask, completion_length, compute_entropy=True
    )
    weights = torch.linspace(-1.0, 1.0, logps.numel()).view_as(logps)
    ((logps * weights).sum() + 0.1 * entropy.sum()).backward()
    gradients = {name: p.grad.clone() for name, p in model.named_parameters() if "lora_" in name}
    return logps.detach(), entropy.detach(), gradients


def trls_method(trainer, *args, **kwargs):
    from trl import GRPOTrainer

    return GRPOTrainer._get_per_token_logps_and_entropies(trainer, *args, **kwargs)


def shared_method(trainer, *args, **kwargs):
    return type(trainer)._get_per_token_logps_and_entropies(trainer, *args, **kwargs)


def assert_same_as_trls(trainer, input_ids, attention_mask, completion_length, rtol=0.0):
    theirs = log_probs_and_lora_gradients(trainer, trls_method, input_ids, attention_mask, completion_length)
    ours = log_probs_and_lora_gradients(trainer, shared_method, input_ids, attention_mask, completion_length)
    assert ours[0].shape == theirs[0].shape == (input_ids.size(0), completion_length)
    torch.testing.assert_close(ours[0], theirs[0], atol=1e-5, rtol=rtol)
    torch.testing.assert_close(ours[1], theirs[1], atol=1e-5, rtol=rtol)
    assert theirs[2] and ours[2].keys() == theirs[2].keys()
    for name, gradient in theirs[2].items():
        assert gradient.abs().sum() > 0, f"{name}: the loss must reach every LoRA weight"
        relative = (ours[2][name] - gradient).norm() / gradient.norm()
        assert relative < 1e-4, f"{name}: relative gradient difference {relative:.2e}"


def test_the_trainer_is_ours_for_transformers_loaders_and_unsloths_own_for_unsloth(tiny_trainer):
    from trl import GRPOTrainer

    from rft.training.shared_prompt import SharedPromptGRPOTrainer, grpo_trainer_class

    assert type(tiny_trainer) is SharedPromptGRPOTrainer
    assert grpo_trainer_class("transformers") is SharedPromptGRPOTrainer
    assert grpo_trainer_class("unsloth") is GRPOTrainer


@pytest.mark.parametrize(
    ("prompt_lengths", "group_size"),
    [([9], 4), ([7, 12, 9], 3), ([5, 16], 2)],
    ids=["one-group", "three-lengths-left-padded", "two-groups-far-apart"],
)
def test_shared_prompt_log_probs_and_gradients_equal_trls(tiny_trainer, prompt_lengths, group_size, capsys):
    vocab = tiny_trainer.model.config.vocab_size
    input_ids, attention_mask = grpo_batch(prompt_lengths, group_size, 6, vocab)
    assert_same_as_trls(tiny_trainer, input_ids, attention_mask, 6)
    assert "TRL's own path" not in capsys.readouterr().out


def test_the_shared_forward_runs_each_distinct_prompt_once(tiny_trainer, monkeypatch):
    """Counted at the model's embedding: the prefix once per distinct prompt, then one token of the
    prompt and the completion per row."""
    vocab = tiny_trainer.model.config.vocab_size
    input_ids, attention_mask = grpo_batch([7, 12], 4, 6, vocab)  # 8 rows, 2 prompts, width 12
    embedded = []
    embedding = tiny_trainer.model.get_input_embeddings()
    handle = embedding.register_forward_hook(
        lambda module, args, output: embedded.append(tuple(args[0].shape))
    )
    try:
        with torch.no_grad():
            shared_method(tiny_trainer, tiny_trainer.model, input_ids, attention_mask, 6)
            trls_method(tiny_trainer, tiny_trainer.model, input_ids, attention_mask, 6)
    finally:
        handle.remove()
    assert embedded == [(2, 11), (8, 7), (8, 18)]


def test_a_batch_without_repeated_prompts_keeps_trls_path_and_says_so_once(tiny_trainer, capsys):
    vocab = tiny_trainer.model.config.vocab_size
    input_ids, attention_mask = grpo_batch([7, 9, 8], 1, 5, vocab)
    assert_same_as_trls(tiny_trainer, input_ids, attention_mask, 5)
    assert_same_as_trls(tiny_trainer, input_ids, attention_mask, 5)
    notes = capsys.readouterr().out.splitlines()
    assert notes == [
        "note: the log-prob forward runs TRL's own path (each prompt once per row): "
        "no prompt repeats in the batch"
    ]


def test_gradient_checkpointing_keeps_trls_path(tiny_trainer, capsys):
    """A checkpointed layer drops a cache (and its replay would write one twice): TRL's path runs."""
    vocab = tiny_trainer.model.config.vocab_size
    input_ids, attention_mask = grpo_batch([7, 12], 3, 5, vocab)
    model = tiny_trainer.model
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.train()
    try:
        assert_same_as_trls(tiny_trainer, input_ids, attention_mask, 5)
    finally:
        model.gradient_checkpointing_disable()
        model.eval()
    assert "gradient checkpointing is on" in capsys.readouterr().out


def test_trls_method_keeps_the_contract_the_shared_forward_relies_on(tiny_trainer):
    """Fails when a TRL update changes the overridden method: its parameters, what it returns,
    or how it scores (the fused head called with labels, the completion's last tokens kept)."""
    from trl import GRPOTrainer

    method = GRPOTrainer._get_per_token_logps_and_entropies
    parameters = list(inspect.signature(method).parameters)
    assert parameters[:8] == [
        "self",
        "model",
        "input_ids",
        "attention_mask",
        "logits_to_keep",
        "batch_size",
        "compute_entropy",
        "compute_aux_loss",
    ]
    from rft.training.shared_prompt import MULTIMODAL_INPUTS

    assert set(parameters[8:]) == set(MULTIMODAL_INPUTS)
    source = inspect.getsource(method)
    assert "model(**model_inputs, labels=labels, fused_lm_head=True)" in source
    assert "labels[:, :-logits_to_keep] = -100" in source
    assert "outputs.log_probs[:, -logits_to_keep:]" in source
    vocab = tiny_trainer.model.config.vocab_size
    input_ids, attention_mask = grpo_batch([6], 2, 4, vocab)
    with torch.no_grad():
        logps, entropy, aux = trls_method(tiny_trainer, tiny_trainer.model, input_ids, attention_mask, 4)
    assert logps.shape == (2, 4) and entropy is None and aux is None


@pytest.mark.slow
@pytest.mark.parametrize("preset_name", ["cpu-smollm2-wordle", "cpu-qwen2.5-coder-0.5b-wordle"])
def test_shared_prompt_equals_trls_on_a_real_model_in_fp32(preset_name, tmp_path):
    from rft.runtime import default_cache_dir
    from rft.training.config import apply_overrides
    from rft.training.run import build_trainer
    from rft.weights import QWEN_CODER_05B

    preset = apply_overrides(get_preset(preset_name), {"cpu_dtype": "float32", "num_rows": "4"})
    if (
        preset.model.endswith(QWEN_CODER_05B.name)
        and not (default_cache_dir() / "models" / QWEN_CODER_05B.name / "config.json").is_file()
    ):
        pytest.skip("the Qwen 0.5B is not in the cache (rft fetches and converts it on first use)")
    trainer = build_trainer(preset, load_policy(preset), tmp_path, False, [])
    trainer.model.eval()
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, parameter in trainer.model.named_parameters():
            if "lora_B" in name:
                parameter.copy_(0.01 * torch.randn(parameter.shape, generator=generator))
    input_ids, attention_mask = grpo_batch([40, 57], 2, 8, trainer.processing_class.vocab_size)
    # Random tokens are unlikely ones (log-probs near -12, where fp32's spacing is 1e-6): the paths'
    # different matmul shapes round differently by a few of those steps, 1.5e-5 at most seen here.
    assert_same_as_trls(trainer, input_ids, attention_mask, 8, rtol=2e-6)


# ---------------------------------------------------------------------------------------------
# Generation: each distinct prompt prefilled once
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_model():
    from rft.training.policy import load_tiny

    model, tokenizer = load_tiny(seed=3)
    return model.eval(), tokenizer


def repeated_prompts(tokenizer, group_size):
    """Three prompts of different lengths, each ``group_size`` times (the rows TRL generates from)."""
    texts = ["Guess a five-letter word.", "Feedback: C R A N E is grey, grey, yellow.", "Go on."]
    prompts = [tokenizer(text, add_special_tokens=False)["input_ids"] for text in texts]
    assert len({len(p) for p in prompts}) == 3, "the prompts must differ in length: left padding"
    return [prompt for prompt in prompts for _ in range(group_size)]


def test_generation_with_prompts_prefilled_once_samples_the_same_tokens(tiny_model, monkeypatch):
    import rft.generation
    from rft.generation import generate_from_ids

    model, tokenizer = tiny_model
    rows = repeated_prompts(tokenizer, 4)
    limits = [12] * len(rows)
    shared = generate_from_ids(model, tokenizer, rows, limits, temperature=1.0, seed=5, end_after="</guess>")
    monkeypatch.setattr(
        rft.generation,
        "generate_sharing_prompts",
        lambda generate, model, input_ids, attention_mask, **settings: generate(
            input_ids=input_ids, attention_mask=attention_mask, **settings
        ),
    )
    plain = generate_from_ids(model, tokenizer, rows, limits, temperature=1.0, seed=5, end_after="</guess>")
    assert shared == plain
    assert len({tuple(ids) for ids in shared[:4]}) > 1, "sampling: a group's completions differ"


def test_the_prefill_runs_each_distinct_prompt_once(tiny_model):
    import torch

    from rft.generation import generate_from_ids

    model, tokenizer = tiny_model
    rows = repeated_prompts(tokenizer, 4)
    width = max(len(r) for r in rows)
    shapes = []
    handle = model.get_input_embeddings().register_forward_hook(
        lambda module, args, output: shapes.append(tuple(args[0].shape))
    )
    try:
        generate_from_ids(model, tokenizer, rows, [3] * len(rows), temperature=1.0, seed=5)
    finally:
        handle.remove()
    # the prefix once per prompt, then each row's last prompt token, then one token a row a step
    assert shapes == [(3, width - 1), (12, 1), (12, 1), (12, 1)]
    assert torch.is_tensor(model.get_input_embeddings().weight)


def test_trls_generate_call_shares_the_prompt_once_the_model_is_wrapped(tiny_model):
    import torch
    from transformers import GenerationConfig

    from rft.prompt_cache import share_prompts_in_generate

    model, tokenizer = tiny_model
    rows = repeated_prompts(tokenizer, 2)
    width = max(len(r) for r in rows)
    pad = tokenizer.pad_token_id
    input_ids = torch.tensor([[pad] * (width - len(r)) + r for r in rows])
    attention_mask = (torch.arange(width) >= torch.tensor([width - len(r) for r in rows])[:, None]).long()
    config = GenerationConfig(do_sample=True, max_new_tokens=6, pad_token_id=pad, eos_token_id=None)
    torch.manual_seed(11)
    plain = model.generate(input_ids=input_ids, attention_mask=attention_mask, generation_config=config)
    share_prompts_in_generate(model)
    share_prompts_in_generate(model)  # once only
    try:
        assert model.generate.shares_prompts and model.generate.__wrapped__.__name__ == "generate"
        assert not getattr(model.generate.__wrapped__, "shares_prompts", False)
        torch.manual_seed(11)
        shared = model.generate(input_ids=input_ids, attention_mask=attention_mask, generation_config=config)
    finally:
        del model.generate  # the class's generate again
    assert torch.equal(shared, plain)


@pytest.mark.parametrize(
    "settings",
    [{"num_beams": 2}, {"num_return_sequences": 2, "do_sample": True}, {"cache_implementation": "static"}],
    ids=["beams", "several-sequences-a-row", "a-cache-of-another-kind"],
)
def test_a_generate_call_that_cannot_share_a_prefill_runs_as_called(tiny_model, settings):
    import torch

    from rft.prompt_cache import generate_sharing_prompts

    model, tokenizer = tiny_model
    input_ids = torch.tensor(repeated_prompts(tokenizer, 2)[:2])
    attention_mask = torch.ones_like(input_ids)
    called = []

    def generate(**kwargs):
        called.append(kwargs)
        return "as called"

    assert generate_sharing_prompts(generate, model, input_ids, attention_mask, **settings) == "as called"
    assert called == [{"input_ids": input_ids, "attention_mask": attention_mask, **settings}]


def test_a_model_whose_forward_unsloth_replaced_keeps_its_own_generation(tiny_model, monkeypatch):
    """Unsloth patches the model class's forward on import (its PrefixGrouper and cache are its
    own): evaluation and whole games on an Unsloth model get no prefill of ours."""
    import torch

    from rft.prompt_cache import can_share

    model, tokenizer = tiny_model
    input_ids = torch.tensor(repeated_prompts(tokenizer, 2)[:2])  # one prompt, twice
    attention_mask = torch.ones_like(input_ids)
    assert can_share(model, input_ids, attention_mask, {})
    original = type(model).forward

    def fast_forward(self, *args, **kwargs):
        return original(self, *args, **kwargs)

    fast_forward.__module__ = "unsloth.models.llama"
    monkeypatch.setattr(type(model), "forward", fast_forward)
    assert not can_share(model, input_ids, attention_mask, {})
