"""Does GRPO teach a small model to *play* when its signal lands on play? The cpu_learning protocol
on the short-answer presets: guesses held to allowed words, the answer the guess tag alone, four
prompts × eight generations a step, a warm-up then a cosine learning rate, a KL term, no empty
boards. Then the held-out boards and games for the base model, the warm-up and GRPO.

    python benchmarks/short_learning.py --model qwen         # results/short_learning_qwen.json
    python benchmarks/short_learning.py --model smollm2      # results/short_learning_smollm2.json
    python benchmarks/short_learning.py --model qwen --grpo-set learning_rate=3e-5 --tag lr3e-5

The warm-up (PRESET-sft: the solver's word alone) trains for its share of the budget; GRPO
continues it for ``grpo_steps`` steps (its cosine schedule runs over them) or until the budget
is spent. Then every stage answers the first ``states`` held-out boards (rft.wordle.held_out_states:
greedy, and 8 samples at temperature 1 for pass@k), each paired with the stage it started from
(McNemar's exact test: the warm-up against the base, GRPO against the warm-up), and plays the same
held-out games. The question: does GRPO raise the held-out consistent-guess rate beyond the warm-up
it continued (paired, p < 0.05), and does that show in whole games? Every other flag and field is
cpu_learning.py's (see there).
"""

from __future__ import annotations

import sys

from _learning import Protocol, build_parser, run

# Budgets from measured costs, 2 cores: a short GRPO step (4 prompts × 8 answers, its KL term
# included) takes about 95 s on the 0.5B in bf16 and 50 s on SmolLM2 in fp32; the warm-up's 30
# steps took 12.2 and 5.2 minutes (results/spread_before_grpo.json); 300 boards answered greedily
# take 7 minutes (SmolLM2 with its adapter) to 20 (the 0.5B's). GRPO's steps are what its share of
# the budget holds, so its cosine schedule ends where the stage does; about two hours each, games
# and boards included.
PROTOCOLS = {
    "qwen": Protocol(
        name="short_learning_qwen",
        sft_preset="cpu-qwen2.5-coder-0.5b-wordle-short-sft",
        grpo_preset="cpu-qwen2.5-coder-0.5b-wordle-short",
        model="Qwen2.5-Coder-0.5B-Instruct (PyPI data wheels, Q4_K_M dequantized) + LoRA r16",
        minutes=75.0,
        games=50,
        own_games=0,
        sft_share=0.2,
        states=300,
        grpo_set=("max_steps=36",),
    ),
    "smollm2": Protocol(
        name="short_learning_smollm2",
        sft_preset="cpu-smollm2-wordle-short-sft",
        grpo_preset="cpu-smollm2-wordle-short",
        model="SmolLM2-135M-Instruct + LoRA r16 (embedded)",
        minutes=75.0,
        games=100,
        own_games=0,
        sft_share=0.1,
        states=300,
        grpo_set=("max_steps=76",),
    ),
}


def main() -> None:
    argv = sys.argv[1:]
    model = "qwen"
    if "--model" in argv:  # the model picks the protocol, and with it the other flags' defaults
        at = argv.index("--model")
        if at + 1 >= len(argv) or argv[at + 1] not in PROTOCOLS:
            raise SystemExit(f"--model: one of {', '.join(PROTOCOLS)}")
        model = argv[at + 1]
        del argv[at : at + 2]
    protocol = PROTOCOLS[model]
    parser = build_parser(protocol)
    parser.prog = f"short_learning.py --model {model}"
    run(parser, parser.parse_args(argv), protocol)


if __name__ == "__main__":
    main()
