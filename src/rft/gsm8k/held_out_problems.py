"""GSM8K accuracy: greedy answers to held-out problems, scored by the correctness reward's rule.

:func:`evaluate_loaded` is the task's evaluation (``rft.tasks.Task``): the models come loaded
(``rft.evaluation`` loads them, a run's base and adapter on one copy of the weights), so this
module loads nothing.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from rft.files import keep_results, replace_text, write_json
from rft.gsm8k.problems import Problem, build_messages, load_problems
from rft.gsm8k.rewards import ANSWER_CLOSE, is_correct, parse_answer
from rft.stats import intervals_overlap, overlap_verdict, wilson_interval
from rft.tasks import EvalRequest, PresetLike


def solve(
    model: Any,
    tokenizer: Any,
    problems: Sequence[Problem],
    max_new_tokens: int = 320,
    batch_size: int = 16,
    temperature: float = 0.0,
    seed: int = 0,
    adapter_off: bool = False,
) -> list[dict[str, Any]]:
    """One answer per problem (greedy by default), with what it parsed to and whether it is right.
    ``adapter_off``: the base model, through a PEFT model with its adapter disabled."""
    from rft.generation import generate_completions

    prompts = [
        tokenizer.apply_chat_template(build_messages(p.question), tokenize=False, add_generation_prompt=True)
        for p in problems
    ]
    with model.disable_adapter() if adapter_off else nullcontext():
        texts = generate_completions(
            model, tokenizer, prompts, max_new_tokens, temperature, batch_size, seed, end_after=ANSWER_CLOSE
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


def evaluate_loaded(
    preset: PresetLike,
    models: Sequence[Any],
    request: EvalRequest,
    out_dir: str | Path,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The task's evaluation: every model (``rft.models.LoadedModel``) answers the same
    ``request.count`` held-out problems: the test split of the run's problems (the shipped sample,
    which has one split, when it trained on that)."""
    source = preset.dataset.problems
    problems = load_problems(source, "test")[: request.count]
    Path(out_dir).mkdir(parents=True, exist_ok=True)  # a folder that cannot be made fails before the work
    started = time.monotonic()
    records = {
        one.label: solve(
            one.model,
            one.tokenizer,
            problems,
            request.max_new_tokens,
            request.batch_size,
            request.temperature,
            request.seed,
            adapter_off=one.adapter_off,
        )
        for one in models
    }
    result: dict[str, Any] = {
        "task": "gsm8k",
        "out_dir": str(out_dir),
        "problems_source": source,
        **(details or {}),
        "seed": request.seed,
        "max_new_tokens": request.max_new_tokens,
        "temperature": request.temperature,
        "seconds": round(time.monotonic() - started, 1),
        "metrics": {label: accuracy(answers) for label, answers in records.items()},
    }
    if vs_base := versus_base(result["metrics"]):
        result["vs_base"] = vs_base
    result["records"] = records
    write_report(result, out_dir)
    return result


def versus_base(metrics: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every other model against the base: the accuracy difference and whether the 95% intervals
    overlap (overlap: not a clear difference at this number of problems)."""
    if "base" not in metrics or metrics["base"]["accuracy"] is None:
        return {}
    base = metrics["base"]
    return {
        label: {
            "accuracy_difference": row["accuracy"] - base["accuracy"],
            "intervals_overlap": intervals_overlap(base["accuracy_ci95"], row["accuracy_ci95"]),
        }
        for label, row in metrics.items()
        if label != "base" and row["accuracy"] is not None
    }


def markdown_table(result: dict[str, Any]) -> str:
    """Accuracy per model with its 95% interval, and the answer-format rates."""
    problems = next(iter(result["metrics"].values()), {}).get("problems", 0)
    lines = [
        f"GSM8K evaluation: {problems} held-out problems ({result.get('problems_source', 'GSM8K')}), "
        "the same for every model.",
        "",
        "| model | accuracy (95% CI) | correct | exact format | answered |",
        "|---|---|---|---|---|",
    ]
    for label, row in result["metrics"].items():
        low, high = row["accuracy_ci95"]
        accuracy_text = "—" if row["accuracy"] is None else f"{row['accuracy']:.1%} ({low:.1%}–{high:.1%})"
        lines.append(
            f"| {label} | {accuracy_text} | {row['correct']}/{row['problems']} | "
            f"{row['format_valid_rate'] or 0:.1%} | {row['answered_rate'] or 0:.1%} |"
        )
    if result.get("vs_base"):
        lines.append("")
    for label, c in result.get("vs_base", {}).items():
        lines.append(
            f"{label} − base: accuracy {100 * c['accuracy_difference']:+.1f} points; "
            f"the 95% intervals {overlap_verdict(c['intervals_overlap'])}."
        )
    return "\n".join(lines) + "\n"


def write_report(result: dict[str, Any], out_dir: str | Path) -> Path:
    """``eval.json`` (every answer) and ``eval.md`` (the table, which ``rft export`` puts in the
    model card) in ``out_dir``."""

    def write(folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        result["out_dir"] = str(folder)
        write_json(folder / "eval.json", result)
        replace_text(folder / "eval.md", markdown_table(result))

    return keep_results(out_dir, write)
