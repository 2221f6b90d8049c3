import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rft.wordle.game import is_consistent
from rft.wordle.prompts import PROMPT_STYLES
from rft.wordle.rewards import (
    DEFAULT_REWARD_WEIGHTS,
    GAME_ONLY_REWARDS,
    REWARD_FUNCTIONS,
    feedback_reward,
    format_reward,
    guess_value_reward,
    novelty_reward,
    parse_completion,
    select_rewards,
    win_reward,
)
from rft.wordle.solver import default_table, entropy_bits, history_for
from rft.wordle.words import allowed_words, answer_words

SPEED_DEALT = [e.to_dict() for e in history_for("abide", ["speed", "dealt"])]
ALLOWED = frozenset(allowed_words())


def answer(word: str, reasoning: str = "E is in the word.") -> str:
    return f"<think>\n{reasoning}\n</think>\n<guess>{word}</guess>"


@pytest.mark.parametrize(
    ("completion", "expected"),
    [
        (answer("crane"), 1.0),
        (answer("CRANE"), 1.0),
        ("  <think>ok</think><guess> crane </guess>\n", 1.0),
        (answer("qzxvw"), 0.75),  # five letters, not a word
        (answer("cranes"), 0.5),  # exact shape, not five letters
        (answer("cr4ne"), 0.5),
        ("<guess>crane</guess>", 0.75),  # no reasoning block
        ("<think></think><guess>crane</guess>", 0.75),  # empty reasoning
        (answer("crane") + " Good luck!", 0.75),  # text after the guess
        (answer("crane") + answer("slate"), 0.75),  # two answers: the last guess counts
        ("<think>a <guess>x</guess> b</think><guess>crane</guess>", 0.75),  # nested guess tag
        ("<guess>abc</guess>", 0.25),
        ("<think>I think crane</think>", 0.125),
        ("I guess CRANE", 0.0),
        ("<guess>crane", 0.0),
        ("", 0.0),
    ],
)
def test_format_reward_scale(completion, expected):
    assert format_reward([completion]) == [expected]


@pytest.mark.parametrize(
    ("completion", "expected"),
    [
        ("<guess>CRANE</guess>", 1.0),  # the whole answer the short style asks for
        ("  <guess> crane </guess>\n", 1.0),
        ("<guess>QZXVW</guess>", 0.75),  # five letters, not a word
        ("<guess>ABCDE</guess>", 0.75),  # the prompt's placeholder copied: turned down in play
        ("<guess>CRANES</guess>", 0.5),  # exact shape, not five letters
        ("<guess>abc</guess>", 0.5),
        (answer("crane"), 0.75),  # reasoning the style does not ask for
        ("<think></think><guess>crane</guess>", 0.75),
        ("Sure! <guess>CRANE</guess>", 0.75),  # text before the tag
        ("<guess>CRANE</guess> Good luck!", 0.75),  # text after it
        ("<guess>slate</guess><guess>crane</guess>", 0.75),  # two answers: the last counts
        ("<guess><guess>crane</guess>", 0.75),
        ("<think>I think crane</think>", 0.0),  # no guess, and a think block is not asked for
        ("CRANE", 0.0),
        ("<guess>crane", 0.0),
        ("", 0.0),
    ],
)
def test_format_reward_scale_in_the_short_style(completion, expected):
    assert format_reward([completion], prompt_style=["short"]) == [expected]


def test_format_reward_pays_each_row_for_its_own_styles_shape():
    tag, thought = "<guess>CRANE</guess>", answer("CRANE")
    styles = ["short", "full", "compact", "short"]
    assert format_reward([tag, tag, tag, thought], prompt_style=styles) == [1.0, 0.75, 0.75, 0.75]
    assert format_reward([thought, thought], prompt_style=["full", "compact"]) == [1.0, 1.0]
    # Without the column (rows built before it, a single text): the full style's shape.
    assert format_reward([tag, thought]) == [0.75, 1.0]
    with pytest.raises(ValueError, match="column 'prompt_style' holds 'tiny', not one of"):
        format_reward([tag], prompt_style=["tiny"])
    with pytest.raises(ValueError, match="column 'prompt_style' must hold one value per completion"):
        format_reward([tag, tag], prompt_style=["short"])


