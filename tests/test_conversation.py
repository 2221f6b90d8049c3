"""Whole games as one chat each (rft.wordle.conversation): the ids kept in token space, the mask on
the model's own tokens, one secret a group, cut games, and whole-game GRPO training."""

import copy
import json
from contextlib import contextmanager

import pytest

from rft.training.config import apply_overrides
from rft.training.policy import load_tiny
from rft.training.presets import get_preset
from rft.training.run import read_metrics, train
from rft.wordle.conversation import ChatJoint, ConversationPlayer, WholeGameRollout, start_state
from rft.wordle.dataset import build_rows, make_row
from rft.wordle.game import GuessWithFeedback
from rft.wordle.play import GameState, game_metrics, play_games, policy_player
from rft.wordle.prompts import describe_clues
from rft.wordle.solver import EntropySolver
from rft.wordle.task import whole_games


@pytest.fixture(scope="module")
def tiny():
    return load_tiny(seed=0)


def spans(conversation):
    """The completion's runs of equal mask value, as (mask, ids)."""
    runs = []
    for token, mask in zip(conversation.completion_ids, conversation.mask):
        if runs and runs[-1][0] == mask:
            runs[-1][1].append(token)
        else:
            runs.append((mask, [token]))
    return runs


def test_the_chat_joint_is_read_from_the_template(tiny):
    _, tokenizer = tiny
    joint = ChatJoint.of(tokenizer)
    assert joint.before == "<|im_end|>\n<|im_start|>user\n"
    assert joint.after == "<|im_end|>\n<|im_start|>assistant\n"


def test_a_whole_game_is_the_chat_rendered_turn_by_turn_and_the_mask_is_the_models_tokens(tiny):
    model, tokenizer = tiny
    player = ConversationPlayer(model, tokenizer, "compact", max_new_tokens=10)  # no budget: six turns
    secrets = ["crane", "ghost"]
    records = play_games(player, secrets)
    for index, record in enumerate(records):
        conversation = player.conversations[index]
        assert len(conversation.mask) == len(conversation.completion_ids)
        runs = spans(conversation)
        # Answers and replies alternate, an answer first: every model turn is one run of ones.
        assert [mask for mask, _ in runs] == [1, 0] * (len(record.turns) - 1) + [1]
        answers = [tokenizer.decode(ids, skip_special_tokens=True) for mask, ids in runs if mask]
        assert answers == conversation.answers == [turn.text for turn in record.turns]
        # The ids are the chat a template renders from the same messages: nothing was re-rendered,
        # and nothing the game wrote is marked as the model's.
        chat = conversation.states[0].messages("compact")
        for state, answer in zip(conversation.states[1:], conversation.answers):
            chat += [
                {"role": "assistant", "content": answer},
                {"role": "user", "content": state.reply("compact")},
            ]
        chat.append({"role": "assistant", "content": conversation.answers[-1]})
        rendered = tokenizer.apply_chat_template(chat, tokenize=False)
        written = tokenizer.decode(conversation.prompt_ids + conversation.completion_ids)
        assert rendered.startswith(written)
        assert rendered[len(written) :] in ("<|im_end|>\n", "\n")


def test_a_game_over_its_token_budget_is_cut_and_counted_as_lost(tiny):
    model, tokenizer = tiny
    player = ConversationPlayer(model, tokenizer, "compact", max_new_tokens=10, max_game_tokens=60)
    records = play_games(player, ["crane", "ghost"])
    assert all(record.cut and not record.won for record in records)
    assert all(len(player.conversations[i].completion_ids) <= 60 for i in range(2))
    metrics = game_metrics(records)
    assert metrics["cut_games"] == 2 and metrics["wins"] == 0
    assert all(record.to_dict()["cut"] for record in records)


