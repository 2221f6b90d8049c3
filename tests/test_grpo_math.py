import pytest
import torch

from rft.grpo_math import (
    LOSS_TYPES,
    aggregate,
    clipped_surrogate,
    group_advantages,
    grpo_loss,
    kl_penalty,
    probability_ratio,
    token_logps,
    toy_policy_run,
)


def test_group_advantages_are_relative_to_the_group():
    rewards = torch.tensor([1.0, 0.0, 0.0, 1.0, 2.0, 2.0, 2.0, 2.0])
    advantages = group_advantages(rewards, group_size=4)
    first = advantages[:4]
    assert torch.allclose(first.sum(), torch.tensor(0.0), atol=1e-6)
    assert first[0] > 0 > first[1] and torch.allclose(first[0], first[3])
    # sample std of [1, 0, 0, 1] is 1/sqrt(3): (1 - 0.5) / 0.57735 ≈ 0.866
    assert first[0].item() == pytest.approx(0.5 / (3**-0.5 + 1e-4), rel=1e-6)
    assert torch.equal(advantages[4:], torch.zeros(4)), "a group with one score has nothing to teach"
    assert torch.allclose(group_advantages(rewards, 4, scale=False)[:4], torch.tensor([0.5, -0.5, -0.5, 0.5]))
    with pytest.raises(ValueError, match="groups of 3"):
        group_advantages(rewards, group_size=3)


def test_clipping_stops_the_push_outside_the_trust_region():
    ratio = torch.tensor([[0.5, 1.0, 1.1, 1.5]])
    up = clipped_surrogate(ratio, torch.tensor([1.0]))
    assert torch.allclose(up, torch.tensor([[0.5, 1.0, 1.1, 1.2]])), "a good token gains at most 1 + ε"
    down = clipped_surrogate(ratio, torch.tensor([-1.0]))
    assert torch.allclose(down, torch.tensor([[-0.8, -1.0, -1.1, -1.5]])), "a bad token is never let off"
    asymmetric = clipped_surrogate(ratio, torch.tensor([1.0]), epsilon_low=0.2, epsilon_high=0.28)
    assert asymmetric[0, 3].item() == pytest.approx(1.28)


def test_kl_penalty_is_zero_at_the_reference_and_positive_elsewhere():
    logps = torch.log(torch.tensor([0.1, 0.5, 0.9]))
    assert torch.allclose(kl_penalty(logps, logps), torch.zeros(3))
    assert (kl_penalty(logps, logps.flip(0))[[0, 2]] > 0).all()
    assert torch.allclose(probability_ratio(logps, logps), torch.ones(3))


def test_aggregation_weighs_tokens_per_loss_type():
    per_token = torch.tensor([[1.0, 1.0, 1.0, 1.0], [4.0, 0.0, 0.0, 0.0]])
    mask = torch.tensor([[1, 1, 1, 1], [1, 0, 0, 0]])
    assert aggregate(per_token, mask, "grpo").item() == pytest.approx((1.0 + 4.0) / 2)
    assert aggregate(per_token, mask, "dapo").item() == pytest.approx(8.0 / 5)
    assert aggregate(per_token, mask, "dr_grpo", max_completion_length=4).item() == pytest.approx(8.0 / 8)
    with pytest.raises(ValueError, match="max_completion_length"):
        aggregate(per_token, mask, "dr_grpo")
    with pytest.raises(ValueError, match="loss_type"):
        aggregate(per_token, mask, "ppo")


@pytest.fixture(scope="module")
def tiny_trainer(tmp_path_factory):
    """TRL's own GRPOTrainer around the tiny model: its loss is the reference."""
    from rft.training.policy import load_policy
    from rft.training.presets import get_preset
    from rft.training.run import build_trainer

    preset = get_preset("tiny-test")
    trainer = build_trainer(preset, load_policy(preset), tmp_path_factory.mktemp("run"), False, [])
    trainer.model.eval()  # eval mode: no dropout, and TRL skips its gradient-accumulation scaling
    return trainer


