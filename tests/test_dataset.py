import hashlib
import json

import pytest

from rft.wordle.dataset import (
    HISTORY_PLAYERS,
    WordleDatasetConfig,
    answer_split,
    build_dataset,
    build_rows,
    check_rows,
    own_game_rows,
)
from rft.wordle.game import GuessWithFeedback, as_history
from rft.wordle.play import play_games
from rft.wordle.prompts import build_messages
from rft.wordle.solver import EntropySolver
from rft.wordle.words import answer_words, is_allowed


@pytest.fixture(scope="module")
def rows():
    return build_rows(WordleDatasetConfig(num_rows=300), seed=7, progress=False)


def test_the_answer_split_is_fixed_disjoint_and_complete():
    split = answer_split()
    assert len(split["train"]) == 2000 and len(split["test"]) == 315
    assert not set(split["train"]) & set(split["test"])
    assert set(split["train"]) | set(split["test"]) == set(answer_words())
    # Pinned: a change here silently mixes evaluation answers into training.
    assert split["test"][:5] == ("abase", "abyss", "admin", "admit", "adopt")
    digest = hashlib.sha256(" ".join(split["test"]).encode()).hexdigest()
    assert digest == "9b916be9fd32e623396e4d78a085445a724a9d74f88f69ab65c27cde379b59d0"


def test_same_seed_same_rows_other_seed_other_rows(rows):
    assert build_rows(WordleDatasetConfig(num_rows=300), seed=7, progress=False) == rows
    assert build_rows(WordleDatasetConfig(num_rows=300), seed=8, progress=False) != rows


def test_rows_are_unfinished_games_consistent_with_their_secret(rows):
    check_rows(rows)
    for row in rows:
        history = as_history(row["history"])
        assert len(history) <= 5 and not any(entry.is_win for entry in history)
        assert all(entry == GuessWithFeedback.score(entry.guess, row["secret"]) for entry in history)
        assert row["prompt"] == build_messages(history)
        assert 1 <= row["num_candidates"] <= 2315
    assert {len(row["history"]) for row in rows} >= {0, 1, 2, 3}
    assert {row["history_player"] for row in rows} == set(HISTORY_PLAYERS)


def test_training_rows_never_use_held_out_answers(rows):
    held_out = set(answer_split()["test"])
    assert not {row["secret"] for row in rows} & held_out
    test_rows = build_rows(WordleDatasetConfig(num_rows=50, split="test"), seed=1, progress=False)
    assert {row["secret"] for row in test_rows} <= held_out


def test_secrets_are_not_repeated_before_every_answer_is_used(rows):
    assert len({row["secret"] for row in rows}) == len(rows)


def test_rows_are_json_serialisable(rows):
    assert json.loads(json.dumps(rows)) == rows


def test_build_dataset_gives_typed_columns():
    dataset = build_dataset(num_rows=12, seed=3, max_history=0, progress=False)
    assert dataset.column_names == [
        "prompt",
        "secret",
        "history",
        "rejected",
        "history_player",
        "num_candidates",
        "prompt_style",
    ]
    assert set(dataset["prompt_style"]) == {"full"}
    assert all(history == [] for history in dataset["history"])
    assert dataset[0]["prompt"][0]["role"] == "system"
    again = build_dataset(WordleDatasetConfig(num_rows=12), seed=3, max_history=0, progress=False)
    assert again.to_list() == dataset.to_list()


def test_min_history_is_a_real_minimum_even_where_a_random_player_draws_the_secret():
    # Row 310 of these (seed 8) draws CHASM, and the random consistent player opens with CHASM:
    # without a stand-in for the winning guess it would be an empty board.
    config = WordleDatasetConfig(
        num_rows=320, history_players=("random-consistent",), min_history=1, max_history=1
    )
    rows = build_rows(config, seed=8, progress=False)
    check_rows(rows)
    assert rows[310]["secret"] == "chasm" and rows[310]["history"][0]["guess"] != "chasm"
    assert {len(row["history"]) for row in rows} == {1}


def test_short_style_rows_carry_their_style_for_the_format_reward():
    config = WordleDatasetConfig(num_rows=8, prompt_style="short", min_history=1)
    rows = build_rows(config, seed=5, progress=False)
    assert {row["prompt_style"] for row in rows} == {"short"}
    for row in rows:
        assert row["prompt"] == build_messages(as_history(row["history"]), style="short")


def test_history_player_weights_choose_the_player():
    rows = build_rows(
        WordleDatasetConfig(
            num_rows=20, history_players={"solver": 0, "random-consistent": 1, "random-valid": 0}
        ),
        seed=2,
        progress=False,
    )
    assert {row["history_player"] for row in rows} == {"random-consistent"}


def test_solver_rows_play_the_solvers_own_guesses():
    config = WordleDatasetConfig(num_rows=24, history_players=("solver",), min_history=2)
    solver = EntropySolver()
    for row in build_rows(config, seed=4, progress=False):
        history = as_history(row["history"])
        assert history[0].guess == "soare" and row["history_player"] == "solver"
        for turn, entry in enumerate(history):
            assert entry.guess == solver(history[:turn])


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"num_rows": 0}, "num_rows"),
        ({"split": "validation"}, "split"),
        ({"history_players": ("solver", "oracle")}, "unknown player 'oracle'"),
        ({"history_players": ()}, "history_players"),
        ({"min_history": 3, "max_history": 2}, "min_history"),
        ({"max_history": 6}, "max_history"),
        ({"history_players": {"solver": -1.0}}, "the weight of 'solver' must be a number >= 0"),
        ({"history_players": {"solver": 0.0, "random-valid": 0.0}}, "must not all be zero"),
        ({"rejected_share": 1.5}, "rejected_share"),
        ({"rejected_share": "half"}, "rejected_share"),
    ],
)
def test_bad_config_names_the_field(overrides, field):
    with pytest.raises(ValueError, match=field):
        WordleDatasetConfig(**overrides)


