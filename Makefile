# Regatta. `make run` starts everything; `make test` runs the whole suite. `make help` lists targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install run test services engines lint format check bench-releases bench-queue bench-jobs clean

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-16s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## create the virtualenv and install Regatta with its dev tools

run: $(STAMP) ## run web, worker, beat and Flower (embedded SQLite + Redis unless DATABASE_URL/REDIS_URL)
	$(BIN)/python deploy/run.py

services: ## make sure PostgreSQL and Redis answer (start or install them if needed)
	bash deploy/ensure-services.sh

engines: ## make sure dockerd answers and its local test image exists (install, start, build if needed)
	bash deploy/ensure-engines.sh

# The suite runs in TEST_PROCESSES pytest-xdist processes, one test file each at a time, files marked
# `long` first (tests/conftest.py); each process has its own test database and Redis dbs
# (tests/support/env_defaults.py). TEST_PROCESSES=0: one process.
TEST_PROCESSES ?= 3

test: $(STAMP) services engines ## run the whole test suite against real PostgreSQL, Redis and workers
	$(BIN)/python -m pytest -n $(TEST_PROCESSES) --dist loadfile --no-loadscope-reorder --durations=20 $(PYTEST_ARGS)

lint: $(STAMP) ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP) ## ruff fix and format
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

check: lint test ## lint, then test

bench-releases: $(STAMP) services ## release coordination latency benchmark (bench/releases)
	$(BIN)/python -m bench.releases

bench-queue: $(STAMP) services ## task tracker throughput benchmark on PostgreSQL and the embedded default (bench/queue)
	$(BIN)/python -m bench.queue

bench-jobs: $(STAMP) services ## Scale scheduler and job round-trip benchmark (bench/jobs)
	$(BIN)/python -m bench.jobs

clean: ## remove the virtualenv and the embedded data directory
	rm -rf $(VENV) var