def test_games_start_from_a_mid_game_state_and_a_player_may_stop_one():
    start = GameState((GuessWithFeedback.score("adieu", "crane"),), 5)
    records = play_games(policy_player(EntropySolver()), ["crane"], starts=[start])
    assert records[0].won and records[0].turns[0].consistent is not None  # its first turn had clues

    def gives_up_on_the_second(states):
        return [None if state.game == 1 else "<think>x</think><guess>crane</guess>" for state in states]

    records = play_games(gives_up_on_the_second, ["crane", "slate"])
    assert (records[0].won, records[0].cut) == (True, False)
    assert (records[1].won, records[1].cut, records[1].turns) == (False, True, [])
    with pytest.raises(ValueError, match="2 start states for 1 secrets"):
        play_games(gives_up_on_the_second, ["crane"], starts=[start, start])


def test_a_row_gives_back_the_state_its_prompt_shows():
    history = (GuessWithFeedback.score("adieu", "crane"),)
    for turns_left, rejected in [(5, ()), (3, ("crnae",)), (4, ())]:
        row = make_row("crane", history, "own-games", "compact", rejected, turns_left)
        assert start_state(row, "compact") == GameState(history, turns_left, rejected)


def test_the_copies_of_a_prompt_play_one_secret_and_the_next_group_the_next(tiny):
    model, tokenizer = tiny
    empty_board = [make_row(secret, (), "", "compact") for secret in ("crane", "slate", "ghost")]
    rollout = WholeGameRollout(
        empty_board, "compact", num_generations=2, max_new_tokens=6, max_game_tokens=30
    )
    prompts = [empty_board[0]["prompt"]] * 6  # three groups of one prompt
    assert rollout.groups(prompts) == [(0, 2), (2, 2), (4, 2)]
    fields, statistics = rollout.play(prompts, model, tokenizer)
    drawn = fields["secret"]  # each group one secret of the prompt's rows, a different one each
    assert drawn[0::2] == drawn[1::2] and sorted(drawn[0::2]) == ["crane", "ghost", "slate"]
    for key in ("prompt_ids", "completion_ids", "env_mask", "game_turns", "won", "guesses", "cut", "history"):
        assert len(fields[key]) == 6, key
    assert fields["logprobs"] is None
    for ids, mask, turns in zip(fields["completion_ids"], fields["env_mask"], fields["game_turns"]):
        assert len(ids) == len(mask) <= 30 and turns and sum(mask) > 0
        assert all(turn["history"] == [] for turn in turns[:1])
    assert statistics["games/cut_rate"] == 1.0 and statistics["games/win_rate"] == 0.0
    with pytest.raises(ValueError, match="no dataset row holds"):
        rollout.play([[{"role": "user", "content": "hello"}]] * 2, model, tokenizer)


def test_whole_game_grpo_trains_and_logs_its_games(tmp_path):
    """Two steps of whole-game GRPO on the tiny model (both version sets run this file's sibling
    tests; this one runs wherever the tiny model does)."""
    result = train(get_preset("tiny-test-games"), runs_dir=tmp_path, progress=False)
    assert result.global_step == 2
    rows = read_metrics(result.metrics_path)
    for key in ("games/win_rate", "games/mean_turns", "games/cut_rate", "rewards/win_reward/mean"):
        assert key in rows[-1], key
    assert rows[-1]["games/cut_rate"] == 1.0  # the tiny preset's budget cuts every game
    samples = [json.loads(line) for line in (result.run_dir / "samples.jsonl").read_text().splitlines()]
    generations = get_preset("tiny-test-games").trainer_args["num_generations"]
    for step in {row["step"] for row in samples}:
        batch = [row for row in samples if row["step"] == step]
        for first in range(0, len(batch), generations):
            assert len({row["secret"] for row in batch[first : first + generations]}) == 1
    assert all(row["cut"] is True and row["won"] is False and row["guesses"] >= 1 for row in samples)
    assert set(samples[0]["rewards"]) == {
        "format_reward",
        "feedback_reward",
        "guess_value_reward",
        "win_reward",
    }


