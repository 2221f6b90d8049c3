# `make demo` runs the recipe; `make test` runs the checks. Both create .venv on first use.
# Torch is installed first and pinned: an unpinned torch can pull a multi-GB CUDA build.
PYTHON ?= python3
VENV ?= .venv
TORCH_VERSION ?= 2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: test test-fast lint bench venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "torch==$(TORCH_VERSION)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Every test, the slow ones too (they fit in a few minutes on 2 cores).
test: lint
	$(BIN)/python -m pytest

# Fast feedback while editing.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" -q

bench: $(STAMP)
	$(BIN)/python benchmarks/solver.py
	$(BIN)/python benchmarks/rewards.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis build dist
