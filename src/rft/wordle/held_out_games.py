"""Wordle's evaluation: whole games on held-out answers, beside the solver and random baselines.

``evaluate_players()`` plays the same secrets with every player, then writes ``eval.json`` (all metrics
and every game), ``eval.md`` (the table), ``guesses.png`` (the guess distribution) and
``rates.png`` (win rate with its interval beside the format, valid-guess and consistency rates).
With a base model and a trained one it reports the difference in win rate and whether the two 95%
intervals overlap. :func:`evaluate_loaded` is the task's evaluation (``rft.tasks.Task``): it takes
models already loaded, so this module loads nothing; ``rft.evaluation`` loads them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from rft.files import keep_results, replace_text, replacing, write_json
from rft.generation import EVAL_MAX_NEW_TOKENS, generate_completions
from rft.stats import intervals_overlap, overlap_verdict
from rft.tasks import EvalRequest, PresetLike
from rft.wordle.conversation import ConversationPlayer
from rft.wordle.dataset import answer_split, shuffled_passes
from rft.wordle.game import MAX_GUESSES
from rft.wordle.held_out_states import evaluate_states, states_table
from rft.wordle.play import GameRecord, GameState, Player, game_metrics, play_games, policy_player
from rft.wordle.rewards import GUESS_CLOSE
from rft.wordle.solver import EntropySolver, random_consistent_policy, random_valid_policy


class ModelPlayer:
    """A causal LM as a player: one ``generate`` call per batch of game states, greedy by default.

    Sampling, when asked for, is seeded per call, so a game replays exactly from its seed.
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        prompt_style: str = "full",
        max_new_tokens: int = EVAL_MAX_NEW_TOKENS,
        temperature: float = 0.0,
        batch_size: int = 32,
        seed: int = 0,
        adapter_off: bool = False,
        end_after: str | None = GUESS_CLOSE,
    ) -> None:
        self.model, self.tokenizer = model, tokenizer
        self.end_after = end_after  # a turn ends where its guess closes, as in training
        self.prompt_style, self.max_new_tokens = prompt_style, max_new_tokens
        self.temperature, self.batch_size, self.seed = temperature, batch_size, seed
        self.adapter_off = adapter_off  # play the base model through a PEFT model's disabled adapter
        self.calls = 0

    def prompt(self, state: GameState) -> str:
        messages = state.messages(self.prompt_style)
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def __call__(self, states: Sequence[GameState]) -> list[str]:
        self.calls += 1
        prompts = [self.prompt(state) for state in states]
        seed = self.seed + self.calls - 1
        with self.model.disable_adapter() if self.adapter_off else nullcontext():
            return generate_completions(
                self.model,
                self.tokenizer,
                prompts,
                self.max_new_tokens,
                self.temperature,
                self.batch_size,
                seed,
                self.end_after,
            )


def model_player(
    loaded: Any, max_new_tokens: int, temperature: float = 0.0, batch_size: int = 32, seed: int = 0
) -> Player:
    """A loaded model (``rft.models.LoadedModel``) as the player it trained to be: one chat a game
    for a whole-game run (``whole_games``), with no budget but six turns, else a fresh prompt every
    turn."""
    if getattr(loaded, "whole_games", False):
        return ConversationPlayer(
            loaded.model,
            loaded.tokenizer,
            loaded.prompt_style,
            max_new_tokens,
            None,
            temperature,
            batch_size,
            seed,
            adapter_off=loaded.adapter_off,
        )
    return ModelPlayer(
        loaded.model,
        loaded.tokenizer,
        loaded.prompt_style,
        max_new_tokens,
        temperature,
        batch_size,
        seed,
        adapter_off=loaded.adapter_off,
    )


# ---------------------------------------------------------------------------------------------
# Evaluating
# ---------------------------------------------------------------------------------------------


def held_out_secrets(games: int, seed: int = 0, split: str = "test") -> list[str]:
    """``games`` secrets from a split, drawn without replacement while the split lasts."""
    answers = answer_split()[split]
    return [answers[i] for i in shuffled_passes(len(answers), games, np.random.default_rng(seed))]


BASELINES = ("solver", "random-consistent", "random-valid")


def baseline_players(seed: int = 0) -> dict[str, Player]:
    return {
        "solver": policy_player(EntropySolver(), seed),
        "random-consistent": policy_player(random_consistent_policy, seed),
        "random-valid": policy_player(random_valid_policy, seed),
    }


