import io
import json

import pytest
from rich.console import Console

from rft.evaluation import evaluate_model
from rft.stats import clustered_wilson_interval, wilson_interval
from rft.terminal import play_human
from rft.wordle.dataset import answer_split
from rft.wordle.held_out_games import compare, evaluate_players, held_out_secrets, markdown_table
from rft.wordle.play import GameRecord, game_metrics, play_games, policy_player, states_met
from rft.wordle.solver import EntropySolver, random_valid_policy


def test_wilson_interval_known_values():
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.27753), abs=1e-5)
    assert wilson_interval(5, 10) == pytest.approx((0.23659, 0.76341), abs=1e-5)
    assert wilson_interval(10, 10) == pytest.approx((0.72247, 1.0), abs=1e-5)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def scripted(rounds):
    """A player that answers round r with rounds[r] (one text per running game, in order)."""
    calls = iter(rounds)

    def play(states):
        answers = next(calls)
        assert len(answers) == len(states)
        return answers

    return play


def test_metrics_of_crafted_games():
    good = "<think>\nclues\n</think>\n<guess>{}</guess>"
    rounds = [
        [good.format("speed"), "I have no idea"],
        ["<guess>abide</guess>", good.format("qzxvw")],
        [good.format("abide")],
        [good.format("abide")],
        [good.format("abide")],
        [good.format("abide")],
    ]
    records = play_games(scripted(rounds), ["abide", "crane"])
    assert [r.won for r in records] == [True, False] and [r.guesses for r in records] == [2, 6]
    assert records[1].turns[0].guess is None and records[1].turns[0].text == "I have no idea"
    metrics = game_metrics(records)
    assert metrics["games"] == 2 and metrics["wins"] == 1 and metrics["win_rate"] == 0.5
    assert metrics["win_rate_ci95"] == pytest.approx(list(wilson_interval(1, 2)))
    assert metrics["mean_guesses_when_won"] == 2
    assert metrics["guess_distribution"] == {"1": 0, "2": 1, "3": 0, "4": 0, "5": 0, "6": 0, "lost": 1}
    assert metrics["turns"] == 8
    assert metrics["format_valid_rate"] == 5 / 8  # SPEED and four ABIDEs are exact; three are not
    assert metrics["valid_guess_rate"] == 6 / 8  # the prose and QZXVW lose their turns
    assert metrics["invalid_word_rate"] == 1 / 7  # of seven five-letter guesses, QZXVW is not a word
    assert metrics["consistency_rate"] == 1 / 4  # ABIDE after SPEED fits; ABIDE again after ABIDE does not
    assert metrics["consistency_turns"] == 4
    # Per-turn rates get intervals over games. Format: 1 of 2 and 4 of 6 differ less between the
    # games than independent turns would, so the 8 turns keep Wilson's interval.
    assert metrics["format_valid_rate_ci95"] == pytest.approx(list(wilson_interval(5, 8)))
    # Consistency: 1 of 1 against 0 of 3, a design effect of 3, so the 4 turns count as 4/3.
    assert metrics["consistency_rate_ci95"] == pytest.approx([0.0189, 0.8523], abs=1e-4)
    assert metrics["consistency_rate_ci95"] == pytest.approx(list(clustered_wilson_interval([1, 0], [1, 3])))
    assert metrics["lost_turns_retried"] == 2 and metrics["rejected_repeated_rate"] == 0.0
    assert metrics["recovered_after_lost_rate"] == 1 / 2  # QZXVW lost too; ABIDE got in
    assert metrics["replayed_guess_rate"] == 3 / 6  # ABIDE three times after the first
    replayed = clustered_wilson_interval([0, 3], [2, 4])
    assert metrics["replayed_guess_rate_ci95"] == pytest.approx(list(replayed))
    # Both lost turns were in the second game: one game, one observation.
    assert metrics["rejected_repeated_rate_ci95"] == pytest.approx(list(wilson_interval(0, 1)))
    assert metrics["recovered_after_lost_rate_ci95"] == pytest.approx([0.0546, 0.9454], abs=1e-4)
    # After each game's first accepted guess: ABIDE once (the win), then ABIDE three times.
    assert metrics["later_guesses"] == 4 and metrics["distinct_later_guesses"] == 1
    assert metrics["top_later_guess"] == "abide" and metrics["top_later_guess_share"] == 1.0
    saved = [GameRecord.from_dict(json.loads(json.dumps(r.to_dict()))) for r in records]
    assert game_metrics(saved) == metrics


