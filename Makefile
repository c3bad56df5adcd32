# The two commands: `make demo` and `make test`. Each creates .venv if it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip

.PHONY: demo test lint typecheck pytest browser bench clean

# Browser tests drive Debian's Chromium through the playwright package; never a browser
# that a tool downloads itself. Installed when missing (root, or sudo without a password);
# where it cannot be, the browser tests are skipped and say why.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo -n)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(PIP) install --quiet -e .
	touch $@

# Dev installs the spark, postgres and deep extras so CI runs the DuckDB = Spark test
# (Java 17), the PostgreSQL source test (against a throw-away server when its binaries
# exist) and the sequence learner's tests (torch's CPU build).
$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(PIP) install --quiet -e ".[dev,spark,postgres,deep]"
	touch $@ $(VENV)/.installed-run

demo: $(VENV)/.installed-run
	$(BIN)/valueseg demo

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  export DEBIAN_FRONTEND=noninteractive; \
	  $(SUDO) apt-get install -y -q chromium >/dev/null 2>&1 || \
	  { $(SUDO) apt-get update -q >/dev/null 2>&1 && $(SUDO) apt-get install -y -q chromium >/dev/null 2>&1; } || \
	  echo "Chromium could not be installed: the browser tests will be skipped."; }

pytest: $(VENV)/.installed-dev browser
	$(BIN)/python -m pytest

test: lint typecheck pytest

bench: $(VENV)/.installed-dev
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) valueseg.duckdb valueseg-demo .pytest_cache .mypy_cache .ruff_cache
