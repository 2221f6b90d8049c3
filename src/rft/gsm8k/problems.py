"""GSM8K problems: loading them, their gold answers, and the prompts a model sees.

The notebook trains on ``openai/gsm8k`` from the Hugging Face Hub. Tests, smoke runs and machines
without the Hub use ``sample``: 32 grade-school problems written for this project in the same
format (``data/gsm8k/sample.jsonl``). Any JSONL file with ``question`` and ``answer`` fields works
too. A problem whose answer lacks the ``#### <number>`` line is an error naming its line.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from rft.checks import check_integer
from rft.gsm8k.rewards import BARE_NUMBER

HUB_DATASET = "openai/gsm8k"
SAMPLE = "sample"
ANSWER_MARK = "####"

SYSTEM_PROMPT = (
    "Solve the math problem. Think step by step inside <think> </think>, then give only the final "
    "number inside <answer> </answer>, for example:\n"
    "<think>\nthe steps\n</think>\n<answer>42</answer>"
)


@dataclass(frozen=True)
class GSM8KDatasetConfig:
    """Which problems GRPO trains on; checked here, before any work starts (whether a ``.jsonl``
    file exists is checked when a run's settings are, on the machine that trains)."""

    num_rows: int = 1000
    problems: str = HUB_DATASET  # a Hub dataset id, "sample" (shipped), or a .jsonl file

    def __post_init__(self) -> None:
        check_integer("num_rows", self.num_rows, minimum=1)
        if not isinstance(self.problems, str) or not self.problems.strip():
            raise ValueError(
                f"problems must name a Hub dataset, {SAMPLE!r} or a .jsonl file, got {self.problems!r}"
            )


@dataclass(frozen=True)
class Problem:
    question: str
    solution: str  # the worked solution, ending in "#### <answer>"
    answer: str  # the gold number as written after "####", without commas

    @classmethod
    def from_record(cls, record: Any, where: str) -> Problem:
        if not isinstance(record, dict):
            raise ValueError(f"{where}: expected an object with 'question' and 'answer', got {record!r:.80}")
        for key in ("question", "answer"):
            if not isinstance(record.get(key), str) or not record[key].strip():
                raise ValueError(f"{where}: field {key!r} must be a non-empty string")
        return cls(record["question"].strip(), record["answer"].strip(), gold_answer(record["answer"], where))


def gold_answer(solution: str, where: str = "solution") -> str:
    """The number after the final ``####`` of a GSM8K solution, commas removed; anything else there
    is an error naming ``where``."""
    _, mark, tail = solution.rpartition(ANSWER_MARK)
    written = tail.strip()
    if not mark or not written:
        raise ValueError(f"{where}: the answer must end with '{ANSWER_MARK} <number>'")
    # The rewards' own rule, so that every gold answer is one a completion can match: no nan or
    # inf, and commas only between thousands ("1,2,3" is not 123).
    match = BARE_NUMBER.fullmatch(written)
    if match is None:
        raise ValueError(
            f"{where}: '{ANSWER_MARK} {written}' is not a number as the rewards read one "
            "(digits, an optional sign and decimals, commas only between thousands)"
        )
    return match.group(1).replace(",", "")


def sample_path() -> Path:
    """The shipped sample: package data in a wheel, ``data/gsm8k`` in a checkout."""
    packaged = resources.files("rft.gsm8k").joinpath("data", "sample.jsonl")
    if packaged.is_file():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[3] / "data" / "gsm8k" / "sample.jsonl"


def read_jsonl(path: str | Path) -> list[Problem]:
    path = Path(path)
    problems = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            where = f"{path.name} line {number}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{where}: not valid JSON ({error.msg})") from None
            problems.append(Problem.from_record(record, where))
    if not problems:
        raise ValueError(f"{path}: no problems in the file")
    return problems


def load_problems(source: str = HUB_DATASET, split: str = "train") -> list[Problem]:
    """Problems from the Hub (``openai/gsm8k``, config ``main``), the shipped ``sample``, or a JSONL
    file. The sample has one split; it serves for both training and evaluation."""
    if source == SAMPLE:
        return read_jsonl(sample_path())
    if source.endswith(".jsonl") or Path(source).is_file():
        return read_jsonl(source)
    from datasets import load_dataset

    rows = load_dataset(source, "main", split=split)
    return [Problem.from_record(dict(row), f"{source} {split} row {i}") for i, row in enumerate(rows)]


def build_messages(question: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": question}]


def build_rows(problems: list[Problem], num_rows: int | None = None, seed: int = 0) -> list[dict[str, Any]]:
    """Rows for ``GRPOTrainer``: the chat prompt plus the ``answer`` column the rewards read.
    ``num_rows`` problems drawn without replacement for a seed (all, shuffled, when None)."""
    order = list(range(len(problems)))
    random.Random(seed).shuffle(order)
    if num_rows is not None:
        order = order[:num_rows]
    return [
        {
            "prompt": build_messages(problems[i].question),
            "answer": problems[i].answer,
            "question": problems[i].question,
        }
        for i in order
    ]


def build_dataset(problems: list[Problem], num_rows: int | None = None, seed: int = 0) -> Any:
    from datasets import Dataset

    return Dataset.from_list(build_rows(problems, num_rows, seed))