class ShortStylePlayer:
    """A player prompted in the short style, as a model player is: its turns are judged by it."""

    prompt_style = "short"

    def __init__(self, rounds):
        self.play = scripted(rounds)

    def __call__(self, states):
        return self.play(states)


def test_a_players_turns_are_judged_in_the_style_it_was_prompted_in():
    rounds = [
        ["<guess>SPEED</guess>", "<think>\nclues\n</think>\n<guess>crane</guess>"],
        ["<guess>ABIDE</guess>"],
    ]
    short = play_games(ShortStylePlayer(rounds), ["abide", "crane"])
    assert [t.exact_format for r in short for t in r.turns] == [True, True, False]
    assert game_metrics(short)["format_valid_rate"] == 2 / 3
    full = play_games(scripted(rounds), ["abide", "crane"])  # no style: the full style's shape
    assert [t.exact_format for r in full for t in r.turns] == [False, False, True]
    assert [r.won for r in short] == [r.won for r in full] == [True, True]


def test_metrics_count_a_rejected_answer_written_again_whatever_its_case():
    rounds = [
        ["<guess>CRANX</guess>"],
        ["<think>\nsame\n</think>\n<guess>cranx</guess>"],
        ["<guess>slate</guess>"],
    ]
    rounds += [["<guess>TOO LONG</guess>"], ["<guess>crane</guess>"]]
    (record,) = play_games(scripted(rounds), ["crane"])
    metrics = game_metrics([record])
    assert record.won and metrics["lost_turns_retried"] == 3
    assert metrics["rejected_repeated_rate"] == 1 / 3  # CRANX again; then SLATE, then CRANE
    assert metrics["recovered_after_lost_rate"] == 2 / 3  # SLATE and CRANE were accepted
    assert metrics["replayed_guess_rate"] == 0.0


def test_lost_turns_are_named_in_the_next_state_until_a_guess_is_accepted():
    seen = []

    def player(states):
        seen.append([s.rejected for s in states])
        answers = [["<guess>DICE</guess>"], ["no tags"], ["<guess>crane</guess>"], ["<guess>abide</guess>"]]
        return answers[len(seen) - 1]

    (record,) = play_games(player, ["abide"])
    assert seen == [[()], [("DICE",)], [("DICE", "")], [()]]
    assert record.won and record.guesses == 4


def test_a_recorded_game_gives_back_every_state_its_player_was_shown():
    shown = []
    rounds = [
        ["<guess>SOARE</guess>", "<guess>CRANE</guess>"],
        ["<guess>BELL</guess>"],
        ["<guess>BELL</guess>"],
        ["no tags"],
        ["<guess>think</guess>"],
        ["<guess>abide</guess>"],
    ]
    answer = scripted(rounds)

    def player(states):
        shown.append(list(states))
        return answer(states)

    records = play_games(player, ["abide", "crane"])
    replayed = [states_met(record) for record in records]
    assert replayed[1] == [shown[0][1]]  # CRANE won at once
    assert replayed[0] == [round_states[0] for round_states in shown]
    assert [s.rejected for s in replayed[0]] == [
        (),
        (),
        ("BELL",),
        ("BELL", "BELL"),
        ("BELL", "BELL", ""),
        (),
    ]
    assert [len(s.history) for s in replayed[0]] == [0, 1, 1, 1, 1, 2]


def test_solver_beats_random_on_the_same_held_out_secrets(tmp_path):
    secrets = held_out_secrets(20, seed=3)
    assert set(secrets) <= set(answer_split()["test"]) and len(set(secrets)) == 20
    players = {"solver": policy_player(EntropySolver()), "random-valid": policy_player(random_valid_policy)}
    result = evaluate_players(players, secrets, tmp_path)
    assert result["metrics"]["solver"]["win_rate"] == 1.0
    assert result["metrics"]["solver"]["format_valid_rate"] == 1.0
    assert result["metrics"]["random-valid"]["win_rate"] < 0.5
    saved = json.loads((tmp_path / "eval.json").read_text())
    assert saved["secrets"] == secrets and len(saved["games"]["solver"]) == 20
    table = (tmp_path / "eval.md").read_text()
    assert "| solver | 100.0% (83.9%–100.0%) |" in table
    assert (tmp_path / "guesses.png").stat().st_size > 0
    assert (tmp_path / "rates.png").stat().st_size > 0


def test_each_player_plays_under_a_bar_that_ends_full_even_when_every_game_is_won_early(tmp_path, capsys):
    players = {"solver": policy_player(EntropySolver()), "random-valid": policy_player(random_valid_policy)}
    evaluate_players(players, held_out_secrets(3, seed=3), tmp_path)
    bars = capsys.readouterr().err
    assert "playing solver: 100%" in bars and "6/6" in bars and "playing random-valid: 100%" in bars
    evaluate_players(players, held_out_secrets(3, seed=3), tmp_path, progress=False)
    assert "playing" not in capsys.readouterr().err


