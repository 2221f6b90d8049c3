"""Wordle in the terminal: watch a model play with coloured tiles, or play yourself."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.text import Text

from rft.wordle.game import Game, GuessWithFeedback, Mark
from rft.wordle.words import validate_word

if TYPE_CHECKING:
    from rft.models import LoadedModel

_STYLES = {
    Mark.CORRECT: "bold white on green",
    Mark.PRESENT: "bold black on yellow",
    Mark.ABSENT: "white on grey35",
}


def tiles(entry: GuessWithFeedback) -> Text:
    """Coloured tiles, with the notation the prompts use beside them for readers without colour."""
    text = Text()
    for letter, mark in zip(entry.guess, entry.marks):
        text.append(f" {letter.upper()} ", style=_STYLES[mark])
        text.append(" ")
    text.append(f"  {entry.render()}", style="dim")
    return text


def _pick_secret(secret: str | None, seed: int) -> str:
    if secret is not None:
        return validate_word(secret, must_be_allowed=True)
    from rft.wordle.held_out_games import held_out_secrets

    return held_out_secrets(1, seed)[0]


def play_human(
    secret: str | None = None,
    seed: int = 0,
    read: Callable[[str], str] = input,
    console: Console | None = None,
) -> int:
    """You guess; a word of the wrong length or not in the list is refused and costs no turn."""
    console = console or Console()
    game = Game(_pick_secret(secret, seed))
    console.print("Guess the 5-letter word in 6 tries. Ctrl-D to give up.")
    while not game.is_over:
        try:
            word = read(f"guess {len(game.history) + 1}/6: ").strip()
        except EOFError:
            break
        try:
            entry = game.guess(word)
        except ValueError as error:
            console.print(f"[red]{error}[/red] (that turn is not counted)")
            continue
        console.print(tiles(entry))
    verdict = "You won" if game.is_won else "Not this time"
    console.print(f"{verdict}: the word was [bold]{game.secret.upper()}[/bold].")
    return 0


def watch_model(
    model: str,
    adapter: str | Path | None = None,
    secret: str | None = None,
    seed: int = 0,
    console: Console | None = None,
    loaded: LoadedModel | None = None,
    constrain_guesses: bool = False,
) -> int:
    """The model plays one game; each turn shows its reasoning and the tiles its guess earned.
    ``loaded``: the model as :func:`rft.models.load_models` returned it for an evaluation just
    played, so that no second copy is loaded. ``constrain_guesses``: its guesses held to allowed
    words (a run that trained so is held anyway)."""
    from rft.models import load_models, max_new_tokens_for
    from rft.wordle.held_out_games import model_player
    from rft.wordle.play import play_games, rejected_text
    from rft.wordle.traces import why_rejected

    console = console or Console()
    loaded = loaded or load_models(model, adapter, constrain_guesses)[-1]
    player = model_player(loaded, max_new_tokens_for(model), seed=seed)  # as it was evaluated
    (record,) = play_games(player, [_pick_secret(secret, seed)])
    for number, turn in enumerate(record.turns, start=1):
        console.rule(f"turn {number}")
        console.print(Text(turn.text.strip(), style="italic"))
        if turn.guess is None:  # the same sentence the next prompt and the SFT traces give
            reason = why_rejected(rejected_text(turn.text))
            console.print(Text(f"{reason} The turn is lost.", style="red"))
        else:
            console.print(
                tiles(GuessWithFeedback.from_dict({"guess": turn.guess, "feedback": turn.feedback}))
            )
    verdict = "won" if record.won else "lost"
    console.print(
        f"The model {verdict} in {record.guesses} turns; the word was [bold]{record.secret.upper()}[/bold]."
    )
    return 0
