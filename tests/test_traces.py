import re
from dataclasses import replace

import numpy as np
import pytest

from rft.wordle.dataset import WordleDatasetConfig, answer_split
from rft.wordle.game import as_history, is_consistent
from rft.wordle.play import play_games
from rft.wordle.prompts import describe_clues
from rft.wordle.rewards import feedback_reward, format_reward, parse_completion
from rft.wordle.solver import default_table
from rft.wordle.traces import (
    build_trace_rows,
    own_game_secrets,
    own_game_trace_rows,
    trace_player,
    training_table,
)
from rft.wordle.words import is_allowed

FIRST = re.compile(
    r"No clues yet, so any of the (\d+) answers is possible\. (\w+) tries common letters "
    r"and splits them into (\d+) groups\."
)
CLUES = re.compile(r"Clues: (.+?\.) (?=\d+ answers|Only one)")
MANY = re.compile(r"(\d+) answers fit every clue, (?:among them|namely) ([A-Z, ]+)\.")
ONE = re.compile(r"Only one answer fits every clue: ([A-Z]+)\.")
LOST = re.compile(
    r"(?:A turn was lost to an answer with no guess tag\.|(\S+) was not accepted: "
    r"(?:it has (\d+) letters, not 5|(it is not in the word list)|it is not a 5-letter word)\.) "
)
CHOICE = re.compile(
    r"(\w+) (fits every clue|breaks a clue but is worth the try) and splits them into (\d+) groups\."
)


CONFIG = WordleDatasetConfig(num_rows=80, rejected_share=0.4)
SEED = 5


@pytest.fixture(scope="module")
def rows():
    return build_trace_rows(CONFIG, SEED, progress=False)


def test_every_claim_in_a_trace_is_true_of_its_state(rows):
    table = training_table()
    for row in rows:
        history = as_history(row["history"])
        text = row["completion"][0]["content"]
        guess = parse_completion(text).word
        thinking = text.split("<think>\n")[1].split("\n</think>")[0]
        named = []
        while lost := LOST.match(thinking):
            word, letters, not_listed = lost.groups()
            named.append((word or "").lower())
            if letters:
                assert len(word) == int(letters) != 5
            if not_listed:
                assert len(word) == 5 and not is_allowed(word)
            thinking = thinking[lost.end() :]
        assert named == [t.lower() for t in dict.fromkeys(row["rejected"])]
        candidates = table.candidates(history)
        words = {table.answers[i].upper() for i in candidates}
        groups = len(np.unique(table.row(guess)[candidates]))
        if not history:
            n, named, claimed_groups = FIRST.fullmatch(thinking).groups()
            assert (int(n), named.lower(), int(claimed_groups)) == (len(candidates), guess, groups)
            continue
        assert CLUES.match(thinking).group(1) == describe_clues(history)
        if len(candidates) == 1:
            assert ONE.search(thinking).group(1) in words
            continue
        n, named = MANY.search(thinking).groups()
        assert int(n) == len(candidates)
        assert set(named.split(", ")) <= words
        if guess.upper() in words:  # the list leads to the word played
            assert named.split(", ")[0] == guess.upper()
        word, verdict, claimed_groups = CHOICE.search(thinking).groups()
        assert word.lower() == guess and int(claimed_groups) == groups
        assert (verdict == "fits every clue") == is_consistent(guess, history)


def test_traces_earn_full_format_and_feedback_rewards(rows):
    completions = [row["completion"] for row in rows]
    assert format_reward(completions) == [1.0] * len(rows)
    with_history = [row for row in rows if row["history"]]
    scores = feedback_reward(
        [r["completion"] for r in with_history], history=[r["history"] for r in with_history]
    )
    assert scores == [1.0] * len(with_history)  # the hard-mode solver only plays words that fit the clues


