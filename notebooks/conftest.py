"""Every notebook runs under pytest (nbmake) in smoke mode: tiny presets, a couple of steps, a
few games, runs written to a temporary folder, nothing downloaded. GPU-only cells print that they
were skipped."""

from __future__ import annotations

import os
import tempfile

SMOKE_ENVIRONMENT = {
    "RFT_NOTEBOOK_SMOKE": "1",
    "HF_HUB_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
}


def pytest_runtest_setup(item):
    if not item.nodeid.endswith(".ipynb"):
        return
    item.saved_environment = {name: os.environ.get(name) for name in [*SMOKE_ENVIRONMENT, "RFT_RUNS_DIR"]}
    item.runs = tempfile.TemporaryDirectory(prefix="rft-notebook-runs-")
    os.environ.update(SMOKE_ENVIRONMENT, RFT_RUNS_DIR=item.runs.name)


def pytest_runtest_teardown(item):
    if not hasattr(item, "runs"):
        return
    for name, value in item.saved_environment.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    item.runs.cleanup()
