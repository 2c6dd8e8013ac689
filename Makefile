# The two set-up commands: `make run` (the default report) and `make test` (the test suite).
# Both create .venv when missing and install the locked dependencies; they need only Python 3.11 + pip.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.trialkit-installed

.PHONY: run test lab lock install clean-venv notebooks

install: $(STAMP)

$(STAMP): requirements-lock.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-lock.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

# The report: every notebook executed with papermill into outputs/default (see README, "trialkit run").
run: $(STAMP)
	$(BIN)/trialkit run --params params/default.yaml

# ruff (lint + import order, rules in pyproject.toml) first: a finding stops before the slow suite
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

# Re-execute the committed notebooks in place with their default parameters, storing outputs
# deterministically (timings and papermill metadata stripped): what `pytest --nbval` compares.
notebooks: $(STAMP)
	$(BIN)/python -m trialkit.report.runner

# Re-resolve the lock file after changing dependencies in pyproject.toml (needs `pip install uv`).
lock:
	$(PYTHON) -m uv pip compile pyproject.toml --extra test --python-version 3.11 \
	  --python-platform x86_64-unknown-linux-gnu -o requirements-lock.txt

clean-venv:
	rm -rf $(VENV)
