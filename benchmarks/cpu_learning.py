"""Does a 135M model learn Wordle on a CPU? A fixed time budget split between the SFT warm-up and
GRPO, then held-out games for the base model, the warm-up and the final adapter.

    python benchmarks/cpu_learning.py                # 60 minutes, 200 games
    python benchmarks/cpu_learning.py --minutes 20 --games 50
    python benchmarks/cpu_learning.py --own-games 0     # a one-round warm-up, without its own games
    python benchmarks/cpu_learning.py --evaluate-only RUNS --base-from results/cpu_learning.json
    python benchmarks/cpu_learning.py --warm-up-from results/cpu_learning.json --grpo-set own_games=24 \
        --tag grpo-24-own-games
    python benchmarks/cpu_learning.py --grpo-preset cpu-smollm2-wordle

GRPO continues the warm-up as a named preset has it (--grpo-preset; by default
cpu-smollm2-wordle-own-games, the best variant measured, which also samples groups where the
warm-up stands in 48 games of its own), with --grpo-set's settings over it; the last example runs
the demo's GRPO preset, as the run that wrote results/cpu_learning.json did. The GRPO settings are
checked before the warm-up trains: a wrong one is an error then, not half the budget later.
Each stage trains until its share of the budget is spent (checked after every step). Targets for
SmolLM2-135M: format-valid rate >= 95%, consistency clearly above base, a win rate above zero with
its interval, and GRPO after SFT no worse than SFT alone beyond the intervals, on every rate that
has one (HIGHER_IS_BETTER: wins, format, consistency, replays and lost turns).
Writes results/cpu_learning.json, its name followed by -<minutes>min and -<games>games where they
differ from the reference run (cpu_learning-50games.json), then -<tag> with --tag. RUNS is the
runs/cpu-learning-* folder a training call left; --base-from takes the base model's games from an
earlier results file, as greedy decoding would replay them; --warm-up-from takes the warm-up from
one too (its runs, its time and its games), so variants of GRPO start from the same adapter.
Every stage plays the same held-out answers (HELD_OUT_SEED); figures are carried only from a file
whose games had the same ones. --evaluate-only on a folder whose eval/eval.json holds the games
scores them again with this code's metrics; the results file keeps the times it measured.
"""

from __future__ import annotations

from _learning import SMOLLM2, build_parser, run


def main() -> None:
    parser = build_parser(SMOLLM2)
    run(parser, parser.parse_args(), SMOLLM2)


if __name__ == "__main__":
    main()
