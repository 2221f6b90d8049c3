# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Evaluate a Wordle model: the table, the charts, one game
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/rft-recipe/rft/blob/main/notebooks/03_evaluate.ipynb)
#
# Point `RUN` at a GRPO run folder from `01_wordle_grpo` (or leave it empty for the newest one
# under `RUNS_DIR`: on Colab the default is the Drive folder `01_wordle_grpo` trains into), or set
# `MODEL` and `ADAPTER` for any base model and LoRA adapter (an export's `lora/` folder, a
# download from the Hub). The model plays held-out words it never trained on, greedy, beside the
# entropy solver and two random players.

# %% [markdown]
# ## Install
# Installs the recipe from the clone or uploaded copy of the repository this notebook sits in, or
# clones `REPOSITORY` first (Kaggle: switch *Internet* on in the settings). `install.py` picks the
# versions this machine can use: with a GPU the set Unsloth supports (`requirements.txt`), without
# one the same set less the GPU-only packages, plus the 135M CPU model. Nothing is installed when
# the package is already there (`make venv` on your own machine, or a second run of this cell).

# %%
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

REPOSITORY = "https://github.com/rft-recipe/rft"  # a fork or a mirror of the recipe: change it here
CLONE = ["git", "clone", "--depth", "1", REPOSITORY, "rft-recipe"]
if importlib.util.find_spec("rft") is None:
    here = Path.cwd()
    copies = [p for p in (here, here.parent, *here.iterdir()) if (p / "install.py").is_file()]
    if not copies and (shutil.which("git") is None or subprocess.run(CLONE).returncode):
        raise SystemExit(f"Could not clone {REPOSITORY}: set REPOSITORY in this cell to the recipe's address")
    installer = (copies[0] if copies else here / "rft-recipe") / "install.py"
    subprocess.run([sys.executable, str(installer)], check=True)
    importlib.invalidate_caches()

# %% tags=["parameters"]
RUN = None  # a run folder; None: the newest Wordle run under RUNS_DIR
MODEL = None  # or a preset name / model folder / Hub id, with ADAPTER
ADAPTER = None  # a LoRA adapter folder for MODEL
GAMES = 100
RUNS_DIR = None  # None: Google Drive on Colab, /kaggle/working on Kaggle, ./runs elsewhere

# %%
from rft import hosting, notebook
from rft.evaluation import evaluate_model, markdown_table
from rft.terminal import watch_model
from rft.training.run import new_run_dir

notebook.prepare()
RUNS = hosting.runs_dir(RUNS_DIR)
if MODEL is None:
    RUN = RUN or notebook.latest_run(RUNS, task="wordle")
    if RUN is None and notebook.smoke_mode():  # CI has no earlier run: make a tiny one
        from rft.training.presets import get_preset
        from rft.training.run import train

        RUN = train(get_preset("tiny-test"), runs_dir=RUNS, progress=False).run_dir
    if RUN is None:
        raise FileNotFoundError(f"no trained Wordle run under {RUNS}: set RUN, or MODEL and ADAPTER")
    MODEL, ADAPTER = str(RUN), None
print("evaluating:", MODEL, ADAPTER or "")

# %% [markdown]
# ## The table
# Win rate with its 95% Wilson interval, mean guesses in won games, how often an answer had the
# asked-for format, was an allowed word, and fitted every clue so far.

# %%
out_dir = new_run_dir(RUNS, "eval")
evaluation = evaluate_model(MODEL, ADAPTER, games=notebook.scaled(GAMES, 2), out_dir=out_dir)
notebook.show_markdown(markdown_table(evaluation))

# %% [markdown]
# ## Charts

# %%
notebook.show_image(out_dir / "rates.png")
notebook.show_image(out_dir / "guesses.png")

# %% [markdown]
# ## Game by game
# Every game is in `eval.json`; the first few here.

# %%
from rft.wordle import teaching

teaching.games_table(evaluation, player="trained" if "trained" in evaluation["metrics"] else "base").head(10)

# %% [markdown]
# ## Watch one game

# %%
_ = watch_model(MODEL, ADAPTER, seed=3)
