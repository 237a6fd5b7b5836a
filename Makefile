# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

$(BIN)/tui-rl: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,all]'
	touch $@

.PHONY: run test test-gpu train
run: $(BIN)/tui-rl
	$(BIN)/tui-rl $(ARGS)

train: $(BIN)/tui-rl
	$(BIN)/tui-rl train cartpole-dqn $(ARGS)

test: $(BIN)/tui-rl
	$(BIN)/python -m pytest -q $(ARGS)

test-gpu: $(BIN)/tui-rl
	$(BIN)/python -m pytest -q -m gpu $(ARGS)
