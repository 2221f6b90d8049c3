"""GSM8K accuracy: greedy answers to held-out problems, scored by the correctness reward's rule."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rft.gsm8k.problems import Problem, build_messages
from rft.gsm8k.rewards import ANSWER_CLOSE, is_correct, parse_answer
from rft.stats import wilson_interval


def solve(
    model: Any,
    tokenizer: Any,
    problems: Sequence[Problem],
    max_new_tokens: int = 320,
    batch_size: int = 16,
) -> list[dict[str, Any]]:
    """One greedy answer per problem, with what it parsed to and whether it is right."""
    from rft.generation import generate_completions

    prompts = [
        tokenizer.apply_chat_template(build_messages(p.question), tokenize=False, add_generation_prompt=True)
        for p in problems
    ]
    texts = generate_completions(
        model, tokenizer, prompts, max_new_tokens, batch_size=batch_size, end_after=ANSWER_CLOSE
    )
    records = []
    for problem, text in zip(problems, texts):
        parsed = parse_answer(text)
        records.append(
            {
                "question": problem.question,
                "gold": problem.answer,
                "completion": text,
                "answer": parsed.answer_block,
                "correct": is_correct(parsed, problem.answer),
                "exact_format": parsed.exact_shape,
            }
        )
    return records


def accuracy(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Accuracy with its 95% Wilson interval, and how often the answer had the asked-for shape."""
    n = len(records)
    correct = sum(r["correct"] for r in records)
    return {
        "problems": n,
        "correct": correct,
        "accuracy": correct / n if n else None,
        "accuracy_ci95": list(wilson_interval(correct, n)),
        "format_valid_rate": sum(r["exact_format"] for r in records) / n if n else None,
        "answered_rate": sum(r["answer"] is not None for r in records) / n if n else None,
    }


def base_vs_trained(
    run_dir: str | Path, problems: Sequence[Problem], max_new_tokens: int = 320, batch_size: int = 16
) -> dict[str, dict[str, Any]]:
    """The run's base model and its trained adapter on the same problems: accuracy of each, with
    every answer kept under ``records``."""
    from rft.loading import load_base, with_adapter
    from rft.training.models import release_memory
    from rft.training.run_folder import read_run_config

    preset = read_run_config(Path(run_dir))
    results = {}
    for label in ("base", "trained"):
        loaded = load_base(preset)
        if label == "trained":
            loaded = with_adapter(loaded, run_dir)
        records = solve(loaded.model, loaded.tokenizer, problems, max_new_tokens, batch_size)
        results[label] = {**accuracy(records), "records": records}
        del loaded  # one model in memory at a time: two 3B copies crowd a 16 GB T4
        release_memory()
    return results


def markdown_table(results: dict[str, dict[str, Any]]) -> str:
    """Accuracy per model with its 95% interval, and the answer-format rates."""
    lines = [
        "| model | accuracy (95% CI) | correct | exact format | answered |",
        "|---|---|---|---|---|",
    ]
    for label, row in results.items():
        low, high = row["accuracy_ci95"]
        accuracy_text = "—" if row["accuracy"] is None else f"{row['accuracy']:.1%} ({low:.1%}–{high:.1%})"
        lines.append(
            f"| {label} | {accuracy_text} | {row['correct']}/{row['problems']} | "
            f"{row['format_valid_rate'] or 0:.1%} | {row['answered_rate'] or 0:.1%} |"
        )
    return "\n".join(lines) + "\n"


def write_report(results: dict[str, dict[str, Any]], out_dir: str | Path) -> Path:
    """``eval.json`` (every answer) and ``eval.md`` (the table, which ``rft export`` puts in the
    model card) in ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "eval.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    (out / "eval.md").write_text(markdown_table(results), encoding="utf-8")
    return out
