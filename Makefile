# Two commands on a fresh machine: `make results` and `make test`.
# Both create .venv and install the project (with its dev and dask extras) when needed.
# `pip install .` compiles the typed core with mypyc when a C compiler is there (a few minutes;
# `evsim --version` says "compiled") and installs pure Python otherwise, with a warning.
# EVSIM_NO_COMPILE=1 make ... installs pure Python; EDITABLE=1 make ... an editable install
# (pure Python; source edits take effect without reinstalling).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SOURCES := $(shell find sim -name '*.py') setup.py
PACKAGE := ".[dev,dask]"

.PHONY: test results lint bench clean

# A non-editable install is a copy: reinstall when a source changes.
$(STAMP): pyproject.toml $(if $(EDITABLE),,$(SOURCES))
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(if $(EDITABLE),-e) $(PACKAGE)
	$(BIN)/evsim --version
	touch $(STAMP)

# pytest's console script, not `python -m pytest`: that would put the source tree first on
# sys.path and test it instead of the installed (compiled) build.
test: $(STAMP)
	$(BIN)/ruff check sim tests benchmarks experiments
	$(BIN)/mypy
	$(BIN)/pytest -n 2

results: $(STAMP)
	$(BIN)/evsim experiments
	$(BIN)/python -m experiments.notebooks

lint: $(STAMP)
	$(BIN)/ruff check sim tests benchmarks experiments
	$(BIN)/mypy

# throughput.py measures every installed build itself; observe.py runs once per build.
bench: $(STAMP)
	$(BIN)/python benchmarks/throughput.py
	$(BIN)/python benchmarks/event_routing.py
	$(BIN)/python benchmarks/observe.py
	if $(BIN)/evsim --version | grep -q '(compiled)'; then \
		EVSIM_PURE_PYTHON=1 $(BIN)/python benchmarks/observe.py; fi

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis build
