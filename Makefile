# Two commands: `make run` starts Gradyard, `make test` runs every check.
# Each installs what it needs into .venv first (again only when pyproject.toml changes).
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: run test lint install install-test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[server]'
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[server,test]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

run: install
	$(BIN)/gradyard serve

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint
	$(BIN)/python -m pytest -q -ra --durations=25 $(PYTEST_ARGS)

# Every benchmark (bench/table.py lists them), then the table atop BENCHMARKS.md from their results.
bench: install-test
	$(BIN)/python bench/table.py --run

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
