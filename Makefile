# psp — run `make help` for the targets.
SHELL := /bin/bash
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	if command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(not ((3,11) <= sys.version_info[:2] <= (3,13)))' 2>/dev/null; then echo $$p; break; fi; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LINT_PATHS := src tests migrations infrastructure/lint $(wildcard benchmarks)

.DEFAULT_GOAL := help
.PHONY: help install run test test-faults lint lint-infra bench clean

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "Python 3.11-3.13 is required"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install psp with its dev tools

run: $(STAMP) ## start everything embedded: PostgreSQL, migrations, demo merchant, API, workers, scheduler (DEMO_WEBHOOK=1: a demo receiver)
	$(BIN)/psp dev $(if $(DEMO_WEBHOOK),--demo-webhook)

test: $(STAMP) ## lint, type-check, bandit, and run the whole test suite
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)
	$(BIN)/mypy
	$(BIN)/bandit -q -c pyproject.toml -r src
	$(BIN)/pytest -q

test-faults: $(STAMP) ## fault suite: both queue backends under load, SIGKILLs, PostgreSQL/SQS outages, acquirer faults; prints its report (ARGS="--seed N ...")
	$(BIN)/python -m tests.faults $(ARGS)

lint: $(STAMP) ## ruff, mypy and bandit only
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/mypy
	$(BIN)/bandit -q -c pyproject.toml -r src

clean: ## remove the virtualenv and the embedded database
	rm -rf $(VENV) .psp

# --- infrastructure lint: its own virtualenv, so checkov's pins never meet the app's ---------------
INFRA_VENV := .venv-infra
INFRA_STAMP := $(INFRA_VENV)/.installed

$(INFRA_STAMP): infrastructure/lint/requirements.txt
	@test -n "$(PYTHON)" || { echo "Python 3.11-3.13 is required"; exit 1; }
	rm -rf $(INFRA_VENV)
	$(PYTHON) -m venv $(INFRA_VENV)
	$(INFRA_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(INFRA_VENV)/bin/python -m pip install --quiet -r infrastructure/lint/requirements.txt
	@touch $(INFRA_STAMP)

lint-infra: $(INFRA_STAMP) ## Terraform parses, checkov clean, Dockerfile/compose/workflow valid, env vars are settings
	$(INFRA_VENV)/bin/python infrastructure/lint/check.py

bench: $(STAMP) ## benchmarks: psp vs PostgreSQL and bare-Flask ceilings (ARGS="ingest --quick", see benchmarks/README.md)
	$(BIN)/python -m benchmarks $(ARGS)
