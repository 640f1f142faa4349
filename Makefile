# Two entry points for a fresh machine (Python 3.11+ and make are all they need):
#   make demo   set up, generate, materialize the example into the embedded catalog, show rows
#   make test   set up, type-check, and run the test suite (what CI runs)
# and Dagster's UI on the demo's loads:
#   make ui     dagster dev (webserver + daemon) on http://127.0.0.1:$(UI_PORT), Ctrl-C stops it
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
UI_PORT ?= 3000

.PHONY: setup demo ui test typecheck gen check postgres chromium

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

# Both run with the example's fixture servers on 127.0.0.1 and record their runs in the
# project's Dagster instance, .cascade/dagster, unless DAGSTER_HOME names another
# (examples/with_fixtures.py).
demo: gen
	$(BIN)/python -m examples.demo

ui: gen
	$(BIN)/python -m examples.with_fixtures \
		$(BIN)/dagster dev -m generated.definitions -h 127.0.0.1 -p $(UI_PORT)

# The PostgreSQL catalog tests start their own server: make sure its programs are installed.
postgres:
	bash scripts/ensure-postgres.sh

# The UI tests open Dagster's pages in headless Chromium: make sure Debian's is installed.
chromium:
	bash scripts/ensure-chromium.sh

# mypy over compiler/ and runtime/, configured by [tool.mypy] in pyproject.toml.
typecheck: setup
	$(BIN)/python scripts/typecheck.py

test: setup postgres chromium typecheck
	$(BIN)/python -m pytest $(PYTEST_ARGS)