def test_whole_games_are_checked_before_any_model_loads():
    with pytest.raises(ValueError, match="rollout must be one of"):
        apply_overrides(get_preset("tiny-test"), {"rollout": "episodes"})
    with pytest.raises(ValueError, match="'win' pays a whole game's outcome; it needs --rollout games"):
        apply_overrides(get_preset("tiny-test"), {"rewards": "format=1,win=1"})
    with pytest.raises(ValueError, match="rollout 'games' is for GRPO"):
        apply_overrides(get_preset("tiny-test-sft"), {"rollout": "games"})
    with pytest.raises(ValueError, match="has no games to play"):
        apply_overrides(get_preset("tiny-test-gsm8k"), {"rollout": "games"})
    with pytest.raises(ValueError, match="max_game_tokens 8 is less than one turn"):
        apply_overrides(get_preset("tiny-test-games"), {"max_game_tokens": "8"})
    games = apply_overrides(get_preset("tiny-test"), {"rollout": "games"})  # the per-turn rewards, averaged
    assert games.rollout == "games"


def test_a_whole_game_run_is_evaluated_as_it_trained(tmp_path):
    from rft.evaluation import evaluate_model

    run = train(get_preset("tiny-test-games"), runs_dir=tmp_path, progress=False)
    result = evaluate_model(
        str(run.run_dir), games=2, out_dir=tmp_path / "eval", baselines=False, progress=False
    )
    for name in ("base", "trained"):  # one chat a game, as it trained, but no budget: six turns each
        assert result["metrics"][name]["cut_games"] == 0 and result["metrics"][name]["turns"] == 12
    rows = build_rows(get_preset("tiny-test-games").dataset, 0, progress=False)
    assert all(len(row["history"]) <= 2 for row in rows)
    # The same adapter given as --adapter beside a preset that trains single turns (rft eval --model
    # tiny-test --adapter RUN), its run folder or its adapter/ folder: played as it trained too.
    from rft.models import load_models

    for adapter in (run.run_dir, run.run_dir / "adapter"):
        for loaded in load_models("tiny-test", adapter):
            assert (loaded.whole_games, loaded.prompt_style) == (True, "compact"), (adapter, loaded.label)


def test_the_installed_trl_takes_a_rollout_func_and_its_env_mask():
    """Both version sets (TRL 1.15 and 1.16+): the keyword exists, and the rollout path reads the
    mask under the name the rollout returns it."""
    import inspect

    from trl import GRPOTrainer

    assert inspect.signature(GRPOTrainer.__init__).parameters["rollout_func"].default is None
    source = inspect.getsource(GRPOTrainer)
    assert 'extra_fields.pop("env_mask", None)' in source and "self.rollout_func(prompts, self)" in source


def test_the_reply_closes_the_answer_only_where_the_model_did_not(tiny):
    """An answer the model ended with its end-of-turn token keeps that token as its own; one cut at
    the turn's cap gets the template's turn end from the game (masked out)."""
    from rft.wordle.conversation import Conversation

    model, tokenizer = tiny
    player = ConversationPlayer(model, tokenizer, "compact", max_new_tokens=4)
    state = GameState((GuessWithFeedback.score("adieu", "crane"),), 5)
    words = tokenizer("<think>x</think><guess>adieu</guess>", add_special_tokens=False)["input_ids"]
    ended = tokenizer.decode(player._reply_ids(Conversation([1], [*words, tokenizer.eos_token_id]), state))
    cut = tokenizer.decode(player._reply_ids(Conversation([1], words), state))
    assert ended.startswith("\n<|im_start|>user\n") and cut.startswith("<|im_end|>\n<|im_start|>user\n")
    assert ended.endswith("<|im_end|>\n<|im_start|>assistant\n") and "ADIEU" in ended


