"""GRPO's training forward with each group's prompt computed once.

All ``num_generations`` completions of a GRPO group continue the same prompt, and on a CPU that
prompt is most of what a step computes: TRL's log-prob forward (and its backward) runs every row
as prompt + completion, so a 450-token prompt with 4 completions of 160 tokens is computed four
times over, 1,359 of the 2,452 tokens a step runs. :class:`SharedPromptGRPOTrainer` runs each
distinct prompt once, keeps its keys and values (a transformers ``DynamicCache``), hands every
row of the group its prompt's cache, and runs only the completions attending to it. The gradient
reaches the prompt once, summed over the group, as autograd sums the cache's copies.

The seam is one method of TRL's ``GRPOTrainer``, ``_get_per_token_logps_and_entropies`` (the same
signature and body in TRL 1.15 and 1.16): every log-prob TRL computes (the loss's, the old
policy's, the reference model's) goes through it. The completions still go through TRL's own
fused LM head (``fused_lm_head=True``), so temperature, entropy and the kernel are TRL's. Where
the shared forward cannot give TRL's numbers, TRL's method runs unchanged, and a note says why,
once: gradient checkpointing (a checkpointed layer drops the cache, and its replay would write the
cache twice), multimodal inputs, a mixture-of-experts load-balancing loss, sliding-window
attention, vLLM generation, and batches where no prompt repeats (whole-game rollouts whose prompts
differ). Unsloth's trainer has its own shared prompt (PrefixGrouper); that loader keeps it.
With LoRA dropout (0 in every preset) a group's prompt draws one dropout mask, not one a row.
"""

from __future__ import annotations

from typing import Any

import torch
from trl import GRPOTrainer

from rft.prompt_cache import cache_argument, checkpointing_drops_cache, full_attention_only

MULTIMODAL_INPUTS = (
    "pixel_values",
    "image_grid_thw",
    "num_images",
    "pixel_attention_mask",
    "spatial_shapes",
    "num_tiles",
    "image_sizes",
    "token_type_ids",
    "mm_token_type_ids",
    "image_position_ids",
)


def grpo_trainer_class(loader: str) -> type[GRPOTrainer]:
    """The trainer a policy from ``loader`` trains with: Unsloth's own for Unsloth's loader (its
    PrefixGrouper shares the prompt on a GPU, unless vLLM generates: ``fast_inference``), ours
    otherwise. Unsloth puts its trainer in ``trl`` when it loads, so it is looked up now."""
    if loader == "unsloth":
        import trl

        print("note: Unsloth's trainer computes the log-probs (its PrefixGrouper shares a group's prompt)")
        return trl.GRPOTrainer
    return SharedPromptGRPOTrainer


class SharedPromptGRPOTrainer(GRPOTrainer):
    """TRL's GRPOTrainer, its per-token log-probs computed with each distinct prompt run once."""

    def _get_per_token_logps_and_entropies(
        self,
        model: Any,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        logits_to_keep: int,
        batch_size: int | None = None,
        compute_entropy: bool = False,
        compute_aux_loss: bool = False,
        **multimodal: Any,
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        reason = self._why_trls_path(
            model, input_ids, attention_mask, logits_to_keep, compute_aux_loss, multimodal
        )
        if reason is not None:
            noted = self.__dict__.setdefault("_shared_prompt_notes", set())
            if reason not in noted:
                noted.add(reason)
                print(f"note: the log-prob forward runs TRL's own path (each prompt once per row): {reason}")
            return super()._get_per_token_logps_and_entropies(
                model,
                input_ids,
                attention_mask,
                logits_to_keep,
                batch_size=batch_size,
                compute_entropy=compute_entropy,
                compute_aux_loss=compute_aux_loss,
                **multimodal,
            )
        batch_size = batch_size or input_ids.size(0)  # TRL's chunking, which bounds memory, is kept
        log_probs, entropies = [], []
        for start in range(0, input_ids.size(0), batch_size):
            chunk = slice(start, start + batch_size)
            with self.accelerator.autocast():
                chunk_log_probs, chunk_entropy = shared_prompt_log_probs(
                    model, input_ids[chunk], attention_mask[chunk], logits_to_keep
                )
            log_probs.append(chunk_log_probs)
            entropies.append(chunk_entropy)
        return torch.cat(log_probs), torch.cat(entropies) if compute_entropy else None, None

    def _why_trls_path(
        self,
        model: Any,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        logits_to_keep: int,
        compute_aux_loss: bool,
        multimodal: dict[str, Any],
    ) -> str | None:
        """Why this call keeps TRL's path, or None where the shared forward gives TRL's numbers."""
        if any(value is not None for value in multimodal.values()):
            return "multimodal inputs"
        if compute_aux_loss:
            return "a mixture-of-experts load-balancing loss"
        if checkpointing_drops_cache(model):
            return "gradient checkpointing is on (a checkpointed layer drops a cache)"
        if getattr(self, "use_vllm", False):
            return "vLLM generates"
        if not full_attention_only(self.accelerator.unwrap_model(model).config):
            return "the model has sliding-window attention"
        if input_ids.size(1) - logits_to_keep < 2:
            return "prompts of a single token"
        prefixes = prompt_prefixes(input_ids, attention_mask, logits_to_keep)
        if torch.unique(prefixes, dim=0).size(0) == prefixes.size(0):
            return "no prompt repeats in the batch"
        return None


def prompt_prefixes(
    input_ids: torch.Tensor, attention_mask: torch.Tensor, logits_to_keep: int
) -> torch.Tensor:
    """Each row's prompt without its last token (the part the cache holds), its ids then its mask:
    rows whose prefixes are equal share one forward. Prompts of different lengths are padded
    differently, so the mask is part of what must match."""
    prefix_length = input_ids.size(1) - logits_to_keep - 1
    return torch.cat([input_ids[:, :prefix_length], attention_mask[:, :prefix_length].to(input_ids.dtype)], 1)


def shared_prompt_log_probs(
    model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor, logits_to_keep: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token log-probs and entropies of the last ``logits_to_keep`` tokens of each row, as
    TRL's ``_get_per_token_logps_and_entropies`` computes them, with each distinct prompt run once.

    The prompt's last token is run with the completion, once per row: its output scores the
    completion's first token, and TRL's fused head then scores every completion token in one call.
    The prefix before it goes through the model once per distinct prefix; its cache is expanded to
    the rows (an index, so autograd sums the rows' gradients into it). Positions are TRL's: the
    cache's length continues them, and left padding is masked as in TRL's forward.
    """
    from transformers import DynamicCache

    prefix_length = input_ids.size(1) - logits_to_keep - 1
    distinct, group_of_row = torch.unique(
        prompt_prefixes(input_ids, attention_mask, logits_to_keep), dim=0, return_inverse=True
    )
    cache_name = cache_argument(model)
    cache = DynamicCache()
    model(
        input_ids=distinct[:, :prefix_length],
        attention_mask=distinct[:, prefix_length:].to(attention_mask.dtype),
        use_cache=True,
        logits_to_keep=1,  # the prefix's logits are not needed: the head runs on one position only
        **{cache_name: cache},
    )
    cache.batch_select_indices(group_of_row)
    tail = input_ids[:, prefix_length:]
    labels = tail.masked_fill(attention_mask[:, prefix_length:] == 0, -100)
    labels[:, 0] = -100  # the prompt's last token: not scored, as in TRL
    outputs = model(
        input_ids=tail,
        attention_mask=attention_mask,
        labels=labels,
        fused_lm_head=True,
        **{cache_name: cache},
    )
    return outputs.log_probs, outputs.entropy
