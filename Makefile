# UCP developer commands. `make run` and `make test` are the two set-up commands of the README:
# `make run` creates .venv-lean (the default install: no extras, no torch) and serves from it;
# `make test` creates .venv (the dev extra, torch pinned to the CPU build), the npm peers and the
# Debian services the integration tests start, and .venv-lean, which it checks. Any Python 3.11+.
#
# PYTHON=/path/to/python3.x picks the interpreter (default: the first 3.11+ of python3.11,
# python3.12, python3.13, python3; 3.11 first, the version the pinned CPU torch file is for).
# TORCH_INDEX=https://download.pytorch.org/whl/cpu takes torch from PyTorch's CPU index: needed on
# Linux machines where PyPI's torch is the CUDA build.

PYTHON ?= $(shell for p in python3.11 python3.12 python3.13 python3; do \
            command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
            && { echo $$p; break; }; done)
TORCH_INDEX ?=
HOST ?= 127.0.0.1
PORT ?= 8765
VENV   ?= .venv
BIN    := $(VENV)/bin
NODE_DIR := tests/integration/node
STAMP  := $(VENV)/.ucp-installed
NODE_STAMP := $(NODE_DIR)/node_modules/.ucp-installed
# A default install (no extras) in a venv of its own: what `pip install ucp` gives a user
LEAN_VENV ?= .venv-lean
LEAN_STAMP := $(LEAN_VENV)/.ucp-installed
# what the lean (non-editable) install is built from: a change to any of them reinstalls it
LEAN_SOURCES := pyproject.toml constraints.txt $(shell find ucp registry -type f -not -path '*/__pycache__/*' 2>/dev/null)
PYTEST_ARGS ?=
# Coverage floors (branch coverage, %): the whole package and its pure cores (measured on the full
# suite; raise them when the figure rises for good, never lower them to land a change).
COV_FLOOR  ?= 89
CORE_FLOOR ?= 97
CORES := ucp/router/tokenize.py,ucp/router/bm25.py,ucp/router/fusion.py,ucp/router/bandit.py,ucp/pool/backoff.py,ucp/naming.py

.PHONY: setup node browser lean lean-check services deploy-tools deploy-check run serve wheel test lint typecheck unit integration bench bench-quick bench-reliability fuzz manual clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -n "$(PYTHON)" || { echo "error: no Python 3.11 or newer found; install one, or run make PYTHON=/path/to/python3.x" >&2; exit 1; }
	@echo "==> [1/3] $(VENV): a virtualenv with $$($(PYTHON) -c 'import sys; print(sys.executable, sys.version.split()[0])')"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --disable-pip-version-check --progress-bar on --upgrade pip | grep -v "^Requirement already" || true
	@echo "==> [2/3] torch 2.13.0, CPU build$(if $(TORCH_INDEX), from $(TORCH_INDEX),) (the largest download: ~1 minute here)"
	$(BIN)/python -m pip install --disable-pip-version-check --progress-bar on torch==2.13.0 $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX),)
	@echo "==> [3/3] ucp and its dependencies at the versions in constraints.txt (~2 minutes here)"
	$(BIN)/python -m pip install --disable-pip-version-check --progress-bar on -c constraints.txt -e ".[dev]"
	@touch $(STAMP)
	@echo "==> installed: $(BIN)/ucp ($$(du -sh $(VENV) | cut -f1)); activate with: . $(BIN)/activate"

node: $(NODE_STAMP)

$(NODE_STAMP): $(NODE_DIR)/package.json $(NODE_DIR)/package-lock.json
	cd $(NODE_DIR) && npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

## Debian's Chromium for the dashboard's real-browser test (Playwright drives it; it cannot fetch its own).
browser:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

## The lean install: ucp without extras (no torch) in $(LEAN_VENV), what `make run` serves with and
## what hosts start. Rebuilt from this checkout when its sources change (pip's cache makes that ~1
## minute). tests/integration/test_lean_install.py checks it (make test runs it).
lean: $(LEAN_STAMP)

$(LEAN_STAMP): $(LEAN_SOURCES)
	@test -n "$(PYTHON)" || { echo "error: no Python 3.11 or newer found; install one, or run make PYTHON=/path/to/python3.x" >&2; exit 1; }
	@echo "==> $(LEAN_VENV): ucp without extras (no torch; the embedding model ships inside ucp), ~1-2 minutes"
	@test -x $(LEAN_VENV)/bin/python || $(PYTHON) -m venv $(LEAN_VENV)
	@$(LEAN_VENV)/bin/python -m pip install -q --disable-pip-version-check -c constraints.txt --upgrade --force-reinstall --no-deps .
	@$(LEAN_VENV)/bin/python -m pip install --disable-pip-version-check --progress-bar on -c constraints.txt . \
	    | grep -v "^Requirement already" || true
	@$(LEAN_VENV)/bin/python -c "import ucp" || { echo "error: the install in $(LEAN_VENV) does not import" >&2; exit 1; }
	@touch $(LEAN_STAMP)
	@echo "==> installed: $(LEAN_VENV)/bin/ucp ($$(du -sh $(LEAN_VENV) | cut -f1)), no torch; activate with: . $(LEAN_VENV)/bin/activate"

