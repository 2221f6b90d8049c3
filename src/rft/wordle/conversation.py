"""Whole games as one chat each: the model's answers and the game's replies, kept in token space.

Single-turn play (:class:`rft.wordle.held_out_games.ModelPlayer`) shows the model a fresh prompt every
turn that sums up the game so far. Here a game is one conversation: the first state's prompt, the
model's answer, the game's reply as the next user message, the next answer, and so on. A reply
carries what is new (:func:`rft.wordle.prompts.game_reply`: the last guess's feedback, or the
answer turned down, the clues where the style spells them out, the guesses left): the rows before
it are already in the chat, and repeating them made each reply longer than the last (SmolLM2's
replies took 115 to 318 tokens, most of a game's budget; benchmarks/game_tokens.py).

The reply's tokens are appended to the ids the model saw and wrote; the chat is never re-rendered
between turns, since a template may render earlier turns differently (some drop past reasoning),
and then the ids trained on would not be the ids sampled from.

:class:`ConversationPlayer` is a :class:`rft.wordle.play.Player`, so whole games are played by the
same loop as every other game (:func:`rft.wordle.play.play_games`): evaluation of a whole-game run,
and :class:`WholeGameRollout`, which plays GRPO's groups and hands TRL the ids, a mask that is 1 on
the model's own tokens only, and each game's fields for the rewards.
"""

from __future__ import annotations

import json
import math
import zlib
from collections import defaultdict
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

from rft.generation import EVAL_MAX_NEW_TOKENS, eos_token_ids, generate_from_ids
from rft.wordle.game import MAX_GUESSES, as_history
from rft.wordle.play import GameRecord, GameState, play_games
from rft.wordle.rewards import GUESS_CLOSE

_ANSWER_PROBE, _REPLY_PROBE = "ANSWER-PROBE-7f3a", "REPLY-PROBE-7f3a"


@dataclass(frozen=True)
class ChatJoint:
    """What a chat template writes around a reply: ``before`` (the answer's end-of-turn token and
    the user turn's opening) and ``after`` (the user turn's end and the next assistant opening)."""

    before: str
    after: str

    @classmethod
    def of(cls, tokenizer: Any, chat_template_kwargs: Mapping[str, Any] | None = None) -> ChatJoint:
        """Read from the tokenizer's own template by rendering two probe messages (with the
        template settings the game is rendered with: a setting may change the turns' markup)."""
        chat = [
            {"role": "user", "content": "u"},
            {"role": "assistant", "content": _ANSWER_PROBE},
            {"role": "user", "content": _REPLY_PROBE},
        ]
        text = tokenizer.apply_chat_template(
            chat, tokenize=False, add_generation_prompt=True, **(chat_template_kwargs or {})
        )
        if _ANSWER_PROBE not in text or _REPLY_PROBE not in text:
            raise ValueError("the tokenizer's chat template drops assistant or user messages")
        before, after = text.split(_ANSWER_PROBE, 1)[1].split(_REPLY_PROBE, 1)
        return cls(before=before, after=after)


@dataclass
class Conversation:
    """One game's ids: its first prompt, then everything after it, and which of those the model wrote."""

    prompt_ids: list[int]
    completion_ids: list[int] = field(default_factory=list)
    mask: list[int] = field(default_factory=list)  # 1: the model's token; 0: the game's reply
    states: list[GameState] = field(default_factory=list)  # the state before each answer
    answers: list[str] = field(default_factory=list)  # each answer's text


