"""What the model reads: the rules, the game so far, and the answer format the rewards pay for.

Pure functions of their inputs; the same text is used for training rows, evaluation games and the
notebooks, so a model is never scored on a format it was not shown.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rft.wordle.game import MAX_GUESSES, UNICODE_SYMBOLS, Constraints, GuessWithFeedback, Symbols

# A real game (secret: ABIDE), shown in the system prompt. Its feedback and its clues are computed,
# not typed, so the example can never teach a wrong rule; SPEED shows how a repeated letter is marked.
EXAMPLE_SECRET = "abide"
EXAMPLE_GUESSES = ("speed", "dealt")

SYSTEM_PROMPT_TEMPLATE = """\
You are playing Wordle. Find the secret 5-letter English word in at most {max_guesses} guesses.

Rules:
- Each guess must be a real 5-letter English word.
- After each guess, every letter gets feedback:
  {correct} the letter is in the word and in the right place
  {present} the letter is in the word but in a different place
  {absent} the letter is not in the word (or not as many times as you used it)
- A repeated letter is marked once per copy in the secret: guessing SPEED when the secret has one E
  marks one E as {correct} or {present} and the other as {absent}.

Example (the secret is {example_secret}):
{example_lines}
Clues so far: {example_clues}
A word that fits every clue: {example_secret}.

