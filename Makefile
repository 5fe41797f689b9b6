# Two commands on a fresh machine: `make results` and `make test`.
# Both create .venv and install the project (with its dev and dask extras) when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test results lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,dask]"
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/ruff check sim tests benchmarks experiments
	$(BIN)/mypy
	$(BIN)/python -m pytest -n 2

results: $(STAMP)
	$(BIN)/evsim experiments
	$(BIN)/python -m experiments.notebooks

lint: $(STAMP)
	$(BIN)/ruff check sim tests benchmarks experiments
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/throughput.py
	$(BIN)/python benchmarks/event_routing.py
	$(BIN)/python benchmarks/observe.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