def test_the_other_rewards_read_the_short_answers_word_as_they_read_a_reasoned_one():
    words = ["abide", "crane", "adieu", "dealt", "qzxvw", "toolong"]
    short = [f"<guess>{word.upper()}</guess>" for word in words]
    reasoned = [answer(word) for word in words]
    n = len(words)
    columns = {"secret": ["abide"] * n, "history": [SPEED_DEALT] * n, "rejected": [["qzxvw"]] * n}
    for name in ("feedback", "guess_value", "novelty"):
        reward = REWARD_FUNCTIONS[name]
        assert reward(short, prompt_style=["short"] * n, **columns) == reward(reasoned, **columns), name
    assert feedback_reward(short, history=[SPEED_DEALT] * n) == [1.0, 12 / 14, 13 / 14, 0.0, 0.0, 0.0]
    assert novelty_reward(short, history=[SPEED_DEALT] * n, rejected=[["qzxvw"]] * n) == [1, 1, 1, 0, 0, 1]


def test_conversational_completions_score_like_text():
    text = answer("crane")
    as_messages = [{"role": "assistant", "content": text}]
    as_parts = [{"role": "assistant", "content": [{"type": "text", "text": text}]}]
    assert format_reward([text, as_messages, as_parts]) == [1.0, 1.0, 1.0]


def test_parse_reads_the_last_guess_in_lowercase():
    parsed = parse_completion("<guess>slate</guess> no, <guess> CRANE </guess>")
    assert parsed.word == "crane" and parsed.guess_block == "CRANE" and not parsed.exact_shape
    assert parse_completion("<guess>crâne</guess>").word is None


def test_feedback_reward_counts_respected_clues():
    # SPEED and DEALT against ABIDE leave 14 clues (see Constraints.checks); CRANE breaks two:
    # A may not be letter 3, and the word must contain a D. ADIEU breaks one: E is not letter 4.
    completions = [answer("abide"), answer("crane"), answer("adieu"), "no guess", answer("toolong")]
    assert feedback_reward(completions, history=[SPEED_DEALT] * 5) == [1.0, 12 / 14, 13 / 14, 0.0, 0.0]
    assert not is_consistent("adieu", history_for("abide", ["speed", "dealt"]))


def test_feedback_reward_without_history_is_small_and_neutral():
    assert feedback_reward([answer("crane"), "nothing"], history=[[], []]) == [0.1, 0.0]


def test_feedback_reward_pays_nothing_for_a_made_up_word():
    # ABIDX keeps most clues SPEED and DEALT give against ABIDE, but no game would accept it.
    completions = [answer("abidx"), answer("qzxvw"), answer("abide")]
    assert feedback_reward(completions, history=[SPEED_DEALT] * 3) == [0.0, 0.0, 1.0]
    assert feedback_reward([answer("qzxvw")], history=[[]]) == [0.0]


def test_feedback_reward_pays_nothing_for_a_word_already_guessed():
    # DEALT keeps every clue but its own (D, E and A are not where DEALT put them); it was played.
    completions = [answer("dealt"), answer("SPEED"), answer("abide")]
    assert feedback_reward(completions, history=[SPEED_DEALT] * 3) == [0.0, 0.0, 1.0]


def test_novelty_reward_takes_back_replays_and_turned_down_answers_written_again():
    # DEALT was guessed; CRANX and an answer with no guess tag were turned down since.
    completions = [answer("dealt"), answer("CRANX"), "no tag again", answer("abide"), answer("cranx ")]
    scores = novelty_reward(completions, history=[SPEED_DEALT] * 5, rejected=[["cranx", ""]] * 5)
    assert scores == [0.0, 0.0, 0.0, 1.0, 0.0]
    # Without lost turns (or without the column) only replays are taken back.
    assert novelty_reward([answer("cranx"), "no tag"], history=[SPEED_DEALT] * 2) == [1.0, 1.0]
    assert novelty_reward([answer("speed")], history=[SPEED_DEALT], rejected=[[]]) == [0.0]
    with pytest.raises(ValueError, match="column 'rejected' holds 'cranx'"):
        novelty_reward([answer("crane")], history=[[]], rejected=["cranx"])


