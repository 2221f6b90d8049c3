"""GSM8K accuracy: greedy answers to held-out problems, scored by the correctness reward's rule."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rft.gsm8k.problems import Problem, build_messages
from rft.gsm8k.rewards import is_correct, parse_answer
from rft.wordle.play import wilson_interval


def solve(
    model: Any,
    tokenizer: Any,
    problems: Sequence[Problem],
    max_new_tokens: int = 320,
    batch_size: int = 16,
) -> list[dict[str, Any]]:
    """One greedy answer per problem, with what it parsed to and whether it is right."""
    from rft.evaluate import generate_completions

    prompts = [
        tokenizer.apply_chat_template(build_messages(p.question), tokenize=False, add_generation_prompt=True)
        for p in problems
    ]
    texts = generate_completions(model, tokenizer, prompts, max_new_tokens, batch_size=batch_size)
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