def compare(base: dict[str, Any], trained: dict[str, Any]) -> dict[str, Any]:
    """Trained minus base, and whether the 95% intervals overlap (overlap: not a clear difference)."""
    return {
        "win_rate_difference": trained["win_rate"] - base["win_rate"],
        "intervals_overlap": intervals_overlap(base["win_rate_ci95"], trained["win_rate_ci95"]),
        "format_valid_rate_difference": (trained["format_valid_rate"] or 0)
        - (base["format_valid_rate"] or 0),
    }


def versus_base(metrics: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Every trained player compared with the base model; empty without a base or a trained player."""
    if "base" not in metrics:
        return {}
    trained = [name for name in metrics if name not in (*BASELINES, "base")]
    return {name: compare(metrics["base"], metrics[name]) for name in trained}


def evaluate_players(
    players: dict[str, Player],
    secrets: Sequence[str],
    out_dir: str | Path,
    details: dict[str, Any] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Play ``secrets`` with every player; write eval.json, eval.md and guesses.png to ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    records: dict[str, list[GameRecord]] = {
        name: played_with_progress(name, player, secrets, progress) for name, player in players.items()
    }
    seconds = round(time.monotonic() - started, 1)  # what a notebook keeps of a session for evaluation
    metrics = {name: game_metrics(games) for name, games in records.items()}
    result: dict[str, Any] = {
        "task": "wordle",
        "out_dir": str(out_dir),
        "secrets": list(secrets),
        **(details or {}),
        "seconds": seconds,
        "metrics": metrics,
    }
    if vs_base := versus_base(metrics):
        result["vs_base"] = vs_base
    result["games"] = {name: [g.to_dict() for g in games] for name, games in records.items()}

    def write(folder: Path) -> None:
        result["out_dir"] = str(folder)
        write_json(folder / "eval.json", result)
        replace_text(folder / "eval.md", markdown_table(result))
        plot_guess_distribution(metrics, folder / "guesses.png")
        plot_rates(metrics, folder / "rates.png")

    keep_results(out_dir, write)
    return result


def played_with_progress(
    name: str, player: Player, secrets: Sequence[str], progress: bool = True
) -> list[GameRecord]:
    """:func:`play_games` under a bar that moves once per round: a model's round over 200 games
    takes minutes on a CPU, and an evaluation with no sign of life looks hung."""
    with tqdm(total=MAX_GUESSES, desc=f"playing {name}", unit="round", disable=not progress) as bar:

        def advance(rounds_done: int, total: int) -> None:
            bar.update(rounds_done - bar.n)

        records = play_games(player, secrets, progress=advance)
        bar.update(bar.total - bar.n)  # every game won before the last round: the play is over
        return records


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def markdown_table(result: dict[str, Any]) -> str:
    """eval.md: the games' table, and the held-out boards' where they were evaluated."""
    tables = [games_table(result)] if "metrics" in result else []
    if "states" in result:
        tables.append(states_table(result["states"]))
    if result.get("constrain_guesses"):  # then the valid-guess rates measure the constraint
        tables.append("\nThe models' guesses were held to allowed words (constrain_guesses).")
    return "\n".join(tables)


def games_table(result: dict[str, Any]) -> str:
    lines = [
        f"Wordle evaluation: {len(result['secrets'])} held-out answers, the same for every player.",
        "",
        "| player | win rate (95% CI) | mean guesses (wins) | format valid | valid guesses | consistent "
        "| replayed | most played after the first |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, m in result["metrics"].items():
        low, high = m["win_rate_ci95"]
        mean = "—" if m["mean_guesses_when_won"] is None else f"{m['mean_guesses_when_won']:.2f}"
        top = m["top_later_guess"]
        share = f"{_pct(m['top_later_guess_share'])} of {m['later_guesses']}"
        most_played = "—" if top is None else f"{top.upper()} ({share})"
        lines.append(
            f"| {name} | {_pct(m['win_rate'])} ({_pct(low)}–{_pct(high)}) | {mean} | "
            f"{_pct(m['format_valid_rate'])} | {_pct(m['valid_guess_rate'])} | "
            f"{_pct(m['consistency_rate'])} | {_pct(m['replayed_guess_rate'])} | {most_played} |"
        )
    if result.get("vs_base"):
        lines.append("")
    for name, c in result.get("vs_base", {}).items():
        lines.append(
            f"{name} − base: win rate {100 * c['win_rate_difference']:+.1f} points, format-valid rate "
            f"{100 * c['format_valid_rate_difference']:+.1f} points; the win-rate 95% intervals "
            f"{overlap_verdict(c['intervals_overlap'])}."
        )
    return "\n".join(lines) + "\n"


def plot_guess_distribution(metrics: dict[str, dict[str, Any]], out_path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    buckets = ["1", "2", "3", "4", "5", "6", "lost"]
    fig, ax = plt.subplots(figsize=(9, 4), constrained_layout=True)
    width = 0.8 / max(1, len(metrics))
    for i, (name, m) in enumerate(metrics.items()):
        shares = [m["guess_distribution"][b] / m["games"] for b in buckets]
        ax.bar(np.arange(len(buckets)) + i * width, shares, width=width, label=name)
    ax.set_xticks(np.arange(len(buckets)) + width * (len(metrics) - 1) / 2, buckets)
    ax.set(xlabel="guesses to win", ylabel="share of games", title="How many guesses each player needed")
    ax.legend(loc="best")
    with replacing(out_path) as temporary:  # a kill mid-write leaves the old figure
        fig.savefig(temporary, dpi=110)
    plt.close(fig)
    return out_path


RATES = {
    "win_rate": "win rate",
    "format_valid_rate": "format valid",
    "valid_guess_rate": "allowed word",
    "consistency_rate": "fits the clues",
}


def plot_rates(metrics: dict[str, dict[str, Any]], out_path: Path) -> Path:
    """One group of bars per player: win rate (with its 95% interval) and the per-turn rates."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4), constrained_layout=True)
    width = 0.8 / len(RATES)
    positions = np.arange(len(metrics))
    for i, (key, label) in enumerate(RATES.items()):
        values = [m[key] or 0.0 for m in metrics.values()]
        errors = None
        if key == "win_rate":
            intervals = [m["win_rate_ci95"] for m in metrics.values()]
            bounds = [[v - low, high - v] for v, (low, high) in zip(values, intervals)]
            errors = np.clip(np.array(bounds), 0.0, None).T  # float noise: Wilson's 1 can be 0.999…
        ax.bar(positions + i * width, values, width=width, yerr=errors, capsize=3, label=label)
    ax.set_xticks(positions + width * (len(RATES) - 1) / 2, list(metrics))
    ax.set(ylim=(0, 1.05), ylabel="share", title="Wins (95% interval) and per-turn rates")
    ax.legend(loc="upper right", fontsize=8)
    with replacing(out_path) as temporary:  # a kill mid-write leaves the old figure
        fig.savefig(temporary, dpi=110)
    plt.close(fig)
    return out_path


def evaluate_loaded(
    preset: PresetLike | None,
    models: Sequence[Any],
    request: EvalRequest,
    out_dir: str | Path,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The task's evaluation: every model (``rft.models.LoadedModel``: its label, network,
    tokenizer, prompt style) plays the same ``request.count`` held-out games, beside the baselines
    when ``request.baselines``. With ``request.states``, every model also answers that many held-out
    boards, each compared on them with the model before it (:mod:`rft.wordle.held_out_states`);
    ``request.count`` 0 then plays no games. The prompt style is each model's own, so ``preset`` is
    not read."""
    settings = {
        "seed": request.seed,
        "max_new_tokens": request.max_new_tokens,
        "temperature": request.temperature,
    }
    details = {**(details or {}), **settings}
    if request.states:
        details["states"] = evaluate_states(
            models,
            request.states,
            request.seed,
            request.samples,
            request.max_new_tokens,
            request.batch_size,
            request.pass_at,
        )
    if request.count == 0:
        return write_states_only(out_dir, details)
    players: dict[str, Player] = baseline_players(request.seed) if request.baselines else {}
    for one in models:
        players[one.label] = model_player(
            one, request.max_new_tokens, request.temperature, request.batch_size, request.seed
        )
    secrets = held_out_secrets(request.count, request.seed)
    return evaluate_players(players, secrets, out_dir, details, request.progress)


def write_states_only(out_dir: str | Path, details: dict[str, Any]) -> dict[str, Any]:
    """An evaluation of held-out boards alone: eval.json and eval.md, no games to chart."""
    result: dict[str, Any] = {"task": "wordle", "out_dir": str(out_dir), **details}

    def write(folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        result["out_dir"] = str(folder)
        write_json(folder / "eval.json", result)
        replace_text(folder / "eval.md", markdown_table(result))

    keep_results(Path(out_dir), write)
    return result