class ForcedAnswer:
    """Makes a real model's ``generate`` write ``ids`` then its end-of-sequence token, by a logits
    processor put first in the call's list (so a processor the code under test adds, such as the
    one that ends a turn at its answer, still has the last word)."""

    def __init__(self, ids):
        self.ids = list(ids)

    def __call__(self, input_ids, scores):
        if self.start is None:
            self.start = input_ids.shape[1]
        written = input_ids.shape[1] - self.start
        target = self.ids[written] if written < len(self.ids) else self.eos
        scores[:, :] = float("-inf")
        scores[:, target] = 0.0
        return scores

    @contextmanager
    def on(self, model):
        from transformers import LogitsProcessorList

        original = model.generate
        self.eos = model.generation_config.eos_token_id
        self.eos = self.eos[0] if isinstance(self.eos, list) else self.eos

        def generate(*args, logits_processor=None, **kwargs):
            self.start = None
            return original(
                *args, logits_processor=LogitsProcessorList([self, *(logits_processor or [])]), **kwargs
            )

        model.generate = generate
        try:
            yield
        finally:
            del model.generate


def test_a_reply_carries_the_news_not_the_board_again():
    history = (GuessWithFeedback.score("adieu", "crane"), GuessWithFeedback.score("crony", "crane"))
    after_a_guess = GameState(history, 4).reply("compact")
    assert after_a_guess == (
        f"Guess 2: {history[1].render()}\n"
        f"Clues so far: {describe_clues(history)}\n"
        "You have 4 guesses left. Your next guess?"
    )
    assert GameState(history, 4).reply("short") == after_a_guess  # spelled out as the prompt is
    assert GameState(history, 4).reply("full") == (
        f"Guess 2: {history[1].render()}\nYou have 4 guesses left. Your next guess?"
    )
    assert "ADIEU" not in GameState(history, 4).reply("full")  # the earlier row is in the chat already
    after_a_rejection = GameState(history[:1], 4, ("crnae", "")).reply("compact")
    assert after_a_rejection.startswith("Not accepted, at the cost of a turn: (no guess tag). Guess a real")
    assert after_a_rejection.endswith(
        f"\nClues so far: {describe_clues(history[:1])}\nYou have 4 guesses left. Your next guess?"
    )
    assert GameState((), 5, ("abcdefghijklmnop",)).reply("full") == (
        "Not accepted, at the cost of a turn: abcdefghijkl…. Guess a real 5-letter word.\n"
        "You have 5 guesses left. Your next guess?"
    )


def test_a_turn_is_never_squeezed_by_the_budget_the_game_is_cut_before_it(tiny):
    """A second turn that would get less than its whole room is not played: the game ends cut after
    the first answer, which the model wrote whole, and no turn is judged for a budget's limit."""
    model, tokenizer = tiny
    probe = ConversationPlayer(model, tokenizer, "compact", max_new_tokens=10)
    play_games(probe, ["crane"])
    first = probe.conversations[0]
    answer = first.mask.index(0)  # the first answer's length: its reply starts there
    reply = first.mask[answer:].index(1)
    budget = answer + reply + 10 - 1  # one token short of a whole second turn
    player = ConversationPlayer(model, tokenizer, "compact", max_new_tokens=10, max_game_tokens=budget)
    record = play_games(player, ["crane"])[0]
    conversation = player.conversations[0]
    assert (record.cut, record.won, len(record.turns)) == (True, False, 1)
    assert conversation.completion_ids == first.completion_ids[:answer] and conversation.mask == [1] * answer
    player = ConversationPlayer(model, tokenizer, "compact", max_new_tokens=10, max_game_tokens=budget + 1)
    assert len(play_games(player, ["crane"])[0].turns) == 2  # one more token: a whole second turn
    with pytest.raises(ValueError, match="max_game_tokens 9 is less than one turn"):
        ConversationPlayer(model, tokenizer, "compact", max_new_tokens=10, max_game_tokens=9)


