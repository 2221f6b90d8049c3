import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rft.wordle.dataset import answer_split
from rft.wordle.game import consistent_mask, feedback, is_consistent
from rft.wordle.play import play_game
from rft.wordle.solver import (
    FIRST_GUESS,
    EntropySolver,
    PatternTable,
    default_table,
    entropy_bits,
    history_for,
    random_consistent_policy,
    random_valid_policy,
)
from rft.wordle.words import allowed_words, answer_words, encode_words


def reference_entropy(values) -> float:
    counts = np.unique(values, return_counts=True)[1]
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())


@pytest.fixture(scope="module")
def table() -> PatternTable:
    return default_table()


def test_the_table_holds_feedback_of_every_guess_against_every_answer(table):
    assert table.codes.shape == (12972, 2315)
    rng = np.random.default_rng(0)
    for row, col in zip(rng.integers(0, 12972, 300), rng.integers(0, 2315, 300)):
        guess, answer = table.guesses[row], table.answers[col]
        assert table.codes[row, col] == sum(int(m) * 3**i for i, m in enumerate(feedback(guess, answer)))


def test_the_table_is_cached_and_a_broken_cache_is_rebuilt(tmp_path):
    guesses, answers = allowed_words()[:300], answer_words()[:120]
    built = PatternTable.load_or_build(guesses, answers, cache_dir=tmp_path, progress=False)
    (cached,) = tmp_path.glob("patterns-*.npy")
    loaded = PatternTable.load_or_build(guesses, answers, cache_dir=tmp_path, progress=False)
    assert np.array_equal(built.codes, loaded.codes)
    cached.write_bytes(b"not a numpy file")
    rebuilt = PatternTable.load_or_build(guesses, answers, cache_dir=tmp_path, progress=False)
    assert np.array_equal(built.codes, rebuilt.codes)
    other = PatternTable.load_or_build(guesses, answers[:50], cache_dir=tmp_path, progress=False)
    assert other.codes.shape == (300, 50) and len(list(tmp_path.glob("patterns-*.npy"))) == 2


def test_the_cache_folder_follows_the_environment(monkeypatch, tmp_path):
    from rft.runtime import default_cache_dir

    monkeypatch.setenv("RFT_CACHE_DIR", str(tmp_path))
    assert default_cache_dir() == tmp_path


@given(st.lists(st.integers(0, 6), min_size=1, max_size=200))
def test_entropy_matches_a_direct_count(values):
    codes = np.array([values], dtype=np.uint8)
    assert entropy_bits(codes)[0] == pytest.approx(reference_entropy(values), abs=1e-9)


def test_entropy_of_even_and_trivial_splits():
    assert entropy_bits(np.array([[0, 1], [5, 5], [0, 1]], dtype=np.uint8)).tolist() == [1.0, 0.0, 1.0]
    assert entropy_bits(np.arange(100, dtype=np.uint8)[None, :])[0] == pytest.approx(math.log2(100))


def test_candidates_and_information(table):
    history = history_for("abide", ["speed", "dealt"])
    candidates = table.candidates(history)
    words = [table.answers[i] for i in candidates]
    assert "abide" in words
    assert words == [w for w in answer_words() if is_consistent(w, history)]
    expected = reference_entropy([str(feedback("abide", w)) for w in words])
    assert table.information("abide", candidates) == pytest.approx(expected)


def test_first_guess_is_the_most_informative_opening(table):
    bits = table.information_of_all(np.arange(len(table.answers)))
    assert table.guesses[int(np.argmax(bits))] == FIRST_GUESS
    assert bits.max() == pytest.approx(5.886, abs=1e-3)


def test_solver_wins_every_held_out_answer(table):
    solver, rng = EntropySolver(table), np.random.default_rng(0)
    games = [play_game(solver, secret, rng) for secret in answer_split()["test"][:200]]
    assert all(game.is_won for game in games)
    assert np.mean([len(game.history) for game in games]) < 3.6


HARD_FAMILIES = [
    "fight light might night right sight tight wight",
    "batch catch hatch latch match patch watch",
    "bound found hound mound pound round sound wound",
    "baker caker faker maker taker waker",
    "graze grace grade grape grate grave",
]


@pytest.mark.parametrize("family", HARD_FAMILIES)
def test_hard_mode_only_plays_words_that_fit_every_clue(table, family):
    solver, rng = EntropySolver(table, hard_mode=True), np.random.default_rng(0)
    for secret in [w for w in family.split() if w in set(answer_words())]:
        game = play_game(solver, secret, rng)
        for turn in range(1, len(game.history)):
            earlier = game.history[:turn]
            assert is_consistent(game.history[turn].guess, earlier), (secret, game.history)


def test_normal_mode_spends_a_guess_to_split_a_family(table):
    # After ?IGHT is known, a consistent guess rules out one word at a time; a free guess many.
    history = history_for("wight", ["soare", "light"])
    assert EntropySolver(table)(history) not in {
        "fight",
        "might",
        "night",
        "right",
        "sight",
        "tight",
        "wight",
    }


def test_random_valid_never_repeats_a_guess():
    rng = np.random.default_rng(0)
    history = history_for("abide", ["crane"])
    assert all(random_valid_policy(history, rng) != "crane" for _ in range(200))
    assert all(random_valid_policy((), rng) in set(allowed_words()) for _ in range(50))


def test_random_consistent_plays_words_that_fit_every_clue():
    rng = np.random.default_rng(0)
    history = history_for("abide", ["speed", "dealt"])
    picks = {random_consistent_policy(history, rng) for _ in range(50)}
    assert len(picks) > 1
    assert all(is_consistent(word, history) for word in picks)
    assert consistent_mask(encode_words(sorted(picks)), history).all()


def test_a_contradictory_history_is_an_error():
    history = history_for("abide", ["speed"]) + history_for("crane", ["speed"])
    with pytest.raises(ValueError, match="contradicts"):
        EntropySolver()(history)
    with pytest.raises(ValueError, match="contradicts"):
        random_consistent_policy(history, np.random.default_rng(0))


@pytest.mark.slow
def test_solver_wins_every_answer_in_six(table):
    solver, rng = EntropySolver(table), np.random.default_rng(0)
    lengths = [len(play_game(solver, secret, rng).history) for secret in answer_words()]
    assert max(lengths) <= 6
    assert np.mean(lengths) <= 3.47
