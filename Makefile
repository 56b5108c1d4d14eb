# The two commands: `make run` (the service on embedded defaults) and `make test` (the suite).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP_FLAGS := --quiet --disable-pip-version-check

# Test services: override with DATABASE_URL / REDIS_URL.
TEST_DATABASE_URL ?= $(or $(DATABASE_URL),postgres://postgres@127.0.0.1:5432/sendfaxmail)
TEST_REDIS_URL ?= $(or $(REDIS_URL),redis://127.0.0.1:6379/15)

.PHONY: run test lint format bench clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install $(PIP_FLAGS) -r requirements.txt 2> >(grep -v "is ignored: it is neither" >&2)
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(PY) -m pip install $(PIP_FLAGS) -r requirements-dev.txt 2> >(grep -v "is ignored: it is neither" >&2)
	touch $(VENV)/.installed $@

## make run: write .env (first run only), migrate, create the demo account, serve
## http://127.0.0.1:8000 with a Celery worker. Every setting comes from .env (DEBUG=true).
run: $(VENV)/.installed
	@$(PY) scripts/dev_env.py
	@$(PY) manage.py migrate --noinput -v 0
	@$(PY) manage.py createcachetable
	@$(PY) manage.py seed_demo
	@trap 'kill 0' INT TERM EXIT; \
	$(VENV)/bin/celery -A sendfaxmail worker --beat --loglevel=INFO --concurrency=2 \
		--schedule=var/celerybeat-schedule -Q celery,fetch,carrier,events,webhooks & \
	$(PY) manage.py runserver 127.0.0.1:8000 --noreload; \
	wait

## make test: lint, Django checks, the import contracts, then the whole suite against PostgreSQL
## and Redis.
test: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	@DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(PY) scripts/check_services.py
	DJANGO_SETTINGS_MODULE=tests.settings DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(PY) manage.py check
	DJANGO_SETTINGS_MODULE=tests.settings DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(PY) manage.py makemigrations --check --dry-run
	$(VENV)/bin/lint-imports
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(VENV)/bin/pytest $(PYTEST_ARGS)

## make bench: the /v1 auth-layer benchmark (see bench/README.md for the others).
bench: $(VENV)/.installed-dev
	$(PY) bench/auth.py

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) var