def test_short_style_traces_are_the_solvers_word_alone_with_no_reasoning():
    config = WordleDatasetConfig(num_rows=40, prompt_style="short", rejected_share=0.4)
    short = build_trace_rows(config, SEED, progress=False)
    play = trace_player(training_table())
    for row in short:
        guess = play(as_history(row["history"]))
        assert row["completion"] == [{"role": "assistant", "content": f"<guess>{guess.upper()}</guess>"}]
    assert any(row["rejected"] for row in short)  # after lost turns too: the word, no excuse
    assert format_reward([row["completion"] for row in short], prompt_style=["short"] * 40) == [1.0] * 40
    # The same states and words as the reasoned traces: only the answer's shape differs.
    reasoned = build_trace_rows(replace(config, prompt_style="compact"), SEED, progress=False)
    assert [parse_completion(r["completion"]).word for r in reasoned] == [
        parse_completion(r["completion"]).word for r in short
    ]


def test_own_game_traces_in_the_short_style_are_the_word_alone():
    records = play_games(player_of_soare, own_game_secrets(2, seed=3))
    rows = own_game_trace_rows(records, prompt_style="short")
    assert rows and all(re.fullmatch(r"<guess>[A-Z]{5}</guess>", r["completion"][0]["content"]) for r in rows)
    assert all(r["prompt"][0]["content"].endswith("<guess>ABCDE</guess>") for r in rows)


def test_traces_are_deterministic_and_use_training_answers_only(rows):
    assert build_trace_rows(CONFIG, SEED, progress=False) == rows
    assert not {row["secret"] for row in rows} & set(answer_split()["test"])
    with pytest.raises(ValueError, match="train"):
        build_trace_rows(WordleDatasetConfig(num_rows=4, split="test"), progress=False)


def test_no_trace_names_or_plays_a_held_out_answer(rows):
    held_out = {word.upper() for word in answer_split()["test"]}
    named = [set(re.findall(r"\b[A-Z]{5}\b", row["completion"][0]["content"])) for row in rows]
    assert not set().union(*named) & held_out
    assert all(parse_completion(row["completion"]).word.upper() not in held_out for row in rows)
    # With every answer still possible, some of these states would have named one.
    table = default_table()
    candidates = [table.candidates(as_history(row["history"])) for row in rows if row["history"]]
    assert any({table.answers[i].upper() for i in found} & held_out for found in candidates)


def test_every_warm_up_trace_fits_the_cpu_grpo_presets_completion_cap():
    from dataclasses import replace

    from transformers import AutoTokenizer

    from rft.training.policy import embedded_model_dir
    from rft.training.presets import get_preset

    tokenizer = AutoTokenizer.from_pretrained(embedded_model_dir())
    warm_up = get_preset("cpu-smollm2-wordle-sft")
    traces = build_trace_rows(replace(warm_up.dataset, num_rows=300), warm_up.seed, progress=False)
    longest = max(len(tokenizer(row["completion"][0]["content"]).input_ids) + 1 for row in traces)
    assert 128 < longest <= get_preset("cpu-smollm2-wordle").trainer_args["max_completion_length"]


def test_every_warm_up_trace_fits_the_qwen_cpu_presets_cap_in_qwens_own_tokens():
    from dataclasses import replace

    from transformers import AutoTokenizer

    from rft.runtime import default_cache_dir
    from rft.training.presets import get_preset
    from rft.weights import QWEN_CODER_05B

    folder = default_cache_dir() / "models" / QWEN_CODER_05B.name
    if not (folder / "tokenizer_config.json").is_file():
        pytest.skip("the Qwen 0.5B is not in the cache (rft fetches it on first use)")
    tokenizer = AutoTokenizer.from_pretrained(folder)
    warm_up = get_preset("cpu-qwen2.5-coder-0.5b-wordle-sft")
    traces = build_trace_rows(replace(warm_up.dataset, num_rows=300), warm_up.seed, progress=False)
    longest = max(len(tokenizer(row["completion"][0]["content"]).input_ids) + 1 for row in traces)
    assert longest <= get_preset("cpu-qwen2.5-coder-0.5b-wordle").trainer_args["max_completion_length"]


