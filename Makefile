# Two commands a user needs: `make demo` and `make test`. Both create .venv on first use.
# The other test leg, the core install on the newest NautilusTrader without torch:
#   make test-core PYTHON=python3.12      (or python3.13; `make demo-core` runs the demo there)
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed

# pyenv's shims answer `python3.12` only for the versions selected in the shell; fall back to
# the newest pyenv-installed interpreter of that name.
PYTHON_BIN := $(shell $(PYTHON) -c 'import sys; print(sys.executable)' 2>/dev/null || \
	ls -d $$(pyenv root 2>/dev/null)/versions/*/bin/$(PYTHON) 2>/dev/null | sort -V | tail -1)
PYTHON_MINOR := $(shell $(PYTHON_BIN) -c 'import sys; print("%d.%d" % sys.version_info[:2])' \
	2>/dev/null)

# The core leg: its own venv per Python, NautilusTrader $(NAUTILUS_CORE), the dev-core extra
# (every extra that needs no torch). Never install torch there: PyPI's torch for Python 3.12+
# is a multi-GB CUDA build.
NAUTILUS_CORE ?= 1.231.0
CORE_VENV  ?= .venv-core-$(PYTHON_MINOR)
CORE_PY    := $(CORE_VENV)/bin/python
CORE_STAMP := $(CORE_VENV)/.installed

.PHONY: venv venv-core demo demo-core test test-core check-install lint bench clean

venv: $(STAMP)

# torch==2.13.0 first: on these machines that spec takes the local CPU wheel (built for Python
# 3.11 only), and the package's own `torch>=2.4` is then already satisfied. On another Python
# that spec would pull gigabytes of CUDA wheels, so the full venv refuses it.
$(STAMP): pyproject.toml setup.py
	@test "$(PYTHON_MINOR)" = "3.11" || { echo "make: the full .venv (torch) is Python 3.11 only \
	(got '$(PYTHON)' = $(PYTHON_MINOR)); for 3.12 / 3.13 use make test-core / make demo-core \
	PYTHON=$(PYTHON)" >&2; exit 2; }
	@test -x $(PY) || $(PYTHON_BIN) -m venv $(VENV)
	$(PIP) install -q --upgrade pip setuptools wheel
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e ".[dev]"
	@touch $(STAMP)

venv-core: $(CORE_STAMP)

$(CORE_STAMP): pyproject.toml setup.py
	@test -n "$(PYTHON_MINOR)" || { echo "make: no Python '$(PYTHON)' here" >&2; exit 2; }
	@test -x $(CORE_PY) || $(PYTHON_BIN) -m venv $(CORE_VENV)
	$(CORE_PY) -m pip install -q --upgrade pip setuptools wheel
	$(CORE_PY) -m pip install -q -e ".[dev-core]" "nautilus_trader==$(NAUTILUS_CORE)"
	@! $(CORE_PY) -c 'import torch' 2>/dev/null || { echo "make: torch got into $(CORE_VENV)" >&2; \
	exit 2; }
	@touch $(CORE_STAMP)

demo: venv
	$(VENV)/bin/nautilus-ai demo

# Without torch the demo imports, backtests the rule model with decision logging, and says in one
# line that training needs the torch extra.
demo-core: venv-core
	$(CORE_VENV)/bin/nautilus-ai demo

# The services line prints which redis-server / java / node / npm the tests will start (the
# services extra's wheels unless overridden) and stops at once, naming the way out, if one is
# missing.
test: venv
	$(PY) -m nautilus_ai.services
	$(PY) -m pytest

# Tests that need torch / transformers / peft / TorchServe are skipped here (and only here).
test-core: venv-core
	$(CORE_PY) -m nautilus_ai.services
	NAUTILUS_AI_TEST_LEG=core $(CORE_PY) -m pytest

# `pip install .` (not editable) into a fresh venv without torch, then the README's backtest on
# the demo data; fails unless it trades. CI runs it with PYTHON=python3.12.
check-install:
	bash .ci/check_install.sh "$(PYTHON_BIN)"

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

bench: venv
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) .venv-core-* build *.egg-info .pytest_cache .mypy_cache .ruff_cache
