import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from rft.wordle import words
from rft.wordle.words import allowed_words, answer_words, encode_words, is_allowed, validate_word

REPO = Path(__file__).resolve().parents[1]


def test_lists_have_the_original_counts_and_checksums():
    assert len(answer_words()) == 2315
    assert len(allowed_words()) == 12972
    for name, digest in {
        "answers.txt": "f40e47975cf360ff9febe7d49c8e285054d8fa3fb9644cea575922060951d6ee",
        "allowed.txt": "feacc549249b5dcb43e2799fbbcda14ebc33d55904fb15d043779104e60c1579",
    }.items():
        assert hashlib.sha256((REPO / "data" / "wordle" / name).read_bytes()).hexdigest() == digest


@pytest.mark.parametrize("word_list", [answer_words, allowed_words])
def test_every_word_is_five_lowercase_letters_sorted_without_duplicates(word_list):
    listed = word_list()
    assert all(len(w) == 5 and w.isascii() and w.isalpha() and w.islower() for w in listed)
    assert len(set(listed)) == len(listed)
    assert list(listed) == sorted(listed)


def test_answers_are_allowed_guesses():
    assert set(answer_words()) <= set(allowed_words())


def test_validate_word_lowercases_and_names_the_word_and_rule():
    assert validate_word("CrAnE") == "crane"
    with pytest.raises(ValueError, match=r"'cran'.*exactly 5 ASCII letters"):
        validate_word("cran")
    with pytest.raises(ValueError, match=r"'cr4ne'"):
        validate_word("cr4ne")
    with pytest.raises(ValueError, match=r"'crâne'"):
        validate_word("crâne")
    with pytest.raises(ValueError, match=r"'qzxvw'.*allowed guesses"):
        validate_word("qzxvw", must_be_allowed=True)
    with pytest.raises(ValueError, match="not a word"):
        validate_word(None)


def test_is_allowed_ignores_case_and_rejects_non_words():
    assert is_allowed("CRANE") and is_allowed("soare")
    assert not is_allowed("qzxvw") and not is_allowed("") and not is_allowed(None)


def test_encode_words_maps_letters_to_numbers():
    assert encode_words(["abcde", "zzzzz"]).tolist() == [[0, 1, 2, 3, 4], [25, 25, 25, 25, 25]]
    assert encode_words([]).shape == (0, 5)


def test_a_broken_list_is_reported_with_its_line(tmp_path):
    path = tmp_path / "answers.txt"
    path.write_text("crane\nslate\nbad\n")
    with pytest.raises(ValueError, match=r"answers.txt:3: 'bad'"):
        words._read_word_list(path)
    path.write_text("crane\ncrane\n")
    with pytest.raises(ValueError, match=r"answers.txt:2: 'crane' appears twice"):
        words._read_word_list(path)


@pytest.mark.slow
def test_a_plain_wheel_install_ships_the_word_lists(tmp_path):
    """`pip install .` (not editable) must find the lists without the checkout."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            tmp_path,
            REPO,
        ],
        check=True,
    )
    (wheel,) = tmp_path.glob("rft-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "rft/wordle/data/answers.txt" in names and "rft/wordle/data/allowed.txt" in names
    target = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(target)
    probe = (
        "from rft.wordle import words; "
        "print(len(words.answer_words()), len(words.allowed_words()), words.__file__)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env={"PYTHONPATH": str(target)},
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    counts_and_origin = out.stdout.split()
    assert counts_and_origin[:2] == ["2315", "12972"]
    assert counts_and_origin[2].startswith(str(target))
