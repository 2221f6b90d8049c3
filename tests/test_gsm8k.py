import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rft.gsm8k import (
    REWARD_FUNCTIONS,
    SAMPLE,
    build_rows,
    correctness_reward,
    format_reward,
    gold_answer,
    load_problems,
    number_reward,
    parse_answer,
    select_rewards,
)
from rft.gsm8k.held_out_problems import accuracy, solve
from rft.gsm8k.problems import read_jsonl, sample_path

CALCULATION = re.compile(r"<<([^=<>]+)=([^<>]+)>>")


def test_the_shipped_sample_is_arithmetically_right():
    problems = load_problems(SAMPLE)
    assert len(problems) == 32 and len({p.question for p in problems}) == 32
    for problem in problems:
        results = []
        for expression, result in CALCULATION.findall(problem.solution):
            assert re.fullmatch(r"[\d+\-*/(). ]+", expression), expression
            assert eval(expression) == pytest.approx(float(result)), (problem.question, expression)
            results.append(result)
        assert results and results[-1] == problem.answer, problem.question


def test_gold_answers_and_bad_files_are_named(tmp_path):
    assert gold_answer("so 1,200 + 34\n#### 1,234") == "1234"
    assert gold_answer("#### -2.5") == "-2.5"
    with pytest.raises(ValueError, match="must end with '#### <number>'"):
        gold_answer("the answer is 4")
    with pytest.raises(ValueError, match="is not a number"):
        gold_answer("#### four")
    for unreadable in ("nan", "inf", "-inf", "1,2,3", "1e5"):  # no completion could be paid for these
        with pytest.raises(ValueError, match=f"'#### {unreadable}' is not a number as the rewards read one"):
            gold_answer(f"#### {unreadable}")
    bad_gold = tmp_path / "gold.jsonl"
    bad_gold.write_text(json.dumps({"question": "q", "answer": "#### nan"}) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"gold\.jsonl line 1: '#### nan'"):
        read_jsonl(bad_gold)
    bad = tmp_path / "bad.jsonl"
    good = json.dumps({"question": "1+1?", "answer": "1+1=2\n#### 2"})
    bad.write_text(good + "\n\n" + json.dumps({"question": "2+2?"}) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.jsonl line 3: field 'answer'"):
        read_jsonl(bad)
    bad.write_text(good + "\n{oops\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.jsonl line 2: not valid JSON"):
        read_jsonl(bad)
    assert load_problems(str(sample_path()))[0].answer == load_problems(SAMPLE)[0].answer


def test_rows_are_deterministic_for_a_seed():
    problems = load_problems(SAMPLE)
    rows = build_rows(problems, num_rows=5, seed=3)
    assert rows == build_rows(problems, num_rows=5, seed=3) != build_rows(problems, num_rows=5, seed=4)
    assert len(rows) == 5 and len(build_rows(problems)) == 32
    row = rows[0]
    assert row["prompt"][0]["role"] == "system" and "<answer>" in row["prompt"][0]["content"]
    assert row["prompt"][1]["content"] == row["question"]


@pytest.mark.parametrize(
    ("text", "correct", "shape", "number"),
    [
        ("<think>\n3*12=36, 36-9=27\n</think>\n<answer>27</answer>", 1.0, 1.0, 1.0),
        ("<think>x</think><answer>$27</answer>", 1.0, 1.0, 1.0),
        ("<think>x</think><answer>27.0</answer>", 1.0, 1.0, 1.0),
        ("<think>x</think><answer>She has 27 pencils.</answer>", 1.0, 1.0, 0.0),
        ("<answer>27</answer>", 1.0, 0.5, 1.0),
        ("<think>x</think><answer>28</answer>", 0.0, 1.0, 1.0),
        ("<think>x</think><answer>27</answer> and more", 1.0, 0.5, 1.0),
        ("<think>x</think><answer>2,700</answer>", 0.0, 1.0, 1.0),
        ("The answer is 27.", 0.0, 0.0, 0.0),
        ("<think>x</think><answer></answer>", 0.0, 1.0, 0.0),
    ],
)
def test_rewards_on_examples(text, correct, shape, number):
    assert correctness_reward([text], answer=["27"]) == [correct]
    assert format_reward([text]) == [shape]
    assert number_reward([text]) == [number]


def test_big_numbers_with_commas_are_read():
    assert correctness_reward(["<think>x</think><answer>1,234</answer>"], answer=["1234"]) == [1.0]
    assert parse_answer("<answer>-3.5</answer>").number == -3.5
    assert parse_answer("<answer>It is 1,234,567.5 in all</answer>").number == 1234567.5


@pytest.mark.parametrize("written", ["1,2,3", "12,34", "1,2345", "123,4"])
def test_commas_outside_groups_of_three_are_no_thousands_separators(written):
    assert correctness_reward([f"<answer>{written}</answer>"], answer=[written.replace(",", "")]) == [0.0]


def test_a_missing_gold_answer_is_an_error_as_in_the_wordle_rewards():
    with pytest.raises(ValueError, match="no gold answer"):
        correctness_reward(["<answer>3</answer>"], answer=[None])


@given(st.text(max_size=300), st.sampled_from(["27", "-4", "1.5", "oops"]))
def test_rewards_are_total(text, gold):
    for function in REWARD_FUNCTIONS.values():
        (score,) = function([text], answer=[gold])
        assert isinstance(score, float) and 0.0 <= score <= 1.0
    for completion in ([{"role": "assistant", "content": text}], "<answer>" * 10_000 + text, None, 42):
        assert isinstance(format_reward([completion])[0], float)


def test_a_missing_answer_column_is_named():
    with pytest.raises(ValueError, match="'answer' column"):
        correctness_reward(["<answer>1</answer>"])
    with pytest.raises(ValueError, match="unknown reward 'guess_value'"):
        select_rewards({"guess_value": 1.0})
    functions, weights = select_rewards()
    assert [f.__name__ for f in functions] == ["correctness_reward", "format_reward", "number_reward"]
    assert weights == [2.0, 0.5, 0.5]


def test_accuracy_counts_and_intervals():
    records = [
        {"correct": True, "exact_format": True, "answer": "1"},
        {"correct": False, "exact_format": False, "answer": None},
    ]
    result = accuracy(records)
    assert result["accuracy"] == 0.5 and result["format_valid_rate"] == 0.5 and result["answered_rate"] == 0.5
    low, high = result["accuracy_ci95"]
    assert 0 < low < 0.5 < high < 1


def test_the_report_holds_every_answer_and_a_table_the_model_card_shows(tmp_path):
    from rft.gsm8k.held_out_problems import markdown_table, write_report

    records = [{"correct": True, "exact_format": True, "answer": "1", "completion": "<answer>1</answer>"}] * 3
    base = [*records[:1], dict(records[0], correct=False)]
    result = {
        "task": "gsm8k",
        "problems_source": "sample",
        "metrics": {"base": accuracy(base), "trained": accuracy(records)},
        "records": {"base": base, "trained": records},
    }
    write_report(result, tmp_path / "eval")
    table = (tmp_path / "eval" / "eval.md").read_text()
    assert (
        "| base | 50.0% (9.5%–90.5%) | 1/2 |" in table
        and "| trained | 100.0% (43.9%–100.0%) | 3/3 |" in table
    )
    assert json.loads((tmp_path / "eval" / "eval.json").read_text())["records"]["trained"] == records
    assert markdown_table(result) == table


def test_the_trained_model_is_compared_with_the_base_by_its_interval():
    from rft.gsm8k.held_out_problems import markdown_table, versus_base

    right, wrong = (
        {"correct": True, "exact_format": True, "answer": "1"},
        {"correct": False, "exact_format": True, "answer": "2"},
    )
    metrics = {"base": accuracy([wrong] * 40), "trained": accuracy([right] * 30 + [wrong] * 10)}
    (compared,) = versus_base(metrics).values()
    assert compared == {"accuracy_difference": 0.75, "intervals_overlap": False}
    close = {"base": accuracy([right] * 20 + [wrong] * 20), "trained": accuracy([right] * 22 + [wrong] * 18)}
    assert versus_base(close)["trained"]["intervals_overlap"] is True
    table = markdown_table({"metrics": metrics, "vs_base": versus_base(metrics)})
    assert "trained − base: accuracy +75.0 points; the 95% intervals do not overlap." in table
    assert versus_base({"trained": metrics["trained"]}) == {}


@pytest.mark.slow
def test_tiny_gsm8k_preset_trains_and_is_scored(tmp_path):
    from rft.models import load_base
    from rft.training.presets import get_preset
    from rft.training.run import read_metrics, train

    preset = get_preset("tiny-test-gsm8k")
    result = train(preset, runs_dir=tmp_path, progress=False)
    rows = read_metrics(result.metrics_path)
    assert result.global_step == 2 and (result.adapter_dir / "adapter_config.json").is_file()
    assert {"rewards/correctness_reward/mean", "rewards/number_reward/mean"} <= set(rows[-1])
    samples = [json.loads(line) for line in (result.run_dir / "samples.jsonl").read_text().splitlines()]
    assert samples and all("answer" in s and "secret" not in s for s in samples)

    loaded = load_base(preset)
    records = solve(loaded.model, loaded.tokenizer, load_problems(SAMPLE)[:3], max_new_tokens=8)
    assert len(records) == 3 and all(isinstance(r["correct"], bool) for r in records)

    from rft.cli import main
    from rft.export import model_card

    # rft eval scores a GSM8K run as it plays a Wordle one: base and trained on the same problems
    out = result.run_dir / "eval"
    assert (
        main(["eval", "--model", str(result.run_dir), "--games", "3", "--out", str(out), "--no-progress"])
        == 0
    )
    evaluation = json.loads((out / "eval.json").read_text())
    assert evaluation["task"] == "gsm8k" and list(evaluation["metrics"]) == ["base", "trained"]
    assert [len(answers) for answers in evaluation["records"].values()] == [3, 3]
    assert evaluation["max_new_tokens"] == preset.eval_max_new_tokens
    card = model_card(result.run_dir)
    assert "solve GSM8K arithmetic" in card and "<answer>NUMBER</answer>" in card and "Wordle" not in card
    assert "GSM8K evaluation: 3 held-out problems (sample)" in card