class ConversationPlayer:
    """A causal LM playing each game as one conversation, all running games in one batch a turn.

    ``max_new_tokens`` caps a turn; ``max_game_tokens`` caps everything after the first prompt
    (answers and replies). A turn starts only with its whole ``max_new_tokens`` of room after the
    reply: where the game has less left, it is cut before that turn (the player answers None; the
    game is lost, and recorded as cut). A turn is never squeezed: a squeezed answer would be judged
    as a lost turn for a limit that single-turn play does not have, and, ending without its
    end-of-turn token, it would make TRL's ``mask_truncated_completions`` drop the whole game from
    the loss. So every judged turn had the room a single turn has, and a cut game ends on an answer
    the model wrote whole. Training needs the cap (a step's memory and time grow with it);
    evaluation leaves it out (None), so that a game is never lost to a budget that a turn-by-turn
    player does not have: six turns of ``max_new_tokens`` bound a game anyway.
    Greedy by default; ``generation_config`` (a training run's sampling settings) overrides
    ``temperature``; ``end_after`` None lets a turn run on past its answer (a preset's
    ``end_at_answer`` false); ``chat_template_kwargs`` go to the template as training passes them.
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        prompt_style: str = "full",
        max_new_tokens: int = EVAL_MAX_NEW_TOKENS,
        max_game_tokens: int | None = None,
        temperature: float = 0.0,
        batch_size: int = 32,
        seed: int | None = 0,
        adapter_off: bool = False,
        generation_config: Any = None,
        end_after: str | None = GUESS_CLOSE,
        chat_template_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        self.model, self.tokenizer, self.prompt_style = model, tokenizer, prompt_style
        self.max_new_tokens, self.max_game_tokens = max_new_tokens, max_game_tokens
        self.temperature, self.batch_size, self.seed = temperature, batch_size, seed
        self.adapter_off, self.generation_config, self.end_after = adapter_off, generation_config, end_after
        if max_game_tokens is not None and max_game_tokens < max_new_tokens:
            raise ValueError(f"max_game_tokens {max_game_tokens} is less than one turn ({max_new_tokens})")
        self.chat_template_kwargs = dict(chat_template_kwargs or {})
        self.joint = ChatJoint.of(tokenizer, self.chat_template_kwargs)
        self.stop_ids = set(eos_token_ids(model, tokenizer))
        self.conversations: dict[int, Conversation] = {}
        self.calls = 0

    @property
    def budget(self) -> float:
        return math.inf if self.max_game_tokens is None else self.max_game_tokens

    def _encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _reply_ids(self, conversation: Conversation, state: GameState) -> list[int]:
        """The game's reply to the last answer, as ids: the template's end of that answer, less the
        end-of-turn token where the model wrote it itself (Qwen's ``<|im_end|>``, Gemma's
        ``<end_of_turn>``: its token, not the game's), then the new state's message in a user turn."""
        before = self.joint.before
        last = conversation.completion_ids[-1:]
        if last and last[0] in self.stop_ids:
            written = self.tokenizer.decode(last)
            if written and before.startswith(written):
                before = before[len(written) :]
        reply = state.reply(self.prompt_style)
        return self._encode(before + reply + self.joint.after)

    def __call__(self, states: Sequence[GameState]) -> list[str | None]:
        self.calls += 1
        asked: list[tuple[int, Conversation, int]] = []  # (position in states, conversation, room)
        answers: list[str | None] = [None] * len(states)
        for position, state in enumerate(states):
            conversation = self.conversations.get(state.game)
            if conversation is None:
                prompt = self.tokenizer.apply_chat_template(
                    state.messages(self.prompt_style),
                    tokenize=False,
                    add_generation_prompt=True,
                    **self.chat_template_kwargs,
                )
                conversation = self.conversations[state.game] = Conversation(self._encode(prompt))
            else:
                reply = self._reply_ids(conversation, state)
                if len(conversation.completion_ids) + len(reply) + self.max_new_tokens > self.budget:
                    continue  # no room for the reply and a whole turn: the game is cut here
                conversation.completion_ids += reply
                conversation.mask += [0] * len(reply)
            conversation.states.append(state)
            asked.append((position, conversation, self.max_new_tokens))
        if not asked:
            return answers
        sequences = [c.prompt_ids + c.completion_ids for _, c, _ in asked]
        seed = None if self.seed is None else self.seed + self.calls - 1
        adapter = self.model.disable_adapter() if self.adapter_off else nullcontext()
        with adapter:
            written = generate_from_ids(
                self.model,
                self.tokenizer,
                sequences,
                [room for _, _, room in asked],
                self.temperature,
                self.batch_size,
                seed,
                self.end_after,
                self.generation_config,
            )
        for (position, conversation, _), ids in zip(asked, written):
            conversation.completion_ids += ids
            conversation.mask += [1] * len(ids)
            text = self.tokenizer.decode(ids, skip_special_tokens=True)
            conversation.answers.append(text)
            answers[position] = text
        return answers


# ---------------------------------------------------------------------------------------------
# Whole-game GRPO rollouts
# ---------------------------------------------------------------------------------------------


def prompt_key(prompt: Any) -> str:
    """A dataset prompt (chat messages) as a lookup key: the rollout receives prompts only."""
    return json.dumps(prompt, sort_keys=True, ensure_ascii=False)


def start_state(row: Mapping[str, Any], prompt_style: str) -> GameState:
    """The game state a dataset row's prompt shows: its history, turned-down answers and turns
    left (found by matching the prompt: a model's own game may have lost turns before its last guess)."""
    history = as_history(row["history"])
    rejected = tuple(row.get("rejected") or ())
    most = MAX_GUESSES - len(history) - len(rejected)
    for turns_left in range(most, 0, -1):
        state = GameState(history, turns_left, rejected)
        if state.messages(prompt_style) == list(row["prompt"]):
            return state
    return GameState(history, most, rejected)


class WholeGameRollout:
    """GRPO's groups played as whole games (``GRPOTrainer(rollout_func=...)``).

    TRL calls it with the prompts of this process's rows, each prompt repeated ``num_generations``
    times in a row. The rows' secrets and states are looked up by prompt: a prompt that several rows
    share (an empty board) takes one of their secrets a group, so the copies of one prompt always
    play the same secret, and a group compares answers to the same game.

    Which secret a group plays is a function of the training step it is played at, never of what
    this object played before (:meth:`secret_index`): a resumed run plays the secrets an
    uninterrupted one would have played from that step, not the first ones again (a counter kept
    here would restart at zero with every ``--resume``). One process only: each process would hold
    its own table, and TRL may spread a group over processes (``rft`` refuses several).
    """

    def __init__(
        self,
        rows: Sequence[Mapping[str, Any]],
        prompt_style: str,
        num_generations: int,
        max_new_tokens: int,
        max_game_tokens: int,
        end_after: str | None = GUESS_CLOSE,
    ) -> None:
        self.prompt_style, self.num_generations = prompt_style, num_generations
        self.max_new_tokens, self.max_game_tokens = max_new_tokens, max_game_tokens
        self.end_after = end_after
        self.games: dict[str, list[tuple[str, GameState, list[Any]]]] = defaultdict(list)
        for row in rows:
            state = start_state(row, prompt_style)
            self.games[prompt_key(row["prompt"])].append((row["secret"], state, list(row["history"])))
        self.step, self.calls_this_step = -1, 0

    def secret_index(self, key: str, step: int, call: int, group: int) -> int:
        """The row a group of prompt ``key`` plays: the ``group``-th of that prompt in the ``call``-th
        rollout of training step ``step``. The groups of one call take the rows in turn from a start
        drawn from (step, call, prompt), so they play different secrets where the prompt has enough."""
        start = zlib.crc32(f"{step}:{call}:{key}".encode())
        return (start + group) % len(self.games[key])

    def groups(self, prompts: Sequence[Any]) -> list[tuple[int, int]]:
        """(first index, size) of each run of one prompt, cut into groups of ``num_generations``."""
        groups: list[tuple[int, int]] = []
        start = 0
        for index in range(1, len(prompts) + 1):
            full = index - start == self.num_generations
            if index == len(prompts) or full or prompts[index] != prompts[start]:
                groups.append((start, index - start))
                start = index
        return groups

    def play(
        self,
        prompts: Sequence[Any],
        model: Any,
        tokenizer: Any,
        generation_config: Any = None,
        step: int = 0,
        chat_template_kwargs: Mapping[str, Any] | None = None,
    ) -> tuple[dict[str, list[Any]], dict[str, float]]:
        """Every prompt's game, played to its end: TRL's rollout fields (``prompt_ids``,
        ``completion_ids``, ``logprobs``, ``env_mask``) and each game's fields for the rewards;
        and the batch's game statistics (win rate, turns, cut games) to log. ``step``: the training
        step (``trainer.state.global_step``), which picks the groups' secrets."""
        if step != self.step:
            self.step, self.calls_this_step = step, 0
        call = self.calls_this_step
        self.calls_this_step += 1
        secrets: list[str] = []
        starts: list[GameState] = []
        histories: list[list[Any]] = []
        groups_of: dict[str, int] = defaultdict(int)
        for first, size in self.groups(prompts):
            key = prompt_key(prompts[first])
            if key not in self.games:
                raise ValueError("a prompt that no dataset row holds: the rollout cannot tell its secret")
            secret, state, history = self.games[key][self.secret_index(key, step, call, groups_of[key])]
            groups_of[key] += 1
            secrets += [secret] * size
            starts += [state] * size
            histories += [history] * size
        player = ConversationPlayer(
            model,
            tokenizer,
            self.prompt_style,
            self.max_new_tokens,
            self.max_game_tokens,
            batch_size=len(prompts),
            seed=None,
            generation_config=generation_config,
            end_after=self.end_after,
            chat_template_kwargs=chat_template_kwargs,
        )
        records = play_games(player, secrets, starts=starts)
        conversations = [player.conversations[i] for i in range(len(prompts))]
        fields = rollout_fields(records, conversations, starts, histories)
        return fields, game_statistics(records, starts)


def rollout_fields(
    records: Sequence[GameRecord],
    conversations: Sequence[Conversation],
    starts: Sequence[GameState],
    histories: Sequence[list[Any]],
) -> dict[str, list[Any]]:
    """What TRL takes from a rollout, and each game's fields, which reach the rewards by name:
    ``game_turns`` (each turn's text, and the history and turned-down answers it was written
    after), ``won``, ``guesses`` (all the game's turns, the start's included) and ``cut``."""
    return {
        "prompt_ids": [c.prompt_ids for c in conversations],
        "completion_ids": [c.completion_ids for c in conversations],
        "logprobs": None,
        "env_mask": [c.mask for c in conversations],
        "secret": [r.secret for r in records],
        "history": list(histories),
        "game_turns": [
            [
                {
                    "text": text,
                    "history": [entry.to_dict() for entry in state.history],
                    "rejected": list(state.rejected),
                }
                for state, text in zip(c.states, c.answers)
            ]
            for c in conversations
        ],
        "won": [r.won for r in records],
        "guesses": [MAX_GUESSES - start.turns_left + len(r.turns) for r, start in zip(records, starts)],
        "cut": [r.cut for r in records],
    }


def game_statistics(records: Sequence[GameRecord], starts: Sequence[GameState]) -> dict[str, float]:
    """The batch's games at a glance, logged each step beside the rewards."""
    count = max(1, len(records))
    return {
        "games/win_rate": sum(r.won for r in records) / count,
        "games/mean_turns": sum(len(r.turns) for r in records) / count,
        "games/cut_rate": sum(r.cut for r in records) / count,
        "games/mean_start_guesses": sum(len(s.history) for s in starts) / count,
    }
