"""An evaluation that can tell: one move on a fixed set of held-out boards, paired between models.

Whole games are a noisy measure of whether a model reads clues: a lost turn changes every later
board, and a few dozen games give wide intervals. Here every model answers the same boards, one
move each, so two models can be compared item by item. :func:`held_out_states` is that set: boards
of held-out answers (never in a training row) with 1-4 guesses played by the solver, the random
consistent player and the random valid player, none won yet, built from a seed. On it a model gets

- the consistent-guess rate: its greedy answer is an allowed word that fits every clue on the board
  (:func:`rft.wordle.game.is_consistent`, the one source of truth);
- pass@k: ``samples`` answers at temperature 1 per board, and the unbiased chance that ``k`` of them
  hold one that fits (:func:`rft.stats.pass_at_k`);

and each model is compared with the model it started from on the same boards by McNemar's exact
test (:func:`rft.stats.mcnemar_exact`). Every board's result is kept, so any two evaluations of
the same set can be paired later.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from rft.checks import check_integer
from rft.generation import EVAL_MAX_NEW_TOKENS, generate_completions
from rft.stats import mcnemar_exact, pass_at_k, wilson_interval
from rft.wordle.dataset import HISTORY_PLAYERS, answer_split, make_row, play_history
from rft.wordle.game import MAX_GUESSES, History, is_consistent
from rft.wordle.play import GameState
from rft.wordle.rewards import GUESS_CLOSE, parse_completion
from rft.wordle.solver import (
    EntropySolver,
    Policy,
    default_table,
    random_consistent_policy,
    random_valid_policy,
)
from rft.wordle.words import is_allowed

STATE_COUNT = 300
# The set's own seed: every evaluation answers the same boards, whatever seed its sampling takes,
# so any two results on the set can be paired.
STATE_SEED = 0
GUESSES_IN = (1, 2, 3, 4)  # guesses already on the board: the moves where clues must be read
SAMPLES = 8  # answers at temperature 1 a board, for pass@k
MAX_STATES = 1000  # distinct boards the held-out answers are known to give (a test builds them)
# The cells the set is balanced over, taken in turn: any prefix of the set (preflight takes the
# first 50) has every player and every depth in nearly equal shares.
CELLS = tuple((player, guesses) for guesses in GUESSES_IN for player in HISTORY_PLAYERS)


@dataclass(frozen=True)
class HeldOutState:
    """A board in play: the secret, the guesses on it, who played them, and how many answers fit."""

    secret: str
    history: History
    player: str
    candidates: int  # held-out or not, the answers still possible: at least the secret

    @property
    def game_state(self) -> GameState:
        return GameState(self.history, MAX_GUESSES - len(self.history))

    def to_dict(self) -> dict[str, Any]:
        return {
            "secret": self.secret,
            "history": [entry.to_dict() for entry in self.history],
            "player": self.player,
            "candidates": self.candidates,
        }


@cache
def held_out_states(count: int = STATE_COUNT, seed: int = STATE_SEED) -> tuple[HeldOutState, ...]:
    """``count`` distinct boards of held-out answers, the same for the same ``count`` and ``seed``
    (and a prefix of a larger set with that seed).

    The boards come from the twelve cells (a history player, 1-4 guesses in) in turn. Each cell goes
    through the held-out answers in its own shuffled order; its player plays that many guesses, and
    where the game would be won sooner, or the board is one the set already has, the cell takes the
    next answer: every board is still to solve. A cell that runs out of answers drops out (the
    solver rarely leaves four guesses on the board unsolved), so the others fill the set."""
    check_state_request(count, seed=seed)
    table = default_table()
    policies: dict[str, Policy] = {
        "solver": EntropySolver(table),
        "random-consistent": random_consistent_policy,
        "random-valid": random_valid_policy,
    }
    seen: set[tuple[str, History]] = set()
    cells = [
        _cell_boards(policies[player], player, guesses, seed, number)
        for number, (player, guesses) in enumerate(CELLS)
    ]
    states: list[HeldOutState] = []
    while len(states) < count and cells:
        for cell in list(cells):
            board = next((b for b in cell if (b.secret, b.history) not in seen), None)
            if board is None:
                cells.remove(cell)
                continue
            seen.add((board.secret, board.history))
            states.append(board)
            if len(states) == count:
                break
    if len(states) < count:
        raise ValueError(f"count: the held-out answers give {len(states)} distinct boards, not {count}")
    return tuple(states)


def ks_for(samples: int, pass_at: Sequence[int] | None = None) -> tuple[int, ...]:
    """The k of pass@k to report: ``pass_at`` when given, else 1 and every sample (pass@1, pass@8)."""
    if pass_at is not None:
        return tuple(pass_at)
    return tuple(sorted({1, samples})) if samples else ()


def check_state_request(
    count: int, samples: int = SAMPLES, pass_at: Sequence[int] | None = None, seed: int = 0
) -> None:
    """A state evaluation's settings, checked before any model loads; each error names its option."""
    check_integer("--states", count, minimum=1)
    if count > MAX_STATES:
        raise ValueError(f"--states must be at most {MAX_STATES} (the boards the set holds), got {count}")
    check_integer("--samples", samples, minimum=0)
    check_integer("--seed", seed, minimum=0)
    for k in ks_for(samples, pass_at):
        check_integer("--pass-at", k, minimum=1)
        if k > samples:
            raise ValueError(f"--pass-at {k} needs at least {k} samples a board; --samples is {samples}")


