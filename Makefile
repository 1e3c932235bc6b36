# Two commands do all the set-up: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: run test lint bench clean system-deps

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

run: $(BIN)/.installed
	$(BIN)/announce-bot run

lint: $(BIN)/.installed
	$(BIN)/ruff check bot tests bench
	$(BIN)/mypy bot

system-deps:
	./scripts/system-deps.sh

test: lint system-deps
	NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost $(BIN)/pytest

bench: $(BIN)/.installed
	NO_PROXY=127.0.0.1,localhost $(BIN)/python -m bench

clean:
	rm -rf $(VENV) var