Respond in exactly this format, with nothing after the closing guess tag ({placeholder_means}):
<think>
your step-by-step reasoning about the feedback so far
</think>
<guess>{placeholder}</guess>"""


# For small models on a CPU, where every prompt token costs training time: the rules and the
# format without the worked example (about a third of the tokens). In this style the game so far
# also comes with its clues spelled out (see ``user_prompt``).
COMPACT_SYSTEM_PROMPT_TEMPLATE = """\
You are playing Wordle: find the secret 5-letter word in at most {max_guesses} guesses.
Feedback on each letter: {correct} right place, {present} in the word but elsewhere, {absent} not in the word.
Respond in exactly this format ({placeholder_means}):
<think>
your reasoning about the feedback so far
</think>
<guess>{placeholder}</guess>"""

# For models too small to reason in words (SmolLM2-135M, Qwen2.5-0.5B on a CPU): the answer is
# the guess tag alone, so the whole completion is the word and every token of it is the choice
# GRPO rewards (TRL's own Wordle example answers in the same few tokens). The rules and the
# format only; the clues come spelled out as in the compact style.
SHORT_SYSTEM_PROMPT_TEMPLATE = """\
You are playing Wordle: find the secret 5-letter word in at most {max_guesses} guesses, each a real word.
Feedback on each letter: {correct} right place, {present} in the word but elsewhere, {absent} not in the word.
Answer with the guess tag alone ({placeholder_means}):
<guess>{placeholder}</guess>"""

PROMPT_STYLES = ("full", "compact", "short")
# The styles whose answer is the guess tag alone, with no <think> block before it.
ANSWER_ONLY_STYLES = frozenset({"short"})
# The styles for small models, whose prompts and game replies spell the clues out.
CLUES_SPELLED_OUT_STYLES = frozenset({"compact", "short"})

# What every style's format shows in the guess tag. Five letters, since the count is the rule a
# model breaks most (Qwen's tokenizer splits an upper-case word into two or three fragments, so the
# count is nowhere in the tokens; the old WORD had four). Not a word: a real one (CRANE) is a
# guess a model can copy for full pay on every turn, while a copied ABCDE is turned down like any
# made-up word and earns neither the allowed-word credit nor the clue and information rewards.
ANSWER_PLACEHOLDER = "ABCDE"
PLACEHOLDER_MEANS = f"{ANSWER_PLACEHOLDER} stands for your 5-letter word"


def describe_clues(history: Iterable[GuessWithFeedback]) -> str:
    """Everything a history says about the secret, in one sentence per kind of clue."""
    constraints = Constraints.from_history(history)
    placed = [f"{letter.upper()} is letter {p + 1}" for p, letter in sorted(constraints.fixed.items())]
    elsewhere = []
    for letter in sorted(constraints.min_counts):
        positions = sorted(p + 1 for p, letters in constraints.not_at.items() if letter in letters)
        if positions:
            where = ", ".join(str(p) for p in positions[:-1]) + (" or " if len(positions) > 1 else "")
            elsewhere.append(f"{letter.upper()} is in the word but not letter {where}{positions[-1]}")
    absent = sorted(letter.upper() for letter, count in constraints.max_counts.items() if count == 0)
    counts = []
    for letter, at_least in sorted(constraints.min_counts.items()):
        exact = constraints.max_counts.get(letter)
        times = {1: "once", 2: "twice"}
        if exact is not None:
            counts.append(f"{letter.upper()} appears exactly {times.get(exact, f'{exact} times')}")
        elif at_least > 1:
            counts.append(f"{letter.upper()} appears at least {times.get(at_least, f'{at_least} times')}")
    clues = placed + elsewhere + counts
    if absent:
        clues.append("not in the word: " + ", ".join(absent))
    return "; ".join(clues) + "." if clues else "none yet."


def system_prompt(
    symbols: Symbols = UNICODE_SYMBOLS, max_guesses: int = MAX_GUESSES, style: str = "full"
) -> str:
    """The rules, the feedback legend, the response format and (``full`` style) a worked example."""
    if style not in PROMPT_STYLES:
        raise ValueError(f"prompt style must be one of {PROMPT_STYLES}, got {style!r}")
    legend = {"max_guesses": max_guesses, "correct": symbols.correct, "present": symbols.present}
    legend.update(absent=symbols.absent, placeholder=ANSWER_PLACEHOLDER, placeholder_means=PLACEHOLDER_MEANS)
    if style == "compact":
        return COMPACT_SYSTEM_PROMPT_TEMPLATE.format(**legend)
    if style == "short":
        return SHORT_SYSTEM_PROMPT_TEMPLATE.format(**legend)
    example = [GuessWithFeedback.score(guess, EXAMPLE_SECRET) for guess in EXAMPLE_GUESSES]
    return SYSTEM_PROMPT_TEMPLATE.format(
        **legend,
        example_secret=EXAMPLE_SECRET.upper(),
        example_lines="\n".join(f"Guess {i}: {e.render(symbols)}" for i, e in enumerate(example, 1)),
        example_clues=describe_clues(example),
    )


REJECTED_SHOWN_CHARACTERS = 12  # enough for any near-word; a runaway answer is cut, not echoed whole


def _guesses(count: int) -> str:
    return f"{count} guess{'es' if count != 1 else ''}"


def shown_rejected(text: str) -> str:
    """A turned-down answer as prompts and traces name it: a runaway one cut, not echoed whole."""
    return text[:REJECTED_SHOWN_CHARACTERS] + "…" if len(text) > REJECTED_SHOWN_CHARACTERS else text


def _rejected_line(rejected: Sequence[str]) -> str:
    """Names the answers the game turned down since the last accepted guess, as Wordle's "not in
    word list" does: without it the prompt is unchanged, and a greedy model repeats the same
    rejected answer until the game ends."""
    shown = [shown_rejected(text) if text else "(no guess tag)" for text in rejected]
    return f"Not accepted, each at the cost of a turn: {', '.join(shown)}. Guess a real 5-letter word."


def user_prompt(
    history: Iterable[GuessWithFeedback],
    symbols: Symbols = UNICODE_SYMBOLS,
    max_guesses: int = MAX_GUESSES,
    spell_out_clues: bool = False,
    rejected: Sequence[str] = (),
    answer_only: bool = False,
) -> str:
    """The game so far and the request for the next guess.

    ``spell_out_clues`` adds what the feedback adds up to (:func:`describe_clues`). A 135M model
    does not learn to turn rows of symbols into clues in an hour on a CPU (measured: one summary in
    a thousand right after a 30-minute warm-up); told the clues, it can spend its capacity on
    choosing a word that keeps them. ``rejected``: what the player wrote in its guess tags on the
    turns lost since its last accepted guess ("" for a turn with no guess tag). ``answer_only``:
    the first turn does not ask to think it through, as the format has no room for it.
    """
    history = list(history)
    rejected_line = f"\n{_rejected_line(rejected)}" if rejected else ""
    if not history:
        opening = "No guess has been accepted yet." if rejected else "This is your first guess."
        request = "Give" if answer_only else "Think it through, then give"
        return (
            f"{opening} You have {_guesses(max_guesses)}."
            + rejected_line
            + f"\n{request} your guess in the required format."
        )
    lines = [f"Guess {i}: {entry.render(symbols)}" for i, entry in enumerate(history, start=1)]
    left = max_guesses - len(history)
    clues = f"\nClues so far: {describe_clues(history)}" if spell_out_clues else ""
    return (
        "Your guesses so far and their feedback:\n"
        + "\n".join(lines)
        + clues
        + rejected_line
        + f"\n\nYou have {_guesses(left)} left. "
        "Use every clue above, then give your next guess in the required format."
    )


def build_messages(
    history: Iterable[GuessWithFeedback],
    symbols: Symbols = UNICODE_SYMBOLS,
    max_guesses: int = MAX_GUESSES,
    style: str = "full",
    rejected: Sequence[str] = (),
) -> list[dict[str, str]]:
    """The chat a model is asked to continue: system rules, then the game so far (with its clues
    spelled out in the ``compact`` and ``short`` styles, which are meant for small models).

    Models whose chat template has no system role (Gemma) fold it into the first user turn
    through their own template; the messages stay the same.
    """
    game = user_prompt(
        history,
        symbols,
        max_guesses,
        spell_out_clues=style in CLUES_SPELLED_OUT_STYLES,
        rejected=rejected,
        answer_only=style in ANSWER_ONLY_STYLES,
    )
    return [
        {"role": "system", "content": system_prompt(symbols, max_guesses, style)},
        {"role": "user", "content": game},
    ]


def game_reply(
    history: Sequence[GuessWithFeedback],
    symbols: Symbols = UNICODE_SYMBOLS,
    max_guesses: int = MAX_GUESSES,
    style: str = "full",
    rejected: Sequence[str] = (),
) -> str:
    """The game's reply to the last answer when a game is one chat (rft.wordle.conversation): what
    is new since that answer, not the board again. The earlier rows are in the chat already, and
    repeating them made every reply longer than the one before (with SmolLM2's tokenizer a game's
    replies took 115 to 318 tokens each, two thirds of its budget; benchmarks/game_tokens.py).

    After an accepted guess: its row, numbered as the board numbers it; after a turned-down answer:
    that answer (``rejected[-1]``, the newest), named as the board would name it. Then, in the
    ``compact`` and ``short`` styles, all the clues so far (a summary, not a repetition: the one line a small
    model reads instead of adding up the rows), and the guesses left."""
    history = list(history)
    left = max_guesses - len(history)
    if rejected:
        text = rejected[-1]
        shown = shown_rejected(text) if text else "(no guess tag)"
        news = f"Not accepted, at the cost of a turn: {shown}. Guess a real 5-letter word."
    elif history:
        news = f"Guess {len(history)}: {history[-1].render(symbols)}"
    else:
        news = "No guess has been accepted yet."
    clues = (
        f"\nClues so far: {describe_clues(history)}" if style in CLUES_SPELLED_OUT_STYLES and history else ""
    )
    return f"{news}{clues}\nYou have {_guesses(left)} left. Your next guess?"