def test_feedback_reward_accepts_histories_in_every_form():
    history = history_for("abide", ["speed", "dealt"])
    forms = [SPEED_DEALT, list(history), [e.render() for e in history]]
    assert feedback_reward([answer("crane")] * 3, history=forms) == [12 / 14] * 3


def test_guess_value_reward_scale():
    table = default_table()
    candidates = table.candidates(history_for("abide", ["speed", "dealt"]))
    n = len(candidates)
    expected_crane = table.information("crane", candidates) / math.log2(n)
    completions = [answer("abide"), answer("ABIDE"), answer("crane"), answer("qzxvw"), "none"]
    scores = guess_value_reward(completions, secret=["abide"] * 5, history=[SPEED_DEALT] * 5)
    assert scores == [1.0, 1.0, pytest.approx(expected_crane), 0.0, 0.0]
    assert 0 < scores[2] < 1


def test_guess_value_reward_is_one_for_a_guess_that_separates_every_candidate():
    table = default_table()
    history = history_for("wight", ["soare", "light"])
    candidates = table.candidates(history)
    words = [table.answers[i] for i in candidates]
    assert "wight" in words and len(words) > 2
    bits = table.information_of_all(candidates)
    best = table.guesses[int(bits.argmax())]
    expected = bits.max() / math.log2(len(words))
    dicts = [e.to_dict() for e in history]
    assert guess_value_reward([answer(best)], secret=["wight"], history=[dicts]) == [pytest.approx(expected)]
    # the first guess of a game: SOARE is the best opening, 5.886 of log2(2315) = 11.18 bits
    opening = guess_value_reward([answer("soare")], secret=["abide"], history=[[]])[0]
    assert opening == pytest.approx(
        entropy_bits(table.codes[[table.guess_index["soare"]]])[0] / math.log2(2315)
    )


def test_guess_value_reward_with_one_answer_left():
    history = [e.to_dict() for e in history_for("abide", ["speed", "dealt", "aside"])]
    assert len(default_table().candidates(history_for("abide", ["speed", "dealt", "aside"]))) == 1
    scores = guess_value_reward(
        [answer("abide"), answer("crane")], secret=["abide"] * 2, history=[history] * 2
    )
    assert scores == [1.0, 0.0]


def test_missing_or_misshapen_columns_are_named():
    with pytest.raises(ValueError, match="'history' column"):
        feedback_reward([answer("crane")])
    with pytest.raises(ValueError, match="'secret' column"):
        guess_value_reward([answer("crane")], history=[[]])
    with pytest.raises(ValueError, match="column 'history' must hold one value per completion"):
        feedback_reward([answer("crane"), answer("slate")], history=[[]])
    with pytest.raises(ValueError, match="'feedback' must be 5 symbols"):
        feedback_reward([answer("crane")], history=[[{"guess": "crane", "feedback": "??"}]])


def test_select_rewards_by_name_with_weights():
    functions, weights = select_rewards()
    # Each is the single-turn reward, taught to pay a whole game the mean of its turns.
    assert [f.__wrapped__ for f in functions] == [format_reward, feedback_reward, guess_value_reward]
    assert [f.__name__ for f in functions] == ["format_reward", "feedback_reward", "guess_value_reward"]
    assert weights == list(DEFAULT_REWARD_WEIGHTS.values())
    functions, weights = select_rewards({**DEFAULT_REWARD_WEIGHTS, "novelty": 0.25})
    assert functions[-1].__wrapped__ is novelty_reward and weights[-1] == 0.25
    functions, weights = select_rewards({"guess_value": 2, "format": 0.5})
    assert [f.__wrapped__ for f in functions] == [format_reward, guess_value_reward] and weights == [0.5, 2.0]
    functions, weights = select_rewards({"format": 1, "win": 2})
    assert functions[-1] is win_reward and weights == [1.0, 2.0]
    with pytest.raises(ValueError, match="unknown reward 'lenght'"):
        select_rewards({"lenght": 1.0})
    with pytest.raises(ValueError, match="'format' must be a finite number >= 0"):
        select_rewards({"format": -1})
    with pytest.raises(ValueError, match="'format' must be a finite number >= 0"):
        select_rewards({"format": float("nan")})
    with pytest.raises(ValueError, match="at least one reward weight must be positive"):
        select_rewards({"format": 0})


