# The two commands of the README: `make run` and `make test`. Each installs what it needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
PORT ?= 8000

.PHONY: install run stop test smoke lint format openapi bench clean deploy-check

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

install: $(STAMP)

## Start the gateway on the embedded PostgreSQL (or NOTEGATEWAY_DATABASE_URL) with demo
## data, on http://127.0.0.1:$(PORT) (`make run PORT=8001`). Ctrl-C stops it, and the
## embedded PostgreSQL with it.
run: install
	$(BIN)/notegateway migrate
	$(BIN)/notegateway demo --port $(PORT)
	$(BIN)/notegateway serve --host 127.0.0.1 --port $(PORT)

## Stop an embedded PostgreSQL left running (a server killed with SIGKILL cannot stop it).
stop: install
	$(BIN)/notegateway stop-embedded

## All tests (embedded PostgreSQL unless NOTEGATEWAY_TEST_DATABASE_URL is set), then lint.
## The console's browser tests drive Debian's chromium, installed here when missing.
test: install
	@command -v chromium >/dev/null 2>&1 || apt-get install -y -q chromium >/dev/null 2>&1 \
		|| (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1) \
		|| echo "chromium could not be installed: the console's browser test will fail"
	$(BIN)/python -m pytest $(PYTEST_ARGS)
	$(MAKE) --no-print-directory lint

smoke: install
	$(BIN)/python -m pytest -m smoke $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check src tests migrations benchmarks deploy
	$(BIN)/ruff format --check src tests migrations benchmarks deploy
	$(BIN)/mypy
	$(BIN)/mypy --strict -p deploy
	$(BIN)/lint-imports --no-cache

format: install
	$(BIN)/ruff format src tests migrations benchmarks deploy
	$(BIN)/ruff check --fix src tests migrations benchmarks deploy

## Regenerate the committed OpenAPI document (a test fails when it drifts).
openapi: install
	$(BIN)/notegateway openapi > openapi/openapi.json

## The benchmark of issue 9 (wrk installed from Debian's packages when missing).
bench: install
	@command -v wrk >/dev/null 2>&1 || apt-get install -y -q wrk >/dev/null 2>&1 \
		|| (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q wrk >/dev/null 2>&1) \
		|| echo "wrk could not be installed: the single-note load is driven from Python"
	$(BIN)/python -m benchmarks.push $(BENCH_ARGS)
	$(BIN)/python -m benchmarks.registry

clean:
	rm -rf $(VENV) .notegateway-test .pytest_cache .mypy_cache .ruff_cache

## What deploy/ ships, proved on this machine (README, "Deployment"): the alert rules'
## tests (promtool), the nginx site in front of two gateway processes (certificates, a
## forged header, slow and oversized requests), a failover to a synchronous standby under
## load. Installs Debian's nginx, prometheus and postgresql when missing; runs as root
## (the clusters belong to the postgres user); a scratch database on DEPLOY_CHECK_ADMIN_URL.
deploy-check: install
	@for tool in nginx:nginx promtool:prometheus pg_createcluster:postgresql; do \
		command -v $${tool%%:*} >/dev/null 2>&1 || apt-get install -y -q $${tool##*:} >/dev/null 2>&1 \
		|| (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q $${tool##*:} >/dev/null 2>&1) \
		|| echo "$${tool##*:} could not be installed"; \
	done
	cd deploy/prometheus && promtool check rules notegateway.rules.yml \
		&& promtool test rules notegateway.rules.test.yml
	$(BIN)/python -m deploy.check.proxy
	$(BIN)/python -m deploy.check.failover
