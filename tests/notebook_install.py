"""Run a notebook's install cell as "Run all" would, in the Python that runs this script.

CI builds the venv of the version set GPU users install this way: the notebook's own install
commands, nothing else (``make test``). Standard library only: it runs before anything is installed.

    python tests/notebook_install.py notebooks/01_wordle_grpo.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def install_cell(source: str) -> str:
    """The first code cell after the ``## Install`` heading of a jupytext percent-format notebook."""
    cells = source.split("\n# %%")
    heading = next(i for i, cell in enumerate(cells) if "## Install" in cell)
    return next(
        cell.partition("\n")[2] for cell in cells[heading + 1 :] if not cell.startswith(" [markdown]")
    )


def main(notebook: str) -> None:
    path = Path(notebook).resolve()
    code = install_cell(path.read_text(encoding="utf-8"))
    os.chdir(path.parent)  # where Jupyter runs a notebook's cells
    exec(compile(code, f"{path.name} (install cell)", "exec"), {"__name__": "__main__"})


if __name__ == "__main__":
    main(sys.argv[1])
