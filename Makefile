# Guanxi: `make run` runs the product, `make test` runs every check. Both set everything up.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
PY := $(VENV)/bin/python
export GUANXI_DATA_DIR ?= $(CURDIR)/var
PYTEST_WORKERS ?= 2

.PHONY: help run test lint test-sqlite test-postgres bench browser-deps node-deps java-deps demo-large clean

help:
	@echo "make run    - run Guanxi on http://127.0.0.1:8000 (SQLite in $(GUANXI_DATA_DIR), demo data)"
	@echo "make test   - ruff, mypy, import contracts, migrations check, pytest on SQLite and PostgreSQL, browser tests"
	@echo "make bench  - benchmarks (large demo data; slow)"

$(PY):
	@py=$$(scripts/find-python) || exit 1; echo "creating $(VENV) with $$py"; "$$py" -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(PY) -m pip install -q -e ".[dev,spark]"
	@touch $@

run: $(VENV)/.installed
	@$(PY) manage.py compile_translations --verbosity 0
	$(PY) manage.py serve

browser-deps:
	@command -v chromium >/dev/null 2>&1 || { echo "installing Debian's chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	DJANGO_SETTINGS_MODULE=guanxi.settings.test $(PY) manage.py makemigrations --check --dry-run

# The official Segment Node SDK, which the tracking tests drive against a live server.
node_modules/.package-lock.json: package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "installing Debian's nodejs and npm for the SDK tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; }
	npm ci --no-audit --no-fund --loglevel=error

node-deps: node_modules/.package-lock.json

# Java for Spark in local mode, which the analytics engine's tests run on.
java-deps:
	@command -v java >/dev/null 2>&1 || { echo "installing Debian's Java runtime for the Spark tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq default-jre-headless >/dev/null; }

test-sqlite: $(VENV)/.installed-dev browser-deps node-deps java-deps
	@$(PY) manage.py compile_translations --verbosity 0
	env -u DATABASE_URL $(VENV)/bin/pytest -n $(PYTEST_WORKERS) -q

test-postgres: $(VENV)/.installed-dev browser-deps node-deps java-deps
	@$(PY) manage.py compile_translations --verbosity 0
	url=$$(scripts/ensure-postgres) && DATABASE_URL=$$url $(VENV)/bin/pytest -n $(PYTEST_WORKERS) -q

test: lint test-sqlite test-postgres

bench: $(VENV)/.installed-dev
	@$(PY) manage.py compile_translations --verbosity 0
	url=$$(scripts/ensure-postgres) && BENCH_DATABASE_URL=$$url $(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache node_modules
