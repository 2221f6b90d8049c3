"""Tasks plug into training through rft.tasks.Task alone: a third task needs no branch elsewhere."""

from dataclasses import dataclass, replace

import pytest

from rft.reward_common import choose_rewards, completion_text
from rft.tasks import Task
from rft.training.config import TASKS, apply_overrides, get_task, validate
from rft.training.presets import get_preset
from rft.training.run import read_metrics, train


def short_answer_reward(completions, **kwargs) -> list[float]:
    return [1.0 if len(completion_text(c)) < 20 else 0.0 for c in completions]


def count_rows(preset, progress, own_games=()):
    from datasets import Dataset

    return Dataset.from_list(count_examples(preset, preset.dataset.num_rows))


def count_examples(preset, count):
    return [
        {"prompt": [{"role": "user", "content": f"Count to {n}."}], "target": n}
        for n in range(1 + preset.seed, count + 1 + preset.seed)
    ]


@dataclass(frozen=True)
class CountingData:
    num_rows: int = 8


def count_evaluation(preset, models, request, out_dir, details):
    """Each model's share of short answers to the first prompts, written where rft eval says."""
    import json

    from rft.generation import generate_completions

    prompts = [
        models[0].tokenizer.apply_chat_template(row["prompt"], tokenize=False, add_generation_prompt=True)
        for row in count_examples(preset, request.count)
    ]
    metrics = {}
    for one in models:
        texts = generate_completions(one.model, one.tokenizer, prompts, request.max_new_tokens)
        metrics[one.label] = sum(len(text) < 20 for text in texts) / len(texts)
    result = {"task": "counting", "out_dir": str(out_dir), **details, "metrics": metrics}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "eval.json").write_text(json.dumps(result), encoding="utf-8")
    (out_dir / "eval.md").write_text(count_table(result), encoding="utf-8")
    return result


def count_table(result):
    return "".join(f"{label}: {share:.0%} short\n" for label, share in result["metrics"].items())


COUNTING = Task(
    name="counting",
    skill="count",
    closing_tag="</count>",
    dataset_config=CountingData,
    default_rewards={"short": 1.0},
    select_rewards=lambda weights: choose_rewards(weights or {"short": 1.0}, {"short": short_answer_reward}),
    grpo_dataset=count_rows,
    example_rows=count_examples,
    how_to_prompt=lambda preset: "Ask it to count.",
    evaluate=count_evaluation,
    evaluation_table=count_table,
)


@pytest.fixture
def counting(monkeypatch):
    monkeypatch.setitem(TASKS, "counting", COUNTING)
    return replace(get_preset("tiny-test"), task="counting", rewards={"short": 1.0}, dataset=CountingData(4))


def test_a_new_task_trains_through_its_task_alone(counting, tmp_path):
    from rft import notebook

    assert [row["target"] for row in notebook.example_rows(counting, 2)] == [1, 2]
    result = train(apply_overrides(counting, {"max_steps": "1"}), runs_dir=tmp_path, progress=False)
    (row,) = read_metrics(result.metrics_path)
    assert row["step"] == 1 and "rewards/short_answer_reward/mean" in row

    from rft.evaluation import evaluate_model, markdown_table

    evaluation = evaluate_model(str(result.run_dir), games=2, out_dir=tmp_path / "eval", progress=False)
    assert evaluation["task"] == "counting" and list(evaluation["metrics"]) == ["base", "trained"]
    assert markdown_table(evaluation) == (tmp_path / "eval" / "eval.md").read_text()


def test_what_a_task_lacks_is_refused_by_name(counting):
    with pytest.raises(ValueError, match=r"trainer 'sft' .* has no rows for task 'counting'"):
        validate(replace(counting, trainer="sft", name="counting-sft", trainer_args={"max_steps": 1}))
    with pytest.raises(ValueError, match="own_games is for a Wordle run"):
        validate(replace(counting, own_games=2, init_from="warm-up"), init_from_trained=False)
    with pytest.raises(ValueError, match="unknown reward 'format'"):
        validate(replace(counting, rewards={"format": 1.0}))
    with pytest.raises(ValueError, match=r"task must be one of .*'wordle', 'gsm8k'"):
        get_task("chess")


def test_a_task_without_an_evaluation_is_refused_before_anything_loads(counting, monkeypatch, tmp_path):
    import json

    from rft.evaluation import task_of

    monkeypatch.setitem(TASKS, "counting", replace(COUNTING, evaluate=None))
    (tmp_path / "config.json").write_text(json.dumps({"preset": counting.to_dict()}), encoding="utf-8")
    with pytest.raises(ValueError, match="task 'counting' has no evaluation"):
        task_of(str(tmp_path))


def test_each_preset_takes_its_closing_tag_and_rewards_from_its_task():
    assert get_preset("cpu-smollm2-wordle").closing_tag == "</guess>"
    assert get_preset("cpu-smollm2-gsm8k").closing_tag == "</answer>"
    assert dict(get_preset("t4-qwen2.5-3b-gsm8k").rewards) == dict(TASKS["gsm8k"].default_rewards)
    assert dict(get_preset("t4-qwen2.5-3b-wordle").rewards) == dict(TASKS["wordle"].default_rewards)
