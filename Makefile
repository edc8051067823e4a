# UCP developer commands. `make run` and `make test` are the two set-up commands of the README:
# each creates .venv (Python 3.11), installs pinned dependencies (torch pinned to the CPU build)
# and the npm peers the integration tests start, then does its job.

PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
NODE_DIR := tests/integration/node
STAMP  := $(VENV)/.ucp-installed
NODE_STAMP := $(NODE_DIR)/node_modules/.ucp-installed
PYTEST_ARGS ?=

.PHONY: setup node run serve test lint typecheck unit integration bench bench-quick manual clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# the CPU build of torch: an unpinned torch pulls a multi-GB CUDA build
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[dev]"
	touch $(STAMP)

node: $(NODE_STAMP)

$(NODE_STAMP): $(NODE_DIR)/package.json $(NODE_DIR)/package-lock.json
	cd $(NODE_DIR) && npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

## Run UCP on its embedded defaults (built-in tools, no server registered needed), over HTTP.
run: setup
	$(BIN)/ucp serve --transport http

serve: run

lint: setup
	$(BIN)/ruff check ucp tests
	$(BIN)/ruff format --check ucp tests

typecheck: setup
	$(BIN)/mypy

## The whole suite: lint, types, unit and integration tests (real servers and clients).
test: setup node
	$(BIN)/ruff check ucp tests
	$(BIN)/mypy
	$(BIN)/python -m pytest $(PYTEST_ARGS)

unit: setup
	$(BIN)/python -m pytest -m "not integration and not slow" $(PYTEST_ARGS)

integration: setup node
	$(BIN)/python -m pytest -m integration $(PYTEST_ARGS)

## Benchmarks: print tables; figures go in the README. DATA points at the tool-retrieval data sets.
DATA ?= ../shared/data/tool-retrieval
bench: setup node
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[bench]"
	$(BIN)/ucp bench proxy
	$(BIN)/ucp bench tokens --tools $(DATA)/toollens/tools.jsonl --count 500
	$(BIN)/ucp bench retrieval --tools $(DATA)/metatool/tools.jsonl --queries $(DATA)/metatool/queries.jsonl --scale 10000
	$(BIN)/ucp bench retrieval --tools $(DATA)/toollens/tools.jsonl --queries $(DATA)/toollens/queries.jsonl --scale 10000
	$(BIN)/ucp bench online --dataset metatool=$(DATA)/metatool/tools.jsonl:$(DATA)/metatool/queries.jsonl \
	    --dataset toollens=$(DATA)/toollens/tools.jsonl:$(DATA)/toollens/queries_all_splits.jsonl
	$(BIN)/ucp bench cloud

manual: setup
	$(BIN)/python -m ucp.bench.cloud.manual

clean:
	rm -rf $(VENV) $(NODE_DIR)/node_modules .pytest_cache .mypy_cache .ruff_cache