## The lean install's checks alone: no torch in pip list, size budget, `ucp serve` reaching hybrid retrieval.
lean-check: setup lean
	UCP_LEAN_PYTHON=$(abspath $(LEAN_VENV))/bin/python $(BIN)/python -m pytest -q tests/integration/test_lean_install.py

## Debian's redis-server, PostgreSQL and HAProxy: the shared state stores and the load balancer the
## scale-out integration tests start (tests/integration/stores.py; PostgreSQL binaries are found
## by glob under /usr/lib/postgresql/*/bin).
services:
	@command -v redis-server >/dev/null 2>&1 && command -v haproxy >/dev/null 2>&1 && \
	    ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server postgresql haproxy >/dev/null; }

## The tools tests/integration/test_deploy.py renders and validates deploy/ with, offline: kustomize v5
## (inside kubectl >= 1.27, as on this machine kind; Debian's kubernetes-client is 1.20, too old, so
## its absence is an error) and a compose validator (Debian's docker-compose when Docker has no compose
## plugin; without recommends, so no second Docker engine comes with it).
deploy-tools:
	@{ kubectl version --client 2>/dev/null | grep -q 'Kustomize Version: v5' || kustomize version 2>/dev/null | grep -q '^v5'; } || \
	    { echo "error: rendering deploy/k8s needs kubectl >= 1.27 (kustomize v5 inside) or kustomize v5 on PATH" >&2; exit 1; }
	@docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null 2>&1 || { apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-compose >/dev/null; }

## Render every Kustomize overlay, validate it against the Kubernetes schemas, check compose and HAProxy.
deploy-check: setup deploy-tools
	$(BIN)/python -m pytest tests/test_deploy.py tests/integration/test_deploy.py -q $(PYTEST_ARGS)

## Run UCP on its embedded defaults (built-in tools, no server registered needed), over HTTP.
run: lean
	@echo "==> serving UCP over HTTP at http://$(HOST):$(PORT)/mcp (registry: \$$UCP_HOME/ucp.toml; Ctrl-C stops)"
	@echo "    add it to a host with: $(LEAN_VENV)/bin/ucp install --list, then $(LEAN_VENV)/bin/ucp install HOST"
	$(LEAN_VENV)/bin/ucp serve --transport http --host $(HOST) --port $(PORT)

## A wheel in dist/ (pipx install dist/ucp-*.whl, or uv tool install dist/ucp-*.whl).
wheel: setup
	$(BIN)/python -m pip wheel --no-deps --no-build-isolation -w dist .

serve: run

lint: setup
	$(BIN)/ruff check ucp tests
	$(BIN)/ruff format --check ucp tests

## mypy strict over ucp/, and over tests/ with annotations optional (pyproject.toml [tool.mypy])
typecheck: setup
	$(BIN)/mypy

## The whole suite: lint, format, types (ucp and tests), unit and integration tests (real servers and
## clients) under branch coverage with floors.
test: setup node browser services deploy-tools lean
	$(BIN)/ruff check ucp tests
	$(BIN)/ruff format --check ucp tests
	$(BIN)/mypy
	UCP_LEAN_PYTHON=$(abspath $(LEAN_VENV))/bin/python $(BIN)/python -m pytest --cov=ucp --cov-report=term --cov-fail-under=$(COV_FLOOR) $(PYTEST_ARGS)
	$(BIN)/coverage report --include='$(CORES)' --fail-under=$(CORE_FLOOR)

unit: setup
	$(BIN)/python -m pytest -m "not integration and not slow" $(PYTEST_ARGS)

integration: setup node browser services deploy-tools lean
	UCP_LEAN_PYTHON=$(abspath $(LEAN_VENV))/bin/python $(BIN)/python -m pytest -m integration $(PYTEST_ARGS)

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
	rm -rf $(VENV) $(LEAN_VENV) $(NODE_DIR)/node_modules .pytest_cache .mypy_cache .ruff_cache .coverage .coverage.*

## Reliability: load held, faults survived (recovery times), bad input refused. Loopback and pipes only.
bench-reliability: setup
	$(BIN)/python -m ucp.bench.reliability --sessions 20 --calls 100 --mutations 1000

## The fuzz tier, long run (CI runs the bounded profile with the unit tests).
fuzz: setup
	UCP_FUZZ_PROFILE=long $(BIN)/python -m pytest tests/fuzz -q
