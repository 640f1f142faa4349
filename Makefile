# Two entry points for a fresh machine (Python 3.11+ and make are all they need):
#   make demo   set up, generate, materialize the example into the embedded catalog, show rows
#   make test   set up, type-check, and run the test suite (what CI runs)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup demo test typecheck gen check postgres

setup: $(VENV)/.installed

# Reinstall when the dependencies change.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

gen: setup
	$(BIN)/cascade gen

check: setup
	$(BIN)/cascade check

demo: gen
	$(BIN)/python -m examples.demo

# The PostgreSQL catalog tests start their own server: make sure its programs are installed.
postgres:
	bash scripts/ensure-postgres.sh

# mypy over compiler/ and runtime/, configured by [tool.mypy] in pyproject.toml.
typecheck: setup
	$(BIN)/python scripts/typecheck.py

test: setup postgres typecheck
	$(BIN)/python -m pytest $(PYTEST_ARGS)
