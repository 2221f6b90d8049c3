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
# # Teach an LLM to play Wordle with GRPO
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/rft-recipe/rft/blob/main/notebooks/01_wordle_grpo.ipynb)
#
# Press **Run all**. On a free Colab or Kaggle **T4** this trains Qwen 2.5 3B Instruct (4-bit, LoRA)
# with a short supervised warm-up on solver-written answers, then GRPO with three rewards, then
# plays held-out games with the model before and after. Without a GPU the same cells run the
# 135M CPU model (slowly, for reading and trying).
#
# GRPO is the long cell (the preset's 300 steps). It saves a checkpoint every 25 steps and stops
# with one before the session runs out, leaving time to evaluate and save what was trained; Run all
# in the next session carries on from there. Runs live on Google Drive on Colab.

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
# Change these, then Run all. Runs go where the session cannot take them: Google Drive on Colab
# (Colab asks to mount it), `/kaggle/working` on Kaggle, `runs/` elsewhere. Training stops with a
# checkpoint in time for evaluation and export before the session ends (`SESSION_HOURS`); Run all
# in the next session continues the newest unfinished run (`RESUME = "latest"`).
# Pushing to the Hub needs a token in the `HF_TOKEN` environment variable or a Colab or Kaggle secret;
# never paste it into a cell.

# %% tags=["parameters"]
PRESET = "t4-qwen2.5-3b-wordle"  # or "t4-gemma3-1b-wordle"; without a GPU "cpu-smollm2-wordle" or "cpu-qwen2.5-coder-0.5b-wordle"
WARM_UP = True  # supervised warm-up on solver traces before GRPO
SFT_STEPS = None  # None keeps the preset's number of steps
GRPO_STEPS = None
EVAL_GAMES = 100
RUNS_DIR = None  # None: Google Drive on Colab, /kaggle/working on Kaggle, ./runs elsewhere
RESUME = "latest"  # the newest unfinished run of these presets; a run folder; None: always start anew
SESSION_HOURS = "auto"  # Colab 3, Kaggle 12, elsewhere no limit; or a number; None: no limit
PREFLIGHT = True  # measure two full-length steps first: memory, s/step, what fits the session
EXPORT_MERGED = False  # also save a merged 16-bit model (about 6 GB for a 3B model)
GGUF = None  # e.g. "q4_k_m" for llama.cpp / Ollama (GPU, Unsloth)
PUSH_TO = None  # e.g. "your-name/wordle-qwen2.5-3b" (private repo)

# %%
from rft import hosting, notebook, recipe
from rft.evaluation import evaluate_model, markdown_table
from rft.export import export_run
from rft.models import load_models
from rft.terminal import watch_model
from rft.wordle import teaching

notebook.prepare()
RUNS = hosting.runs_dir(RUNS_DIR)
sft_preset = notebook.pick_preset(PRESET + "-sft", smoke="tiny-test-sft", max_steps=SFT_STEPS)
grpo_preset = notebook.pick_preset(PRESET, smoke="tiny-test", max_steps=GRPO_STEPS)
plan = recipe.plan_recipe(sft_preset if WARM_UP else None, grpo_preset, RUNS)  # both checked now
print(grpo_preset.description)

# %% [markdown]
# ## The training data
# Every row is a game state, built offline: a secret word from the training answers and 0–5
# earlier guesses with their feedback (✔ right place, - wrong place, ❌ absent). The model sees the
# prompt; the rewards see the secret and the history.

# %%
rows = notebook.example_rows(grpo_preset, count=4)
for message in rows[-1]["prompt"]:
    print(f"--- {message['role']}\n{message['content']}")
print("--- secret:", rows[-1]["secret"])

# %% [markdown]
# ## The three rewards, and what GRPO learns from them
# GRPO samples a group of answers to the same prompt, scores each, and pushes up those that beat
# their group (a positive **advantage**). Below: 5 answers from the base model, the solver's
# worked answer, a random word in the right format and a bare word without tags. If every answer
# scored the same, all advantages would be 0 and the step would teach nothing; this is why small
# models get the warm-up first.