def longest_answer_tag(tokenizer) -> int:
    """Tokens of the longest short-style answer over every allowed word, the end of turn included."""
    from rft.wordle.words import allowed_words

    tags = [f"<guess>{word.upper()}</guess>" for word in allowed_words()]
    return max(len(ids) for ids in tokenizer(tags, add_special_tokens=False).input_ids) + 1


def test_every_short_answer_fits_the_short_presets_cap_in_smollm2s_tokens():
    from transformers import AutoTokenizer

    from rft.training.policy import embedded_model_dir
    from rft.training.presets import get_preset

    longest = longest_answer_tag(AutoTokenizer.from_pretrained(embedded_model_dir()))
    assert longest == 12 <= get_preset("cpu-smollm2-wordle-short").trainer_args["max_completion_length"]


def test_every_short_answer_fits_the_qwen_short_presets_cap_in_qwens_own_tokens():
    from transformers import AutoTokenizer

    from rft.runtime import default_cache_dir
    from rft.training.presets import get_preset
    from rft.weights import QWEN_CODER_05B

    folder = default_cache_dir() / "models" / QWEN_CODER_05B.name
    if not (folder / "tokenizer_config.json").is_file():
        pytest.skip("the Qwen 0.5B is not in the cache (rft fetches it on first use)")
    longest = longest_answer_tag(AutoTokenizer.from_pretrained(folder))
    assert (
        longest
        == 11
        <= get_preset("cpu-qwen2.5-coder-0.5b-wordle-short").trainer_args["max_completion_length"]
    )


def test_traces_teach_the_solvers_opening(rows):
    assert {parse_completion(row["completion"]).word for row in rows if not row["history"]} == {"soare"}


def test_some_traces_follow_lost_turns_and_still_play_the_solvers_word(rows):
    after = [row for row in rows if row["rejected"]]
    assert 10 < len(after) < 60
    assert all(parse_completion(row["completion"]).word for row in after)


def test_traces_play_the_hard_mode_solvers_word_on_the_training_answers():
    play = trace_player(training_table())
    for row in build_trace_rows(CONFIG, SEED, progress=False):
        history = as_history(row["history"])
        guess = parse_completion(row["completion"]).word
        assert guess == play(history) and is_consistent(guess, history)


def test_own_game_traces_answer_every_state_the_player_met_with_the_trace_players_word():
    secrets = own_game_secrets(3, seed=1)
    assert len(set(secrets)) == 3 and not set(secrets) & set(answer_split()["test"])
    runaway = "<guess>" + "Z" * 40 + "</guess>"
    script = iter(
        [["<guess>SOARE</guess>"] * 3, ["<guess>BELL</guess>", "", runaway]]
        + [["<guess>BELL</guess>"] * 3] * 4
    )
    shown = []

    def player(states):
        shown.extend(states)
        return next(script)[: len(states)]

    records = play_games(player, secrets)
    rows = own_game_trace_rows(records, prompt_style="compact")
    assert len(rows) == len(shown) == 18
    assert sorted(str(r["prompt"]) for r in rows) == sorted(str(s.messages("compact")) for s in shown)
    assert format_reward([r["completion"] for r in rows]) == [1.0] * 18
    later = [r for r in rows if r["history"]]
    assert (
        feedback_reward([r["completion"] for r in later], history=[r["history"] for r in later]) == [1.0] * 15
    )
    texts = [r["completion"][0]["content"] for r in rows if r["rejected"]]
    assert any(t.startswith("<think>\nBELL was not accepted: it has 4 letters") for t in texts)
    assert any("A turn was lost to an answer with no guess tag." in t for t in texts)
    assert any("ZZZZZZZZZZZZ… was not accepted" in t and "Z" * 13 not in t for t in texts)
    with pytest.raises(ValueError, match="held-out"):
        own_game_trace_rows(play_games(player_of_soare, [answer_split()["test"][0]]))


def player_of_soare(states):
    return ["<guess>SOARE</guess>"] * len(states)