def test_compare_reports_difference_and_overlap():
    base = {"win_rate": 0.1, "win_rate_ci95": [0.05, 0.2], "format_valid_rate": 0.5}
    better = {"win_rate": 0.6, "win_rate_ci95": [0.5, 0.7], "format_valid_rate": 0.9}
    close = {"win_rate": 0.15, "win_rate_ci95": [0.08, 0.25], "format_valid_rate": 0.5}
    assert compare(base, better) == {
        "win_rate_difference": pytest.approx(0.5),
        "intervals_overlap": False,
        "format_valid_rate_difference": pytest.approx(0.4),
    }
    assert compare(base, close)["intervals_overlap"] is True
    result = {"secrets": ["abide"], "metrics": {}, "vs_base": {"trained": compare(base, better)}}
    assert (
        "trained − base: win rate +50.0 points, format-valid rate +40.0 points; "
        "the win-rate 95% intervals do not overlap" in markdown_table(result)
    )


def test_a_person_can_play_and_bad_words_cost_no_turn():
    answers = iter(["abc", "qzxvw", "crane", "abide"])
    out = io.StringIO()
    play_human(secret="abide", read=lambda prompt: next(answers), console=Console(file=out, width=120))
    text = out.getvalue()
    assert "'abc' is not a Wordle word" in text and "'qzxvw' is not in Wordle's list" in text
    assert "CRANE → C(❌) R(❌) A(-) N(❌) E(✔)" in text
    assert "You won: the word was ABIDE." in text


@pytest.mark.slow
def test_a_tiny_model_plays_whole_games_on_cpu(tmp_path):
    result = evaluate_model("tiny-test", games=2, out_dir=tmp_path, baselines=False, max_new_tokens=8)
    base = result["metrics"]["base"]
    assert base["games"] == 2 and base["turns"] == 12  # a random model never wins: six turns each
    assert set(result["games"]["base"][0]) == {"secret", "won", "guesses", "cut", "turns"}


def test_watching_a_model_says_why_each_lost_turn_was_lost():
    from rich.console import Console

    from rft.terminal import watch_model

    console = Console(record=True, width=200)
    assert watch_model("tiny-test", secret="crane", console=console) == 0
    shown = console.export_text()
    assert shown.count("A turn was lost to an answer with no guess tag. The turn is lost.") == 6
    assert "The model lost in 6 turns; the word was CRANE." in shown


@pytest.mark.slow
def test_rft_eval_command_writes_its_files(tmp_path, capsys):
    from rft.cli import main

    arguments = ["eval", "--model", "tiny-test", "--games", "1", "--no-baselines", "--max-new-tokens", "4"]
    assert main([*arguments, "--out", str(tmp_path)]) == 0
    assert {p.name for p in tmp_path.iterdir()} == {"eval.json", "eval.md", "guesses.png", "rates.png"}
    assert "| base | 0.0%" in capsys.readouterr().out


@pytest.mark.slow
def test_base_and_trained_share_one_copy_and_the_base_plays_as_the_plain_model(tmp_path):
    from rft.models import load_models
    from rft.training.presets import get_preset
    from rft.training.run import train

    run = train(get_preset("tiny-test-sft"), runs_dir=tmp_path / "runs", progress=False)
    base, trained = load_models(str(run.run_dir))
    assert base.model is trained.model and base.adapter_off and not trained.adapter_off
    settings = {"games": 2, "baselines": False, "max_new_tokens": 8}
    shared = evaluate_model(str(run.run_dir), out_dir=tmp_path / "shared", **settings)
    plain = evaluate_model("tiny-test-sft", out_dir=tmp_path / "plain", **settings)
    assert shared["games"]["base"] == plain["games"]["base"]


def test_the_rates_chart_takes_an_interval_that_float_noise_put_below_its_rate(tmp_path):
    from rft.wordle.held_out_games import plot_rates

    metrics = {
        "solver": {"win_rate": 1.0, "win_rate_ci95": [0.98, 0.9999999999999999], "format_valid_rate": 1.0},
        "model": {"win_rate": 0.0, "win_rate_ci95": [0.0, 0.02], "format_valid_rate": None},
    }
    for row in metrics.values():
        row.update(valid_guess_rate=1.0, consistency_rate=None)
    assert plot_rates(metrics, tmp_path / "rates.png").stat().st_size > 0
