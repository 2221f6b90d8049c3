"""A Windows user with pip and Jupyter runs everything: no POSIX shell, no make, no ``/`` paths, no
Unix-only module, and text files always in UTF-8 (Windows' default code page cannot write ✔ or ❌).

Checked by reading the code users run (the package, the notebooks, ``install.py``) for the usual
traps; the Makefile and the benchmarks are for Linux and macOS and CI, and are left out."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
USER_CODE = sorted(
    [
        *(ROOT / "src" / "rft").rglob("*.py"),
        *(ROOT / "notebooks").glob("[0-9][0-9]_*.py"),
        ROOT / "install.py",
    ]
)
UNIX_ONLY_MODULES = {"fcntl", "resource", "pwd", "grp", "termios", "pty", "posix"}
SHELL_PROGRAMS = {"make", "bash", "sh", "zsh", "sed", "awk", "grep", "cp", "mv", "rm", "ln"}
# Absolute paths that are right where they exist: the hosted runtimes' folders, and Linux's process
# files (read only on Linux, with a fallback elsewhere).
HOSTED_PATHS = ("/content", "/kaggle", "/proc/self/", "/proc/cpuinfo")
# Unix-only modules imported only where os.name says the system has them (Windows takes another).
GUARDED_IMPORTS = {("src/rft/training/lock.py", "fcntl")}
POSIX_PATH = re.compile(r"/[\w.-]+(/[\w.-]+)+/?")  # two parts at least: "/mean" is a label


def calls(tree: ast.AST):
    return (node for node in ast.walk(tree) if isinstance(node, ast.Call))


def called_name(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def keywords(call: ast.Call) -> set[str]:
    return {k.arg for k in call.keywords if k.arg}


def text_mode(call: ast.Call, mode_position: int) -> bool:
    """Whether an open() call opens text: no mode, or a mode without "b"."""
    mode = next((k.value for k in call.keywords if k.arg == "mode"), None)
    if mode is None and len(call.args) > mode_position:
        mode = call.args[mode_position]
    return not (isinstance(mode, ast.Constant) and "b" in str(mode.value))


def traps(path: Path) -> list[str]:
    """Every trap in one file, as ``line: what``."""
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    found = []
    for call in calls(tree):
        name, line = called_name(call), call.lineno
        if name in ("read_text", "write_text") and "encoding" not in keywords(call):
            found.append(f"{line}: {name}() without encoding=")
        low_level = isinstance(call.func, ast.Attribute) and getattr(call.func.value, "id", None) == "os"
        if name == "open" and "encoding" not in keywords(call) and not low_level:  # os.open: bytes
            builtin = isinstance(call.func, ast.Name)
            if text_mode(call, 1 if builtin else 0):
                found.append(f"{line}: open() in text mode without encoding=")
        if name in ("system", "popen", "symlink", "link") and isinstance(call.func, ast.Attribute):
            found.append(f"{line}: os.{name}()")
        if any(k.arg == "shell" for k in call.keywords):
            found.append(f"{line}: a subprocess through the shell")
        if name in ("run", "call", "check_call", "check_output", "Popen") and call.args:
            program = call.args[0]
            first = program.elts[0] if isinstance(program, ast.List) and program.elts else None
            if isinstance(first, ast.Constant) and str(first.value) in SHELL_PROGRAMS:
                found.append(f"{line}: runs {first.value!r}")
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for module in modules:
                guarded = (path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else "", module)
                guarded = guarded in GUARDED_IMPORTS
                if module.split(".")[0] in UNIX_ONLY_MODULES and not guarded:
                    found.append(f"{node.lineno}: imports {module}, which Windows lacks")
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and POSIX_PATH.fullmatch(node.value)
            and not node.value.startswith(HOSTED_PATHS)
        ):
            found.append(f"{node.lineno}: a POSIX absolute path {node.value!r}")
    return found


SHELL_MAGIC = re.compile(r"\s*(!|%%?(bash|sh|script|sx|system)\b)")


@pytest.mark.parametrize("path", USER_CODE, ids=lambda p: str(p.relative_to(ROOT)))
def test_user_code_has_no_windows_traps(path):
    assert traps(path) == []


def test_the_checker_finds_each_trap(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import fcntl\n"
        "import os, subprocess\n"
        "from pathlib import Path\n"
        "Path('x').read_text()\n"
        "open('x', 'w')\n"
        "open('x', 'rb')\n"
        "Path('x').open()\n"
        "os.system('ls')\n"
        "subprocess.run(['make', 'demo'])\n"
        "subprocess.run('ls', shell=True)\n"
        "cache = '/tmp/rft'\n"
        "drive = '/content/drive'\n"
        "os.open('x', os.O_CREAT)\n",
        encoding="utf-8",
    )
    found = "\n".join(traps(sample))
    for expected in (
        "1: imports fcntl",
        "4: read_text() without encoding=",
        "5: open() in text mode",
        "7: open() in text mode",
        "8: os.system()",
        "9: runs 'make'",
        "10: a subprocess through the shell",
        "11: a POSIX absolute path '/tmp/rft'",
    ):
        assert expected in found
    assert "6:" not in found and "12:" not in found  # binary mode, and a Colab path
    assert "13:" not in found  # os.open: a file descriptor, no text


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
def test_notebook_cells_run_no_shell_commands(path):
    """``!pip`` and ``%%bash`` need a POSIX shell (jupytext comments them out in the .py twin, so
    the .ipynb is where they would show); the install cell calls pip through Python instead."""
    import nbformat

    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "code":
            assert not [line for line in cell.source.splitlines() if SHELL_MAGIC.match(line)]
    assert SHELL_MAGIC.match("!pip install rft") and SHELL_MAGIC.match("%%bash")