@pytest.mark.parametrize("loss_type", LOSS_TYPES)
@pytest.mark.parametrize(("beta", "kl_bias_correction"), [(0.0, True), (0.04, True), (0.04, False)])
def test_grpo_loss_equals_trls_on_identical_inputs(tiny_trainer, loss_type, beta, kl_bias_correction):
    trainer, model = tiny_trainer, tiny_trainer.model
    generator = torch.Generator().manual_seed(7)
    batch, prompt_length, completion_length = 4, 6, 5
    vocab = model.config.vocab_size
    prompt_ids = torch.randint(0, vocab, (batch, prompt_length), generator=generator)
    completion_ids = torch.randint(0, vocab, (batch, completion_length), generator=generator)
    completion_mask = torch.ones(batch, completion_length, dtype=torch.long)
    completion_mask[1, 3:] = 0  # shorter completions end early and are padded
    completion_mask[2, 1:] = 0
    input_ids = torch.cat([prompt_ids, completion_ids], dim=1)
    attention_mask = torch.cat([torch.ones_like(prompt_ids), completion_mask], dim=1)

    with torch.no_grad():
        logps = token_logps(model, input_ids, attention_mask, completion_length)
    # The policy has moved since sampling, far enough that some ratios leave the clip range.
    old_logps = logps + 0.3 * torch.randn(logps.shape, generator=generator)
    ref_logps = logps + 0.5 * torch.randn(logps.shape, generator=generator)
    advantages = group_advantages(torch.tensor([1.0, 0.2, 0.0, 0.7]), group_size=4)

    trainer.loss_type, trainer.beta = loss_type, beta
    trainer.args.use_bias_correction_kl = kl_bias_correction
    inputs = {
        "prompt_ids": prompt_ids,
        "prompt_mask": torch.ones_like(prompt_ids),
        "completion_ids": completion_ids,
        "completion_mask": completion_mask,
        "advantages": advantages,
        "old_per_token_logps": old_logps,
        "ref_per_token_logps": ref_logps,
        "num_items_in_batch": completion_mask.sum(),
    }
    with torch.no_grad():
        theirs = trainer._compute_loss(model, inputs)
    ours = grpo_loss(
        logps,
        old_logps,
        advantages,
        completion_mask,
        ref_logps=ref_logps,
        beta=beta,
        epsilon_low=trainer.epsilon_low,
        epsilon_high=trainer.epsilon_high,
        loss_type=loss_type,
        max_completion_length=trainer.max_completion_length,
        kl_bias_correction=kl_bias_correction,
    )
    ratio = probability_ratio(logps, old_logps)[completion_mask.bool()]
    assert ((ratio < 0.8) | (ratio > 1.2)).any(), "the inputs must exercise the clipping"
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-5, abs=1e-6)


def test_grpo_moves_a_toy_policy_to_its_best_answer_and_kl_holds_it_back():
    free = toy_policy_run([3.0, 2.0, 1.0, 0.0], steps=40)
    held = toy_policy_run([3.0, 2.0, 1.0, 0.0], steps=40, beta=2.0)
    assert free.shape == (41, 4) and torch.allclose(free.sum(dim=1), torch.ones(41))
    assert free[0].tolist() == [0.25] * 4 and free[-1, 0] > 0.9
    assert 0.25 < held[-1, 0] < free[-1, 0]
    # Equal rewards: every advantage is 0, so nothing moves.
    assert torch.allclose(toy_policy_run([1.0] * 4, steps=5), torch.full((6, 4), 0.25))


def test_the_explainer_figures_are_drawn(tmp_path):
    from rft.figures import FIGURES, main

    main([str(tmp_path)])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(FIGURES)
    assert all(p.stat().st_size > 10_000 for p in tmp_path.iterdir())