def test_a_game_is_rendered_with_the_runs_chat_template_settings(tiny):
    """chat_template_kwargs reach the game's first prompt and the chat joint, as single-turn
    training passes them to TRL's rendering."""
    model, tokenizer = tiny
    tokenizer = copy.deepcopy(tokenizer)
    tokenizer.chat_template = (
        "{% for m in messages %}<|im_start|>{{ m.role }}{{ ' (' + mood + ')' if mood else '' }}\n"
        "{{ m.content }}<|im_end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    )
    player = ConversationPlayer(
        model, tokenizer, "compact", max_new_tokens=4, chat_template_kwargs={"mood": "calm"}
    )
    play_games(player, ["crane"])
    conversation = player.conversations[0]
    assert tokenizer.decode(conversation.prompt_ids).startswith("<|im_start|>system (calm)\n")
    replies = [token for token, mask in zip(conversation.completion_ids, conversation.mask) if mask == 0]
    assert "<|im_start|>user (calm)\n" in tokenizer.decode(replies)
    rows = [make_row("crane", (), "", "compact")]
    rollout = WholeGameRollout(rows, "compact", num_generations=2, max_new_tokens=4, max_game_tokens=40)
    fields, _ = rollout.play([rows[0]["prompt"]] * 2, model, tokenizer, chat_template_kwargs={"mood": "calm"})
    assert tokenizer.decode(fields["prompt_ids"][0]).startswith("<|im_start|>system (calm)\n")


def test_a_resumed_run_goes_on_with_new_secrets_not_the_first_ones_again(tiny):
    """The secrets a group plays follow the training step: a rollout made afresh at step 3 (a
    resumed run) draws what one that played steps 0 to 2 draws at step 3."""
    model, tokenizer = tiny
    rows = [make_row(secret, (), "", "compact") for secret in ("crane", "slate", "ghost", "pious", "vivid")]
    prompts = [rows[0]["prompt"]] * 4  # two groups of the empty board a step

    def played(rollout, step):
        return rollout.play(prompts, model, tokenizer, step=step)[0]["secret"]

    def fresh():
        return WholeGameRollout(rows, "compact", num_generations=2, max_new_tokens=4, max_game_tokens=4)

    uninterrupted = fresh()
    steps = [played(uninterrupted, step) for step in range(4)]
    assert played(fresh(), 3) == steps[3]
    for drawn in steps:  # a group's copies share one secret; the groups of a step differ
        assert drawn[0] == drawn[1] and drawn[2] == drawn[3] and drawn[0] != drawn[2]
    assert len({drawn[0] for drawn in steps}) > 1  # not the same first secret every step
    again = fresh()
    assert played(again, 0) == steps[0] and played(again, 0) != steps[0]  # a second rollout in a step


def test_whole_games_honour_end_at_answer(tiny):
    """end_at_answer false lets each turn of a game run on past its guess, as a single turn does;
    true (the default) ends it there."""
    model, tokenizer = tiny
    preset = get_preset("tiny-test-games")
    rows = [make_row("crane", (), "", "compact")]
    assert whole_games(preset, rows).end_after == "</guess>"
    assert whole_games(apply_overrides(preset, {"end_at_answer": "false"}), rows).end_after is None
    answer = "<think>x</think><guess>crane</guess>"
    forced = ForcedAnswer(tokenizer(answer + " more words", add_special_tokens=False)["input_ids"])
    for end_after, expected in (("</guess>", answer), (None, answer + " more words")):
        player = ConversationPlayer(
            model, tokenizer, "compact", max_new_tokens=len(forced.ids) + 1, end_after=end_after
        )
        with forced.on(model):
            assert player([GameState((), 6)]) == [expected]


def test_whole_games_refuse_vllm_and_several_processes_before_loading(monkeypatch):
    with pytest.raises(ValueError, match="use_vllm: rollout 'games' plays its turns with the trained model"):
        apply_overrides(get_preset("tiny-test-games"), {"use_vllm": "true"})
    apply_overrides(get_preset("tiny-test"), {"use_vllm": "true"})  # single turns may use vLLM
    from rft.training.run import check_before_loading

    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ValueError, match=r"WORLD_SIZE=2: training in several processes"):
        check_before_loading(get_preset("tiny-test-games"))
