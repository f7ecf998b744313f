# STIC — two commands for a newcomer:
#   make run    create .venv, install, start the whole platform on embedded defaults
#   make test   install the dev extras and run lint, types and the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test install install-dev lint typecheck pytest browser clean

include mk/vllm.mk

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# `make run` serves the demo model (tiny-llama) with the builtin engine: the inference extra (CPU torch).
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[inference]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: install
	$(BIN)/stic up --demo --host $(HOST) --port $(PORT)

# Headless Chromium for the browser tests (Debian package; a test tool's own browser download fails here).
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else echo "install Debian's chromium (sudo apt-get install chromium) for the browser tests" >&2; exit 1; fi; \
	fi

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install-dev
	$(BIN)/mypy

# The inference tests start a real vLLM server (CPU build, its own virtualenv: see mk/vllm.mk).
pytest: install-dev browser vllm-env
	$(BIN)/pytest

test: lint typecheck pytest

clean:
	rm -rf $(VENV) $(VLLM_VENV) var .pytest_cache .mypy_cache .ruff_cache
