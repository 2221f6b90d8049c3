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
# # GRPO on GSM8K: grade-school arithmetic
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/rft-recipe/rft/blob/main/notebooks/02_gsm8k_grpo.ipynb)
#
# The same recipe on a different task: the model reasons in `<think>…</think>` and answers with a
# number in `<answer>…</answer>`. Three rewards, in the same signature as Wordle's: correctness
# (the number equals the reference), format (the asked-for shape) and number (the answer parses
# as a number). Problems come from `openai/gsm8k` on the Hub; a 32-problem sample ships with the
# package for trying it offline.

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

# %% [markdown]
# ## Settings

# %% tags=["parameters"]
PRESET = "t4-qwen2.5-3b-gsm8k"  # "cpu-smollm2-gsm8k" without a GPU (runs, but 135M cannot do arithmetic)
PROBLEMS = None  # None: openai/gsm8k from the Hub; "sample": the 32 shipped problems; or a .jsonl file
STEPS = None  # None keeps the preset's number of steps
EVAL_PROBLEMS = 200  # from the GSM8K test split
RUNS_DIR = None  # None: Google Drive on Colab, /kaggle/working on Kaggle, ./runs elsewhere
RESUME = "latest"  # the newest unfinished run of this preset; a run folder; None: always start anew
SESSION_HOURS = "auto"  # Colab 3, Kaggle 12, elsewhere no limit; or a number; None: no limit
PUSH_TO = None  # e.g. "your-name/gsm8k-qwen2.5-3b": needs HF_TOKEN (environment or Colab secret)

# %%
from rft import hosting, notebook
from rft.evaluation import evaluate_model, markdown_table
from rft.export import export_run

notebook.prepare()
RUNS = hosting.runs_dir(RUNS_DIR)
preset = notebook.pick_preset(PRESET, smoke="tiny-test-gsm8k", max_steps=STEPS, problems=PROBLEMS)
print(preset.description)

# %% [markdown]
# ## Problems and prompts

# %%
rows = notebook.example_rows(preset, count=3)
for message in rows[0]["prompt"]:
    print(f"--- {message['role']}\n{message['content']}")
print("--- reference answer:", rows[0]["answer"])

# %% [markdown]
# ## The rewards on a group of answers
# Four answers sampled from the base model beside three written by hand: right and well formed,
# right but without the tags, and wrong. The advantage is each answer's total reward relative to
# the group's.

# %%
from rft.models import load_base

base = load_base(preset)
row = rows[0]
sampled = notebook.sample_group(
    base.model, base.tokenizer, row, size=4, max_new_tokens=200, end_after=preset.closing_tag
)
written_by_hand = [
    f"<think>\nWork it out step by step.\n</think>\n<answer>{row['answer']}</answer>",
    f"The answer is {row['answer']}.",
    "<think>\nA guess.\n</think>\n<answer>-1</answer>",
]
del base
notebook.free_memory()
completions = sampled + written_by_hand
sources = ["base model"] * len(sampled) + ["right, tagged", "right, no tags", "wrong"]
notebook.reward_table(preset, row, completions, sources)

# %% [markdown]
# ## Train

# %%
run = notebook.train_or_continue(preset, RUNS, RESUME, SESSION_HOURS)
print("run folder:", run.run_dir)
notebook.show_image(run.plot_path)

# %% [markdown]
# ## Accuracy before and after, on held-out problems
# Greedy answers to the same problems (the test split; the shipped sample when training on it), by
# the base model and the trained adapter on one copy of the weights: `rft eval --model RUN` does
# the same from a terminal. The 95% interval says how much a difference can be trusted at this
# number of problems.

# %%
result = evaluate_model(
    str(run.run_dir),
    games=notebook.scaled(EVAL_PROBLEMS, 4),
    out_dir=run.run_dir / "eval",
    max_new_tokens=notebook.scaled(preset.eval_max_new_tokens, 32),
    batch_size=16,
)
notebook.show_markdown(markdown_table(result))

# %%
for record in result["records"]["trained"][:2]:
    print(f"Q: {record['question']}\n--- model:\n{record['completion']}\n--- gold: {record['gold']}\n")

# %% [markdown]
# ## Save and share
# The adapter and a merged 16-bit model, each with a model card holding the accuracy table.

# %%
written = export_run(run.run_dir, merged=True, push_to=PUSH_TO)
for kind, path in written.items():
    print(f"{kind:>7}: {path}")
