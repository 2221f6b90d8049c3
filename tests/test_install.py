"""How users install: ``install.py`` picks the version set a machine can use, the notebooks' install
cell finds a local copy or clones one (and says which setting to change when it cannot), and the
venv ``make test-gpu-set`` builds that way really holds the pinned set."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
from notebook_install import install_cell  # noqa: E402

import install  # noqa: E402

PINS = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)$", (ROOT / "requirements.txt").read_text(), re.MULTILINE))


def test_requirement_names_are_read_whatever_the_specifier():
    names = [
        "unsloth==2026.10.9",
        "datasets>=4.0,<5",
        "peft >= 0.15",
        "rich[jupyter]>=13",
        "vllm; sys_platform",
    ]
    assert [install.requirement_name(line) for line in names] == [
        "unsloth",
        "datasets",
        "peft",
        "rich",
        "vllm",
    ]


def test_a_cpu_machine_gets_the_pinned_set_less_what_only_runs_on_a_gpu():
    requirements = install.cpu_requirements((ROOT / "requirements.txt").read_text())
    names = {install.requirement_name(line) for line in requirements}
    assert not names & set(install.GPU_ONLY)
    assert {"trl==1.15.0", "transformers==5.17.0"} <= set(requirements) and "gguf" in names
    steps = install.commands(gpu=False, torch="2.13.0", editable=False, python="py")
    assert steps[0] == ["py", "-m", "pip", "install", "torch==2.13.0"]
    assert ["py", "-m", "pip", "install", "--no-deps", install.EMBEDDED_MODEL] in steps
    assert steps[-1] == ["py", "-m", "pip", "install", "--no-deps", str(ROOT)]


def test_a_gpu_machine_gets_requirements_txt_as_it_is():
    steps = install.commands(gpu=True, torch=None, editable=True, python="py")
    assert ["py", "-m", "pip", "install", "-r", str(ROOT / "requirements.txt")] in steps
    assert not any(install.EMBEDDED_MODEL in step for step in steps)
    assert steps[-1] == ["py", "-m", "pip", "install", "--no-deps", "-e", str(ROOT)]


def test_every_notebook_has_the_same_install_cell():
    cells = {install_cell(path.read_text(encoding="utf-8")) for path in NOTEBOOKS}
    assert len(cells) == 1 and "install.py" in cells.pop()


def run_cell(cell: str, cwd: Path) -> subprocess.CompletedProcess:
    """The install cell in a Python that cannot see the installed package (``-S``: no site-packages),
    as on a fresh runtime."""
    return subprocess.run(
        [sys.executable, "-S", "-c", cell], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_the_install_cell_says_which_setting_to_change_when_it_cannot_clone(tmp_path):
    cell = install_cell(NOTEBOOKS[1].read_text(encoding="utf-8"))
    nowhere = (tmp_path / "no-such-repository").as_uri()
    cell = re.sub(r'REPOSITORY = "[^"]+"', f'REPOSITORY = "{nowhere}"', cell)
    result = run_cell(cell, tmp_path)
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert f"Could not clone {nowhere}: set REPOSITORY in this cell" in last_line
    assert "Traceback" not in result.stderr


def test_the_install_cell_installs_from_a_copy_beside_the_notebook_without_cloning(tmp_path):
    copy = tmp_path / "rft-main"  # an uploaded, unzipped copy of the repository
    copy.mkdir()
    (copy / "install.py").write_text(
        "import pathlib, sys\npathlib.Path(sys.argv[0]).with_name('ran').write_text('yes')\n"
    )
    cell = install_cell(NOTEBOOKS[1].read_text(encoding="utf-8"))
    cell = re.sub(r'REPOSITORY = "[^"]+"', 'REPOSITORY = "file:///must/not/be/cloned"', cell)
    result = run_cell(cell, tmp_path)
    assert result.returncode == 0, result.stderr
    assert (copy / "ran").read_text() == "yes" and not (tmp_path / "rft-recipe").exists()


@pytest.mark.skipif(os.environ.get("RFT_VERSION_SET") != "gpu", reason="run by `make test-gpu-set`")
def test_the_gpu_version_set_is_what_requirements_txt_pins():
    for package in ("trl", "transformers"):
        assert metadata.version(package) == PINS[package], package
    assert metadata.version("datasets").split(".")[0] == "4"
    for package in install.GPU_ONLY:
        assert importlib.util.find_spec(package.replace("-", "_")) is None, f"{package} needs a GPU"
    from rft.training.trl_compat import needs_cpu_fallback

    assert needs_cpu_fallback()  # so the training tests in this job exercise the fallback


@pytest.mark.skipif(os.name == "nt", reason="reads the line back with a POSIX shell's rules")
def test_dry_run_prints_lines_that_paste_into_a_shell(capsys, monkeypatch):
    import shlex

    monkeypatch.setattr(install, "HERE", Path("/tmp/a folder/rft"))
    command = [sys.executable, "-m", "pip", "install", "datasets>=4.0,<5", "/tmp/a folder/rft"]
    assert shlex.split(install.shell_line(command)) == command
    assert install.main(["--cpu", "--dry-run"]) == 0
    printed = [line[2:] for line in capsys.readouterr().out.splitlines() if line.startswith("$ ")]
    assert printed and all(shlex.split(line)[0] == sys.executable for line in printed)
    assert any("<" in line or ">" in line for line in printed)
    for line in printed:  # every specifier survives the shell as one argument
        assert not any(word.startswith((">", "<", "=")) for word in shlex.split(line))
