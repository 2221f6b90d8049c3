"""Every file the project writes or rewrites is replaced whole: a kill at any moment leaves the old
file or the new one, never a torn one. Checked on the mechanism (a process killed mid-write, and
killed between writing and renaming) and on the code (no module writes a file in place)."""

from __future__ import annotations

import ast
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from rft.files import appending, read_json, replace_text, replacing, write_json, write_jsonl

SRC = Path(__file__).resolve().parents[1] / "src" / "rft"
OLD = [{"step": step, "reward": 0.5} for step in range(1, 2001)]

# The kill comes while the new content is half written, or once written but before the rename.
KILLED_CHILD = """
import os, signal, sys
from rft import files
path, when = sys.argv[1], sys.argv[2]
if when == "before-rename":
    files.os.replace = lambda *a: os.kill(os.getpid(), signal.SIGKILL)
with files.replacing(path) as temporary:
    with temporary.open("w", encoding="utf-8") as handle:
        handle.write('{"step": 1}\\n' * 1000)
        handle.flush()
        if when == "mid-write":
            os.kill(os.getpid(), signal.SIGKILL)
        handle.write('{"step": 2}\\n' * 1000)
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
@pytest.mark.parametrize("when", ["mid-write", "before-rename"])
def test_a_kill_during_a_rewrite_leaves_the_old_file_whole(tmp_path: Path, when: str) -> None:
    path = write_jsonl(tmp_path / "samples.jsonl", OLD)
    before = path.read_bytes()
    done = subprocess.run([sys.executable, "-c", KILLED_CHILD, str(path), when], capture_output=True)
    assert done.returncode == -signal.SIGKILL
    assert path.read_bytes() == before


def test_a_finished_rewrite_replaces_the_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = write_json(tmp_path / "status.json", {"state": "stopped"})
    write_json(path, {"state": "finished"})
    assert json.loads(path.read_text(encoding="utf-8")) == {"state": "finished"}
    assert [p.name for p in tmp_path.iterdir()] == ["status.json"]


def test_an_error_while_writing_keeps_the_old_file_and_removes_the_temporary(tmp_path: Path) -> None:
    path = replace_text(tmp_path / "eval.md", "old")
    with pytest.raises(RuntimeError), replacing(path) as temporary:
        temporary.write_text("half", encoding="utf-8")
        raise RuntimeError("killed")
    assert path.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["eval.md"]


def test_the_temporary_keeps_the_suffix_so_writers_that_go_by_it_still_work(tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure()
    with replacing(tmp_path / "curves.png") as temporary:
        assert temporary.suffix == ".png" and temporary.parent == tmp_path
        fig.savefig(temporary)
    plt.close(fig)
    assert (tmp_path / "curves.png").read_bytes().startswith(b"\x89PNG")


def test_a_damaged_file_is_named_with_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "status.json"
    path.write_text('{"state": "sto', encoding="utf-8")
    with pytest.raises(ValueError, match=r"status.json is damaged .*; delete it"):
        read_json(path, "delete it")


def test_a_torn_status_json_stops_resume_with_one_line_naming_it(tmp_path: Path) -> None:
    from rft.training.run_folder import read_status

    (tmp_path / "status.json").write_text("", encoding="utf-8")
    with pytest.raises(ValueError, match=r"status.json is damaged .* delete it and run the command again"):
        read_status(tmp_path)
    (tmp_path / "status.json").write_text("[1]", encoding="utf-8")
    with pytest.raises(ValueError, match="not a JSON object"):
        read_status(tmp_path)


def test_an_atomic_rewrite_replaces_a_symlink_instead_of_writing_through_it(tmp_path: Path) -> None:
    """rft.files writes a temporary file and renames it over the name: a link there is replaced, and
    what it pointed to is untouched (a link planted at the temporary name too)."""
    outside = tmp_path / "notes.txt"
    outside.write_text("my notes\n", encoding="utf-8")
    target = tmp_path / "status.json"
    try:
        target.symlink_to(outside)
        (tmp_path / f".status.{os.getpid()}.tmp.json").symlink_to(outside)
    except OSError:
        pytest.skip("no symbolic links here")
    write_json(target, {"state": "finished"})
    assert not target.is_symlink()
    assert json.loads(target.read_text(encoding="utf-8")) == {"state": "finished"}
    assert outside.read_text(encoding="utf-8") == "my notes\n"


def test_an_appended_log_line_replaces_a_symlink_instead_of_writing_through_it(tmp_path: Path) -> None:
    outside = tmp_path / "notes.txt"
    outside.write_text("my notes\n", encoding="utf-8")
    metrics = tmp_path / "metrics.jsonl"
    try:
        metrics.symlink_to(outside)
    except OSError:
        pytest.skip("no symbolic links here")
    for step in (1, 2):
        with appending(metrics) as handle:
            handle.write(json.dumps({"step": step}) + "\n")
    assert not metrics.is_symlink()
    assert metrics.read_text(encoding="utf-8") == '{"step": 1}\n{"step": 2}\n'
    assert outside.read_text(encoding="utf-8") == "my notes\n"


# Writes that are not a rewrite of a project file: appending one line (a torn last line is dropped
# on reading), a zero-byte probe of a folder, and scratch files in a temporary folder that is
# removed whatever happens. (The lock is written in place with os.write under its OS lock, as it
# must keep its identity; a torn one is taken over with a note.)
NOT_REWRITES = {
    ("training/run_folder.py", "write_bytes"),
    ("weights.py", "write_text"),
    ("weights.py", "open"),
}
WRITERS = {"write_text", "write_bytes", "savefig", "save", "fdopen", "dump"}


def in_place_writes() -> set[tuple[str, str]]:
    """Every call in the package that writes a file other than through rft.files: (module, call)."""
    found = set()
    for path in SRC.rglob("*.py"):
        module = str(path.relative_to(SRC))
        if module == "files.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not isinstance(node.func, (ast.Attribute, ast.Name)):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id
            if isinstance(node.func, ast.Name) and name != "open":
                continue  # rft.files' own replace_text and write_json, called by name
            if name == "open":
                modes = [
                    a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)
                ]
                if not any(m.startswith(("w", "x")) for m in modes):
                    continue  # reading or appending
            elif name not in WRITERS:
                continue
            if name in {"savefig", "save"} and "temporary" in map(ast.unparse, node.args):
                continue  # written through rft.files.replacing
            found.add((module, name))
    return found


def test_no_module_writes_a_file_in_place() -> None:
    assert in_place_writes() - NOT_REWRITES == set()


def test_the_check_finds_an_in_place_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "bad.py").write_text('from pathlib import Path\nPath("x.json").write_text("{}")\n')
    monkeypatch.setattr(sys.modules[__name__], "SRC", tmp_path)
    assert in_place_writes() == {("bad.py", "write_text")}
    assert os.path.exists(tmp_path / "bad.py")


def test_results_that_cannot_be_written_where_asked_are_kept_and_said_where(tmp_path, capsys, monkeypatch):
    """Minutes of evaluation are not lost to a disk that fills at the end: the games go to a new
    temporary folder, and the message and the result say which."""
    import errno

    import rft.wordle.held_out_games as wordle_evaluate
    from rft.wordle.play import policy_player
    from rft.wordle.solver import random_consistent_policy

    out = tmp_path / "eval"
    real = wordle_evaluate.write_json

    def full_disk(path, data, indent=2):
        if Path(path).parent == out:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, data, indent)

    monkeypatch.setattr(wordle_evaluate, "write_json", full_disk)
    players = {"random-consistent": policy_player(random_consistent_policy, 0)}
    result = wordle_evaluate.evaluate_players(players, ["crane", "slate"], out, progress=False)
    kept = Path(result["out_dir"])
    assert kept != out and json.loads((kept / "eval.json").read_text(encoding="utf-8"))["out_dir"] == str(
        kept
    )
    assert f"they are in {kept}" in capsys.readouterr().err