def _cell_boards(policy: Policy, player: str, guesses: int, seed: int, cell: int) -> Iterator[HeldOutState]:
    """One cell's boards, one per held-out answer whose game is not won within ``guesses``."""
    answers = answer_split()["test"]
    table = default_table()
    for position in np.random.default_rng([seed, cell]).permutation(len(answers)):
        secret = answers[position]
        history = play_history(secret, policy, guesses, np.random.default_rng([seed, cell, int(position)]))
        if len(history) == guesses:
            yield HeldOutState(secret, history, player, len(table.candidates(history)))


def fingerprint(states: Sequence[HeldOutState]) -> str:
    """A short hash of the boards: two results are paired only on the same set."""
    text = json.dumps([state.to_dict() for state in states], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def composition(states: Sequence[HeldOutState]) -> dict[str, dict[str, int]]:
    """How many boards each player wrote, and how many have each number of guesses in."""
    by_player = {player: sum(1 for s in states if s.player == player) for player in HISTORY_PLAYERS}
    by_guesses = {str(n): sum(1 for s in states if len(s.history) == n) for n in GUESSES_IN}
    return {"by_player": by_player, "by_guesses_in": by_guesses}


def state_rows(states: Sequence[HeldOutState], prompt_style: str = "full") -> list[dict[str, Any]]:
    """The boards as GRPO dataset rows (:func:`rft.wordle.dataset.make_row`'s columns), so the
    rewards can score answers to them as training would."""
    return [make_row(s.secret, s.history, s.player, prompt_style) for s in states]


# ---------------------------------------------------------------------------------------------
# A model on the boards
# ---------------------------------------------------------------------------------------------


def fits_every_clue(text: str, history: History) -> bool:
    """The answer's guess is an allowed word that could still be the secret after ``history``."""
    word = parse_completion(text).word
    return word is not None and is_allowed(word) and is_consistent(word, history)


def prompts_for(tokenizer: Any, states: Sequence[HeldOutState], prompt_style: str) -> list[str]:
    """The boards as a model is prompted when it plays (``rft.wordle.held_out_games.ModelPlayer``):
    in its prompt style, in its chat template, the assistant's turn opened."""
    return [
        tokenizer.apply_chat_template(
            state.game_state.messages(prompt_style), tokenize=False, add_generation_prompt=True
        )
        for state in states
    ]


def answer_states(
    model: Any,
    tokenizer: Any,
    prompt_style: str,
    states: Sequence[HeldOutState],
    samples: int = SAMPLES,
    max_new_tokens: int = EVAL_MAX_NEW_TOKENS,
    batch_size: int = 32,
    seed: int = 0,
    adapter_off: bool = False,
    generation: Mapping[str, Any] | None = None,
    end_after: str | None = GUESS_CLOSE,
) -> list[dict[str, Any]]:
    """Each board answered by a model in its prompt style, as evaluation plays it (batched, each
    answer ending at its guess's closing tag): once greedy, and ``samples`` times at temperature 1.
    ``adapter_off``: a PEFT model plays with its adapter disabled (the base model). ``end_after``
    None: answers run on past the guess (a GRPO preset with ``end_at_answer`` off).

    ``generation``: further settings for generation (keyword arguments of
    :func:`rft.generation.generate_completions`), the same for greedy and sampled answers. One
    result a board, in the order of ``states``, every answer kept."""
    prompts = prompts_for(tokenizer, states, prompt_style)
    settings = dict(generation or {})

    def generate(texts: list[str], temperature: float) -> list[str]:
        return generate_completions(
            model,
            tokenizer,
            texts,
            max_new_tokens,
            temperature,
            batch_size,
            seed,
            end_after,  # a turn ends where its guess closes, as in training and in games
            **settings,
        )

    with model.disable_adapter() if adapter_off else nullcontext():
        greedy = generate(prompts, 0.0)
        sampled = generate([text for text in prompts for _ in range(samples)], 1.0) if samples else []
    results = []
    for index, (state, text) in enumerate(zip(states, greedy)):
        word = parse_completion(text).word
        own = sampled[index * samples : (index + 1) * samples]
        results.append(
            {
                "greedy": text,
                "greedy_word": word,
                "greedy_allowed": word is not None and is_allowed(word),
                "greedy_fits": fits_every_clue(text, state.history),
                "samples": samples,
                "sampled": own,
                "samples_fit": sum(fits_every_clue(sample, state.history) for sample in own),
            }
        )
    return results


def state_metrics(
    results: Sequence[Mapping[str, Any]], pass_at: Sequence[int] | None = None
) -> dict[str, Any]:
    """The greedy consistent-guess and allowed-word rates with Wilson intervals (the boards are
    separate items), and pass@k for each ``k`` (:func:`ks_for`)."""
    boards = len(results)
    fits = sum(r["greedy_fits"] for r in results)
    allowed = sum(r["greedy_allowed"] for r in results)
    samples = results[0]["samples"] if results else 0
    metrics: dict[str, Any] = {
        "states": boards,
        "consistent_rate": fits / boards if boards else None,
        "consistent_rate_ci95": list(wilson_interval(fits, boards)),
        "allowed_rate": allowed / boards if boards else None,
        "samples": samples,
    }
    for k in ks_for(samples, pass_at):
        if 1 <= k <= samples:
            passes = [pass_at_k(samples, r["samples_fit"], k) for r in results]
            metrics[f"pass@{k}"] = sum(passes) / boards if boards else None
    return metrics


def paired(first: Sequence[Mapping[str, Any]], second: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Two models' greedy answers on the same boards: both rates, the boards only one of them got
    right, and McNemar's exact p-value for "neither is better"."""
    if len(first) != len(second):
        raise ValueError(f"paired on the same boards only: {len(first)} results against {len(second)}")
    only_first = sum(1 for a, b in zip(first, second) if a["greedy_fits"] and not b["greedy_fits"])
    only_second = sum(1 for a, b in zip(first, second) if b["greedy_fits"] and not a["greedy_fits"])
    boards = len(first)
    first_rate = sum(r["greedy_fits"] for r in first) / boards if boards else None
    second_rate = sum(r["greedy_fits"] for r in second) / boards if boards else None
    return {
        "states": boards,
        "parent_rate": first_rate,
        "rate": second_rate,
        "difference": None if boards == 0 else second_rate - first_rate,
        "only_parent": only_first,
        "only_this": only_second,
        "p_value": mcnemar_exact(only_first, only_second),
    }


def evaluate_states(
    models: Sequence[Any],
    count: int = STATE_COUNT,
    seed: int = 0,
    samples: int = SAMPLES,
    max_new_tokens: int = EVAL_MAX_NEW_TOKENS,
    batch_size: int = 32,
    pass_at: Sequence[int] | None = None,
    generation: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Every loaded model (``rft.models.LoadedModel``: its label, network, tokenizer, prompt style,
    adapter on or off) on the first ``count`` boards of the set (``seed`` seeds the sampling, not
    the boards); each model after the first compared, paired,
    with the one before it: the order a lineage is loaded in (base, warm-up, GRPO), so each is
    compared with the model it started from."""
    states = held_out_states(count)
    answered = {
        one.label: answer_states(
            one.model,
            one.tokenizer,
            one.prompt_style,
            states,
            samples,
            max_new_tokens,
            batch_size,
            seed,
            one.adapter_off,
            generation,
        )
        for one in models
    }
    labels = list(answered)
    return {
        "count": count,
        "seed": seed,
        "fingerprint": fingerprint(states),
        "composition": composition(states),
        "metrics": {label: state_metrics(results, pass_at) for label, results in answered.items()},
        "paired": {
            label: {"parent": parent, **paired(answered[parent], answered[label])}
            for parent, label in itertools.pairwise(labels)
        },
        "boards": [state.to_dict() for state in states],
        "results": answered,
    }


def states_table(section: Mapping[str, Any]) -> str:
    """The state evaluation as eval.md shows it: one row a model, one line a paired comparison."""

    def pct(value: float | None) -> str:
        return "—" if value is None else f"{100 * value:.1f}%"

    metrics = section["metrics"]
    ks = sorted(
        {key for m in metrics.values() for key in m if key.startswith("pass@")}, key=lambda k: int(k[5:])
    )
    samples = next(iter(metrics.values()))["samples"] if metrics else 0
    lines = [
        f"Held-out boards: {section['count']} (set {section['fingerprint']}), 1-4 guesses in; one "
        "greedy answer a board"
        + (f", and {samples} at temperature 1 for pass@k (seed {section['seed']})." if samples else "."),
        "",
        "| model | fits every clue, greedy (95% CI) | allowed word | " + " | ".join(ks) + " |",
        "|---|---|---|" + "---|" * len(ks),
    ]
    for label, m in metrics.items():
        low, high = m["consistent_rate_ci95"]
        passes = " | ".join(pct(m[k]) for k in ks)
        lines.append(
            f"| {label} | {pct(m['consistent_rate'])} ({pct(low)}–{pct(high)}) | {pct(m['allowed_rate'])} | "
            + passes
            + " |"
        )
    if section["paired"]:
        lines.append("")
    for label, c in section["paired"].items():
        lines.append(
            f"{label} vs {c['parent']} (paired, same boards): fits every clue {pct(c['parent_rate'])} → "
            f"{pct(c['rate'])}; {c['only_this']} boards only {label} got, {c['only_parent']} only "
            f"{c['parent']}; McNemar's exact p = {c['p_value']:.3g}."
        )
    return "\n".join(lines) + "\n"