def test_check_rows_names_the_bad_row(rows):
    good = rows[:3]
    wrong_feedback = {**rows[0], "secret": "abide", "history": [{"guess": "crane", "feedback": "GGGGX"}]}
    with pytest.raises(ValueError, match=r"row 3: guess 1 \(CRANE → .*\) is not the feedback"):
        check_rows([*good, wrong_feedback])
    won = {**rows[0], "secret": "abide", "history": [{"guess": "abide", "feedback": "GGGGG"}]}
    with pytest.raises(ValueError, match="row 1: the game is already won"):
        check_rows([good[0], won])
    with pytest.raises(ValueError, match="row 0: missing column 'secret'"):
        check_rows([{"prompt": [], "history": []}])
    with pytest.raises(ValueError, match="row 0: 'ab' is not a Wordle word"):
        check_rows([{"prompt": [], "history": [], "secret": "ab"}])
    with pytest.raises(ValueError, match="row 0: rejected answer 'CRANE' is an allowed word"):
        check_rows([{**rows[0], "rejected": ["CRANE"]}])
    four = [GuessWithFeedback.score(word, "abide").to_dict() for word in ("crane", "moist", "plumb", "fight")]
    five = {**rows[0], "secret": "abide", "history": four}
    with pytest.raises(ValueError, match="row 0: 4 guesses and 2 lost turns already played"):
        check_rows([{**five, "rejected": ["CRAN", "CRAN"]}])


@pytest.fixture(scope="module")
def rows_after_lost_turns():
    return build_rows(WordleDatasetConfig(num_rows=200, rejected_share=0.5), seed=7, progress=False)


def test_lost_turns_change_prompts_only_never_the_histories(rows, rows_after_lost_turns):
    check_rows(rows_after_lost_turns)
    assert all(row["rejected"] == [] for row in rows)
    for plain, row in zip(rows, rows_after_lost_turns):
        assert (row["secret"], row["history"], row["history_player"]) == (
            plain["secret"],
            plain["history"],
            plain["history_player"],
        )
        if not row["rejected"]:
            assert row == plain
    share = sum(bool(row["rejected"]) for row in rows_after_lost_turns) / len(rows_after_lost_turns)
    assert 0.3 < share < 0.6  # a state five guesses in has no turn to lose


def test_lost_turns_look_like_a_small_models_misses(rows_after_lost_turns):
    texts = [text for row in rows_after_lost_turns for text in row["rejected"]]
    assert not any(is_allowed(text) for text in texts)
    assert {len(text) for text in texts} == {0, 4, 5, 6}
    counts = {len(row["rejected"]) for row in rows_after_lost_turns}
    assert counts == {0, 1, 2}
    assert any(
        row["rejected"][0] == row["rejected"][-1]
        for row in rows_after_lost_turns
        if len(row["rejected"]) == 2
    )
    assert all(len(row["history"]) + len(row["rejected"]) <= 5 for row in rows_after_lost_turns)


def test_a_row_after_lost_turns_shows_the_prompt_a_game_in_play_shows(rows_after_lost_turns):
    for row in [row for row in rows_after_lost_turns if row["rejected"]][:12]:
        answers = [f"<guess>{entry['guess']}</guess>" for entry in row["history"]]
        answers += [f"<guess>{text}</guess>" if text else "no tags at all" for text in row["rejected"]]
        seen = []

        def player(states, answers=answers, seen=seen, secret=row["secret"]):
            seen.append(states[0])
            return [answers[len(seen) - 1] if len(seen) <= len(answers) else f"<guess>{secret}</guess>"]

        play_games(player, [row["secret"]])
        assert seen[len(answers)].messages() == row["prompt"]


def test_own_game_rows_show_each_state_as_the_game_showed_it_lost_turns_counted():
    secrets = list(answer_split()["train"][:2])
    script = iter([["<guess>TONKER</guess>"] * 2, ["<guess>SOARE</guess>", "<guess>TONKER</guess>"]])
    shown = []

    def player(states):
        shown.extend(states)
        return next(script, ["<guess>SOARE</guess>"] * len(states))[: len(states)]

    records = play_games(player, secrets)
    rows = own_game_rows(records, prompt_style="compact")
    assert len(rows) == len(shown) == sum(len(record.turns) for record in records)
    assert sorted(str(r["prompt"]) for r in rows) == sorted(str(s.messages("compact")) for s in shown)
    check_rows(rows)
    # A game that lost its first turn, then guessed: one turn fewer than its history alone leaves.
    assert any(len(s.history) == 1 and not s.rejected and s.turns_left == 4 for s in shown)
    assert all(r["history_player"] == "own-games" for r in rows)
    with pytest.raises(ValueError, match="held-out"):
        own_game_rows(play_games(player, [answer_split()["test"][0]]))


def test_own_game_rows_keep_each_state_once_with_its_lost_turns_named():
    secrets = list(answer_split()["train"][:2])
    script = iter([["<guess>TONKER</guess>"] * 2, ["<guess>SOARE</guess>"] * 2])

    def player(states):
        return next(script, ["<guess>SOARE</guess>"] * len(states))[: len(states)]

    records = play_games(player, secrets)
    rows = own_game_rows(records)
    assert len(rows) == sum(len(record.turns) for record in records)
    after_lost = [row for row in rows if row["rejected"]]
    assert [row["rejected"] for row in after_lost] == [["TONKER"], ["TONKER"]]  # both lost their first turn
