# Two commands do all the set-up: `make run` (the bot and what it needs) and `make test` (the dev tools too);
# `make check` is the developer's quicker loop.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
SUPPORTED = sys.version_info >= (3, 11)

.PHONY: run test check lint bench clean system-deps

# A .venv made by an unsupported Python (or by one that is gone) would stay broken: rebuild it.
ifneq ($(wildcard $(VENV)),)
ifneq ($(shell $(BIN)/python -c 'import sys; print($(SUPPORTED))' 2>/dev/null),True)
$(info make: $(VENV) was made by $(or $(shell $(BIN)/python -V 2>&1 | grep '^Python'),a Python that no longer runs); announce-bot needs 3.11 or newer: rebuilding $(VENV) with $(PYTHON))
$(shell rm -rf $(VENV))
endif
endif

# The runtime only: what `make run` needs.
$(BIN)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(not ($(SUPPORTED)))' 2>/dev/null || { echo "make: $(PYTHON) is $$($(PYTHON) -V 2>&1 || echo 'not found'); announce-bot needs Python 3.11 or newer: make PYTHON=python3.11 ..." >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

# The dev tools besides (pytest, ruff, mypy, playwright...): for lint, test and bench.
$(BIN)/.dev-installed: $(BIN)/.installed
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

run: $(BIN)/.installed
	$(BIN)/announce-bot run

lint: $(BIN)/.dev-installed
	$(BIN)/ruff check bot tests bench
	$(BIN)/mypy bot

system-deps:
	./scripts/system-deps.sh

test: lint system-deps
	NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost $(BIN)/pytest

# The developer's loop, a few minutes: lint, types and the tests not marked slow (`make test` runs them all).
check: lint
	NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost $(BIN)/pytest -m 'not slow' -n auto

bench: $(BIN)/.dev-installed
	NO_PROXY=127.0.0.1,localhost $(BIN)/python -m bench

clean:
	rm -rf $(VENV) var
