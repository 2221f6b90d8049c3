from collections import Counter

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rft.wordle.game import (
    ALL_CORRECT_CODE,
    ASCII_SYMBOLS,
    UNICODE_SYMBOLS,
    Constraints,
    Game,
    GuessWithFeedback,
    Mark,
    as_history,
    code_from_marks,
    consistent_mask,
    feedback,
    is_consistent,
    marks_from_code,
    pattern_codes,
)
from rft.wordle.words import allowed_words, answer_words, encode_words

A, P, C = Mark.ABSENT, Mark.PRESENT, Mark.CORRECT


def reference_feedback(guess: str, secret: str) -> tuple[Mark, ...]:
    """Written independently of the package: greens first, then yellows from what is left."""
    leftover = Counter(s for g, s in zip(guess, secret) if g != s)
    marks = []
    for g, s in zip(guess, secret):
        if g == s:
            marks.append(C)
        elif leftover[g] > 0:
            leftover[g] -= 1
            marks.append(P)
        else:
            marks.append(A)
    return tuple(marks)


def reference_code(guess: str, secret: str) -> int:
    return sum(int(m) * 3**i for i, m in enumerate(reference_feedback(guess, secret)))


words = st.sampled_from(allowed_words())
# Words over a tiny alphabet repeat letters constantly: the cases a set-based rule gets wrong.
repetitive = st.text(alphabet="aeabe", min_size=5, max_size=5)
any_word = st.one_of(words, repetitive)


@pytest.mark.parametrize(
    ("guess", "secret", "expected"),
    [
        ("speed", "abide", (A, A, P, A, P)),  # one E in the secret: only one E is marked
        ("geese", "those", (A, A, A, C, C)),  # the exact E uses up the secret's only E
        ("eerie", "there", (P, A, P, A, C)),
        ("llama", "hello", (P, P, A, A, A)),
        ("hello", "llama", (A, A, P, P, A)),
        ("abbey", "babes", (P, P, C, C, A)),
        ("crane", "rainy", (A, P, P, C, A)),
        ("crane", "crane", (C, C, C, C, C)),
        ("sassy", "essay", (P, P, C, A, C)),
        ("mamma", "maxim", (C, C, P, A, A)),
    ],
)
def test_feedback_marks_repeated_letters_once_per_copy(guess, secret, expected):
    assert feedback(guess, secret) == expected
    assert reference_feedback(guess, secret) == expected


def test_feedback_matches_the_reference_on_100k_random_pairs():
    rng = np.random.default_rng(2024)
    allowed = np.array(allowed_words())
    dictionary_pairs = [
        (str(g), str(s)) for g, s in zip(rng.choice(allowed, 60_000), rng.choice(allowed, 60_000))
    ]
    letters = np.array(list("aabbe"))
    random_pairs = ["".join(w) for w in rng.choice(letters, (80_000, 5))]
    pairs = dictionary_pairs + list(zip(random_pairs[::2], random_pairs[1::2]))
    assert len(pairs) >= 100_000
    guesses, secrets = encode_words([g for g, _ in pairs]), encode_words([s for _, s in pairs])
    ours = pattern_codes(guesses, secrets)
    expected = np.array([reference_code(g, s) for g, s in pairs])
    mismatches = np.flatnonzero(ours != expected)
    assert mismatches.size == 0, [pairs[i] for i in mismatches[:5]]


def test_pattern_codes_broadcast_to_a_matrix():
    guesses, secrets = ["crane", "speed", "llama"], ["abide", "hello", "those", "speed"]
    matrix = pattern_codes(encode_words(guesses)[:, None, :], encode_words(secrets)[None, :, :])
    assert matrix.shape == (3, 4) and matrix.dtype == np.uint8
    assert matrix.tolist() == [[reference_code(g, s) for s in secrets] for g in guesses]


@given(any_word, any_word)
def test_feedback_counts_each_letter_up_to_its_copies_in_the_secret(guess, secret):
    marks = feedback(guess, secret)
    assert [m == C for m in marks] == [g == s for g, s in zip(guess, secret)]
    for letter in set(guess):
        found = sum(1 for g, m in zip(guess, marks) if g == letter and m != A)
        assert found == min(guess.count(letter), secret.count(letter))


@given(any_word)
def test_a_word_against_itself_is_all_correct(word):
    assert feedback(word, word) == (C,) * 5
    assert GuessWithFeedback.score(word, word).is_win


def test_codes_and_marks_convert_both_ways_for_all_243_patterns():
    for code in range(ALL_CORRECT_CODE + 1):
        assert code_from_marks(marks_from_code(code)) == code
    with pytest.raises(ValueError, match=r"outside 0\.\.242"):
        marks_from_code(243)