# --- totality: any text gets a float in [0, 1] -------------------------------------------------

TAGS = ["<think>", "</think>", "<guess>", "</guess>", "<GUESS>", "<think >", "</guess", "<", ">", "/"]
WORDISH = [
    "crane",
    "CRANE",
    "abide",
    "qzxvw",
    "cr4ne",
    "crâne",
    "ａｂｃｄｅ",
    "",
    " ",
    "\n",
    "\t",
    "🙂",
    "\x00",
]
fragment = st.one_of(st.sampled_from(TAGS + WORDISH), st.sampled_from(allowed_words()), st.text(max_size=12))
structured = st.lists(fragment, max_size=25).map("".join)
well_formed = st.builds(
    lambda reasoning, word: answer(word, reasoning),
    st.text(max_size=40),
    st.one_of(st.sampled_from(allowed_words()), st.text(max_size=8)),
)
text = st.one_of(st.text(), structured, well_formed)
completion = st.one_of(text, text.map(lambda t: [{"role": "assistant", "content": t}]))
histories = st.sampled_from(
    [
        [],
        SPEED_DEALT,
        [e.to_dict() for e in history_for("eerie", ["three", "there"])],
        history_for("wight", ["light"]),
    ]
)
secrets = st.sampled_from(["abide", "eerie", "wight", *answer_words()[:50]])


def assert_scores(scores, count):
    assert len(scores) == count
    assert all(isinstance(s, float) and math.isfinite(s) and 0.0 <= s <= 1.0 for s in scores)


short_answer = st.one_of(st.sampled_from(allowed_words()), st.text(max_size=8)).map(
    lambda word: f"<guess>{word}</guess>"
)


@settings(max_examples=10_000)
@given(st.one_of(completion, short_answer), st.sampled_from([None, *PROMPT_STYLES]))
def test_format_reward_is_total(c, style):
    assert_scores(format_reward([c], prompt_style=None if style is None else [style]), 1)


@settings(max_examples=2_000)
@given(st.one_of(text, short_answer))
def test_in_the_short_style_only_the_guess_tag_alone_with_an_allowed_word_earns_full_format(c):
    (score,) = format_reward([c], prompt_style=["short"])
    parsed = parse_completion(c)
    assert (score == 1.0) == (parsed.tag_only and parsed.word is not None and parsed.word in ALLOWED)
    assert score <= format_reward([c])[0] or parsed.tag_only  # only the bare tag earns more than in full


@settings(max_examples=10_000)
@given(completion, histories)
def test_feedback_reward_is_total(c, history):
    assert_scores(feedback_reward([c], history=[history]), 1)


@settings(max_examples=10_000)
@given(completion, secrets, histories)
def test_guess_value_reward_is_total(c, secret, history):
    assert_scores(guess_value_reward([c], secret=[secret], history=[history]), 1)


@settings(max_examples=10_000)
@given(completion, histories, st.lists(st.one_of(text, st.sampled_from(WORDISH)), max_size=3))
def test_novelty_reward_is_total(c, history, rejected):
    assert_scores(novelty_reward([c], history=[history], rejected=[rejected]), 1)


@pytest.mark.parametrize(
    "huge",
    [
        "<guess>" * 300_000,
        "</guess>" * 300_000,
        "<think>" * 200_000 + "</think><guess>crane</guess>",
        "x" * 3_000_000 + "<guess>crane</guess>",
        "🙂" * 1_000_000,
        ("<think><guess>" * 100_000) + "</guess></think>" * 100_000,
    ],
)
def test_megabyte_completions_are_scored(huge):
    for name, reward in REWARD_FUNCTIONS.items():
        for style in PROMPT_STYLES:
            if name not in GAME_ONLY_REWARDS:
                assert_scores(
                    reward([huge], secret=["abide"], history=[SPEED_DEALT], prompt_style=[style]), 1
                )
            turns = [{"text": huge, "history": SPEED_DEALT, "rejected": []}]
            game = {"game_turns": [turns], "won": [False], "guesses": [3], "cut": [True]}
            assert_scores(reward([huge], secret=["abide"], history=[[]], prompt_style=[style], **game), 1)