# %%
from rft.models import load_base

base = load_base(grpo_preset)
row = rows[-1]
sampled = notebook.sample_group(
    base.model, base.tokenizer, row, size=5, max_new_tokens=160, end_after=grpo_preset.closing_tag
)
references = teaching.reference_completions(row)
completions = sampled + list(references.values())
sources = ["base model"] * len(sampled) + list(references)
del base
notebook.free_memory()
notebook.reward_table(grpo_preset, row, completions, sources)

# %% [markdown]
# ## Preflight: will it fit, and how long will it take?
# Two steps of the warm-up and two of GRPO, exactly as training runs them but with every completion
# at full length (the worst case for memory and time): peak memory against the GPU's, seconds per
# step, the whole run projected against the session, and how many steps fit if it does not.

# %%
from rft.training.preflight import preflight, print_report

if PREFLIGHT:
    warm_up = sft_preset if WARM_UP else None
    print_report(preflight(grpo_preset, RUNS, warm_up, hosting.session_hours(SESSION_HOURS)))

# %% [markdown]
# ## Supervised warm-up
# A few dozen steps of SFT on traces the solver writes for real game states: true reasoning about
# the clues, then a guess that fits them. The loss is on the answer only.

# %%
sft = notebook.warm_up(plan, RESUME, SESSION_HOURS)  # skipped when GRPO is already under way
notebook.show_image(sft and sft.plot_path)

# %% [markdown]
# ## GRPO
# GRPO continues the warm-up's LoRA adapter. Watch `reward` climb in the curves; `frac_reward_zero_std`
# is the share of groups that taught nothing. Sample completions are written to
# `samples.jsonl` in the run folder as it trains.

# %%
grpo = notebook.reinforce(plan, sft, RESUME, SESSION_HOURS)  # from a finished warm-up only
print("run folder:", grpo.run_dir)
notebook.show_image(grpo.plot_path)

# %% [markdown]
# ## Evaluate: base vs trained, on held-out words
# Both play the same secrets (never seen in training), greedy, beside the entropy solver and two
# random players. The win rate comes with a 95% interval: overlapping intervals are not a clear
# difference. The results go into the run folder's `eval/`, and from there into the model card.

# %%
eval_dir = grpo.run_dir / "eval"
models = load_models(str(grpo.run_dir))  # base and trained share one copy of the weights
games = notebook.scaled(EVAL_GAMES, 2)
evaluation = evaluate_model(str(grpo.run_dir), games=games, out_dir=eval_dir, loaded=models)
notebook.show_markdown(markdown_table(evaluation))
notebook.show_image(eval_dir / "rates.png")
notebook.show_image(eval_dir / "guesses.png")

# %% [markdown]
# ## Watch one game

# %%
_ = watch_model(str(grpo.run_dir), seed=1, loaded=models[-1])  # the model the evaluation loaded
del models
notebook.free_memory()

# %% [markdown]
# ## Save and share
# The LoRA adapter (small), optionally a merged 16-bit model and a push of both to the Hub (the
# merged one to `PUSH_TO-merged`), each with a model card holding the preset, rewards and the
# evaluation above. They are written to `export/` in the run folder.

# %%
written = export_run(grpo.run_dir, merged=EXPORT_MERGED, push_to=PUSH_TO)
for kind, path in written.items():
    print(f"{kind:>7}: {path}")

# %% [markdown]
# GGUF, for llama.cpp and Ollama, goes through Unsloth (which builds llama.cpp's converter the
# first time: a few minutes).

# %%
if notebook.gpu_only("GGUF export through Unsloth"):
    if GGUF:
        gguf_dir = export_run(grpo.run_dir, merged=True, gguf_quantization=GGUF)["gguf"]
        print("gguf:", gguf_dir)
    else:
        print('Set GGUF = "q4_k_m" in the settings cell to write a GGUF file.')
