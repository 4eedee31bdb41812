# Supplyline: `make run` starts the demo, `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
SANDBOX_PORT ?= 8100
export SANDBOX_PORT
# The suite runs against the real services on this machine; it creates its own test database.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/supplyline
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
PYTEST_ARGS ?=

.PHONY: install browser run test bench lint fmt check-deploy clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed

# The browser tests drive Debian's Chromium (Playwright's own browser download is not used).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium for the browser tests (needs root)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	@echo ""
	@echo "  Supplyline is starting on http://127.0.0.1:$(PORT)/"
	@echo "  Demo logins (password demo1234):"
	@echo "    buyer@example.com          buyer (all suppliers)"
	@echo "    lee.buyer@example.com      second buyer"
	@echo "    acme@example.com           supplier ACME, admin"
	@echo "    acme.shipping@example.com  supplier ACME, shipping"
	@echo "    dana@example.com           ACME order desk and BOLT viewer (switch supplier in the nav)"
	@echo "    bolt@example.com           supplier BOLT, admin"
	@echo "    admin@example.com          staff superuser, /admin/"
	@echo "  Buyers and supplier admins set up an authenticator app (TOTP) at first sign-in;"
	@echo "  SUPPLYLINE_MFA_REQUIRED=false make run skips that for a quick look."
	@echo "  The sandbox ERP and planning system listen on http://127.0.0.1:$(SANDBOX_PORT)/ (ledger: /erp/ledger)."
	@echo "  Ctrl-C stops the web server, the Celery worker, beat and the sandbox."
	@echo ""
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start --port $(PORT) --procfile Procfile

test: install browser
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) DB_CONN_MAX_AGE=0 $(BIN)/pytest $(PYTEST_ARGS)

# Benchmarks report numbers; they are not tests and never fail on them.
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/supplyline_bench
BENCH_REDIS_URL ?= redis://127.0.0.1:6379/14
bench: install
	@psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS supplyline_bench" && \
	  psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE supplyline_bench"
	DATABASE_URL=$(BENCH_DATABASE_URL) REDIS_URL=$(BENCH_REDIS_URL) LOG_LEVEL=WARNING \
	  $(BIN)/python -m tests.bench.bench_delivery_latency
	DATABASE_URL=$(BENCH_DATABASE_URL) REDIS_URL=$(BENCH_REDIS_URL) LOG_LEVEL=WARNING \
	  $(BIN)/python -m tests.bench.bench_api

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(MAKE) --no-print-directory check-deploy

# The production settings must pass Django's deployment checklist with no warning.
check-deploy: install
	DJANGO_ENV=production \
	DJANGO_SECRET_KEY="check-deploy-$$(head -c 48 /dev/urandom | base64 | tr -d '\n/+=')" \
	DJANGO_ALLOWED_HOSTS=portal.example.com SUPPLYLINE_BASE_URL=https://portal.example.com \
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) \
	$(BIN)/python manage.py check --deploy --fail-level WARNING

fmt: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .data .pytest_cache .mypy_cache .ruff_cache artifacts