# ---------------------------------------------------------------------------------------------
# Whole games: each turn scored as a single one, the game paid their mean; the outcome by win
# ---------------------------------------------------------------------------------------------


def game_turns(secret, words, rejected_first=()):
    """A game's turns as the rollout records them: each answer with the history it followed."""
    turns, history = [], []
    for text in rejected_first:
        turns.append({"text": text, "history": [], "rejected": []})
    for word in words:
        turns.append({"text": answer(word), "history": list(history), "rejected": []})
        history.append(history_for(secret, [word])[0].to_dict())
    return turns


def test_a_game_is_paid_the_mean_of_its_turns():
    turns = game_turns("abide", ["speed", "dealt", "abide"])
    for name in ("format", "feedback", "guess_value", "novelty"):
        reward = REWARD_FUNCTIONS[name]
        single = [
            reward.__wrapped__([t["text"]], secret=["abide"], history=[t["history"]], rejected=[[]])[0]
            for t in turns
        ]
        whole = reward(["ignored: the turns are scored"], secret=["abide"], history=[[]], game_turns=[turns])
        assert whole == [pytest.approx(sum(single) / len(single))], name
    # A lost turn (no guess) scores 0 on format; the game's format is the mean with it.
    lost = game_turns("abide", ["speed"], rejected_first=["I am not sure."])
    assert REWARD_FUNCTIONS["format"]([""], secret=["abide"], game_turns=[lost]) == [0.5]
    # A game cut before its first answer earns nothing.
    assert REWARD_FUNCTIONS["format"]([""], secret=["abide"], game_turns=[[]]) == [0.0]


def test_a_games_turns_are_judged_in_its_rows_prompt_style():
    turns = [{"text": "<guess>SPEED</guess>", "history": [], "rejected": []}]
    turns.append({"text": answer("abide"), "history": SPEED_DEALT[:1], "rejected": []})
    games = {"secret": ["abide"] * 2, "game_turns": [turns, turns]}
    # The tag alone is exact in the short style; the reasoned turn is exact in the full style.
    assert REWARD_FUNCTIONS["format"](["", ""], prompt_style=["short", "full"], **games) == [0.875, 0.875]
    assert REWARD_FUNCTIONS["format"](
        [""], secret=["abide"], game_turns=[turns[:1]], prompt_style=["short"]
    ) == [1.0]


def test_win_pays_the_outcome_more_for_fewer_guesses():
    scores = win_reward(["", "", "", ""], won=[True, True, False, True], guesses=[1, 6, 6, 3])
    assert scores == [1.0, 0.5, 0.0, pytest.approx(0.8)]


def test_game_fields_that_are_not_a_game_are_named():
    with pytest.raises(ValueError, match="whole games"):
        win_reward(["x"])
    with pytest.raises(ValueError, match="'won'/'guesses'"):
        win_reward(["x"], won=["yes"], guesses=[2])
    with pytest.raises(ValueError, match="column 'game_turns'"):
        REWARD_FUNCTIONS["format"](["x"], secret=["abide"], game_turns=["not turns"])
    with pytest.raises(ValueError, match="column 'game_turns'"):
        REWARD_FUNCTIONS["feedback"](["x"], secret=["abide"], game_turns=[[{"text": 3}]])
    with pytest.raises(ValueError, match="'secret'"):
        REWARD_FUNCTIONS["guess_value"](["x"], game_turns=[game_turns("abide", ["speed"])])


@settings(max_examples=2_000)
@given(st.lists(st.tuples(text, histories), max_size=6), secrets, st.booleans(), st.integers(1, 6))
def test_every_reward_is_total_over_whole_games(turns, secret, won, guesses):
    played = [{"text": c, "history": h, "rejected": []} for c, h in turns]
    game = {"game_turns": [played], "won": [won], "guesses": [guesses], "cut": [not won]}
    for reward in REWARD_FUNCTIONS.values():
        assert_scores(reward(["whole game"], secret=[secret], history=[[]], **game), 1)