def test_rendering_uses_the_prompt_notation():
    entry = GuessWithFeedback.score("crane", "rainy")
    assert entry.render() == "CRANE → C(❌) R(-) A(-) N(✔) E(❌)"
    assert entry.render(ASCII_SYMBOLS) == "CRANE → C(X) R(Y) A(Y) N(G) E(X)"
    assert entry.to_dict() == {"guess": "crane", "feedback": "XYYGX"}


@given(words, words)
def test_rendering_and_dicts_read_back(guess, secret):
    entry = GuessWithFeedback.score(guess, secret)
    for symbols in (UNICODE_SYMBOLS, ASCII_SYMBOLS):
        assert GuessWithFeedback.parse(entry.render(symbols)) == entry
    assert GuessWithFeedback.from_dict(entry.to_dict()) == entry
    assert as_history([entry.to_dict(), entry.render(), entry]) == (entry, entry, entry)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("CRANE C(❌) R(-) A(-) N(✔) E(❌)", "rendered guess"),
        ("CRANE → C(❌) R(-) A(-) N(✔)", "exactly 5 tiles"),
        ("CRANE → C(❌) R(-) A(-) N(✔) X(❌)", "do not spell"),
        ("CRANE → C(?) R(-) A(-) N(✔) E(❌)", "unknown feedback symbols"),
        ("CRANE → C(❌) R(-) A(-) N(✔) E(❌) extra", "exactly 5 tiles"),
    ],
)
def test_parse_rejects_malformed_lines_and_says_why(line, reason):
    with pytest.raises(ValueError, match=reason):
        GuessWithFeedback.parse(line)


def test_bad_history_entries_are_named():
    with pytest.raises(ValueError, match="'feedback' must be 5 symbols"):
        as_history([{"guess": "crane", "feedback": "XY"}])
    with pytest.raises(ValueError, match="not a single string"):
        as_history("CRANE → C(❌) R(-) A(-) N(✔) E(❌)")
    with pytest.raises(ValueError, match="'cr4ne'"):
        as_history([{"guess": "cr4ne", "feedback": "XXXXX"}])


def test_constraints_of_speed_against_abide():
    history = [GuessWithFeedback.score("speed", "abide")]
    constraints = Constraints.from_history(history)
    assert constraints.min_counts == {"e": 1, "d": 1}
    assert constraints.max_counts == {"s": 0, "p": 0, "e": 1}
    described = [check.describe() for check in constraints.checks()]
    assert described == [
        "E is not letter 3",
        "E is not letter 4",
        "D is not letter 5",
        "the word has at least 1 D",
        "the word has at least 1 E",
        "the word has at most 1 E",
        "the word has no P",
        "the word has no S",
    ]


@given(st.sampled_from(answer_words()), st.lists(words, min_size=1, max_size=4), st.lists(words, max_size=30))
def test_constraints_hold_exactly_for_words_consistent_with_the_history(secret, guesses, probes):
    history = [GuessWithFeedback.score(g, secret) for g in guesses]
    constraints = Constraints.from_history(history)
    assert is_consistent(secret, history) and constraints.is_satisfied_by(secret)
    for word in probes:
        assert constraints.is_satisfied_by(word) == is_consistent(word, history)
        assert is_consistent(word, history) == all(feedback(e.guess, word) == e.marks for e in history)


def test_consistent_mask_filters_a_word_array():
    history = [GuessWithFeedback.score("crane", "rainy")]
    candidates = ["rainy", "crane", "briny", "rainy"]
    assert consistent_mask(encode_words(candidates), history).tolist() == [True, False, False, True]


def test_game_counts_turns_and_refuses_unknown_words_without_using_a_turn():
    game = Game("ABIDE")
    with pytest.raises(ValueError, match=r"'qzxvw'.*allowed"):
        game.guess("qzxvw")
    assert game.guesses_left == 6
    assert game.guess("speed").marks == (A, A, P, A, P)
    assert not game.is_over
    game.guess("abide")
    assert game.is_won and game.is_over and game.guesses_left == 4
    with pytest.raises(ValueError, match="over"):
        game.guess("crane")


def test_game_ends_after_six_misses():
    game = Game("abide")
    for word in ["crane", "slate", "mount", "vivid", "fuzzy", "speed"]:
        game.guess(word)
    assert game.is_over and not game.is_won
    with pytest.raises(ValueError, match="max_guesses"):
        Game("abide", max_guesses=0)
