from rft.wordle.game import ASCII_SYMBOLS, Constraints, GuessWithFeedback
from rft.wordle.prompts import (
    ANSWER_PLACEHOLDER,
    EXAMPLE_GUESSES,
    EXAMPLE_SECRET,
    PROMPT_STYLES,
    build_messages,
    describe_clues,
    system_prompt,
    user_prompt,
)
from rft.wordle.solver import history_for


def test_system_prompt_states_rules_legend_and_format():
    text = system_prompt()
    assert "6 guesses" in text
    assert "✔ the letter is in the word and in the right place" in text
    assert "- the letter is in the word but in a different place" in text
    assert "❌ the letter is not in the word" in text
    assert text.rstrip().endswith(
        "Respond in exactly this format, with nothing after the closing guess tag (ABCDE stands for "
        "your 5-letter word):\n"
        "<think>\nyour step-by-step reasoning about the feedback so far\n</think>\n<guess>ABCDE</guess>"
    )


def test_the_worked_example_is_a_real_game():
    text = system_prompt()
    example = history_for(EXAMPLE_SECRET, EXAMPLE_GUESSES)
    assert "Guess 1: SPEED → S(❌) P(❌) E(-) E(❌) D(-)" in text
    for i, entry in enumerate(example, start=1):
        assert f"Guess {i}: {entry.render()}" in text
    assert Constraints.from_history(example).is_satisfied_by(EXAMPLE_SECRET)
    assert (
        "Clues so far: A is in the word but not letter 3; D is in the word but not letter 1 or 5; "
        "E is in the word but not letter 2, 3 or 4; E appears exactly once; not in the word: L, P, S, T."
        in text
    )


def test_describe_clues_covers_places_counts_and_absent_letters():
    assert describe_clues([]) == "none yet."
    assert describe_clues(history_for("eerie", ["three"])) == (
        "R is letter 3; E is letter 5; E is in the word but not letter 4; E appears at least twice; "
        "not in the word: H, T."
    )


def test_user_prompt_for_a_first_guess():
    assert user_prompt([]).startswith("This is your first guess. You have 6 guesses.")


def test_user_prompt_lists_the_history_and_guesses_left():
    history = history_for("abide", ["crane", "tried"])
    text = user_prompt(history)
    assert "Guess 1: CRANE → C(❌) R(❌) A(-) N(❌) E(✔)" in text
    assert "Guess 2: TRIED → T(❌) R(❌) I(✔) E(-) D(-)" in text
    assert "You have 4 guesses left." in text
    last = history_for("abide", ["crane", "tried", "mount", "vivid", "fuzzy"])
    assert "You have 1 guess left." in user_prompt(last)


def test_user_prompt_names_what_the_game_turned_down():
    history = history_for("abide", ["crane"])
    assert "Not accepted" not in user_prompt(history) and "Not accepted" not in user_prompt([])
    text = user_prompt(history, max_guesses=6, rejected=["DICE", "", "x" * 5000])
    note = "Not accepted, each at the cost of a turn: DICE, (no guess tag), xxxxxxxxxxxx…. Guess a real"
    assert note in text and "x" * 13 not in text
    assert text.index("Guess 1: CRANE") < text.index(note) < text.index("You have 5 guesses left.")
    first = user_prompt([], max_guesses=5, rejected=["SALADY"])
    assert first.startswith("No guess has been accepted yet. You have 5 guesses.\nNot accepted")
    assert user_prompt([], max_guesses=1, rejected=["A", "B"]).startswith(
        "No guess has been accepted yet. You have 1 guess."
    )
    assert build_messages(history, rejected=["DICE"])[1]["content"] == user_prompt(history, rejected=["DICE"])


def test_ascii_symbols_change_legend_and_history_together():
    history = [GuessWithFeedback.score("crane", "abide")]
    assert "G the letter is in the word and in the right place" in system_prompt(ASCII_SYMBOLS)
    assert "CRANE → C(X) R(X) A(Y) N(X) E(G)" in user_prompt(history, ASCII_SYMBOLS)


def test_messages_are_system_then_user():
    history = history_for("abide", ["crane"])
    messages = build_messages(history)
    assert [m["role"] for m in messages] == ["system", "user"]
    assert messages[0]["content"] == system_prompt() and messages[1]["content"] == user_prompt(history)


def test_compact_style_keeps_legend_and_format_without_the_example():
    compact = system_prompt(style="compact")
    assert "✔ right place, - in the word but elsewhere, ❌ not in the word" in compact
    assert compact.endswith("</think>\n<guess>ABCDE</guess>")
    assert "Example" not in compact and len(compact) < len(system_prompt()) / 2
    assert build_messages([], style="compact")[0]["content"] == compact


def test_compact_style_spells_out_the_clues_and_full_style_leaves_them_to_the_model():
    history = history_for("abide", ["speed", "dealt"])
    compact, full = build_messages(history, style="compact")[1]["content"], user_prompt(history)
    clues = f"\nClues so far: {describe_clues(history)}"
    assert f"Guess 2: {history[1].render()}{clues}\n" in compact
    assert "Clues so far" not in full and compact.replace(clues, "") == full
    assert "Clues so far" not in build_messages([], style="compact")[1]["content"]


def test_unknown_prompt_style_is_named():
    import pytest

    with pytest.raises(ValueError, match="prompt style must be one of"):
        system_prompt(style="tiny")


def test_every_styles_placeholder_shows_five_letters_and_is_no_word_to_copy():
    from rft.wordle.words import is_allowed

    assert (
        len(ANSWER_PLACEHOLDER) == 5 and ANSWER_PLACEHOLDER.isalpha() and not is_allowed(ANSWER_PLACEHOLDER)
    )
    for style in PROMPT_STYLES:
        text = system_prompt(style=style)
        assert text.endswith("<guess>ABCDE</guess>") and "ABCDE stands for your 5-letter word" in text
        assert "WORD" not in text


def test_short_style_asks_for_the_guess_tag_alone_and_states_the_rules():
    short = system_prompt(style="short")
    assert short == (
        "You are playing Wordle: find the secret 5-letter word in at most 6 guesses, each a real word.\n"
        "Feedback on each letter: ✔ right place, - in the word but elsewhere, ❌ not in the word.\n"
        "Answer with the guess tag alone (ABCDE stands for your 5-letter word):\n"
        "<guess>ABCDE</guess>"
    )
    assert "think" not in short.lower() and len(short) < len(system_prompt(style="compact"))
    assert "4 guesses" in system_prompt(max_guesses=4, style="short")


def test_short_style_spells_out_the_clues_as_compact_does_and_never_asks_to_think():
    history = history_for("abide", ["speed", "dealt"])
    assert build_messages(history, style="short")[1] == build_messages(history, style="compact")[1]
    first = build_messages([], style="short")[1]["content"]
    assert first == "This is your first guess. You have 6 guesses.\nGive your guess in the required format."
    assert "Think it through" in build_messages([], style="compact")[1]["content"]
    after_a_miss = build_messages([], style="short", rejected=["DICE"])[1]["content"]
    assert after_a_miss.endswith("Guess a real 5-letter word.\nGive your guess in the required format.")
