# Everything installs into .venv from this project's own files.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/test

.PHONY: demo test test-sqlite test-postgres lint migrations-check clean

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

## Serve the demo on http://localhost:8000 (SQLite, Celery eager, seeded funnel).
demo: $(VENV)/.installed
	cd demo_project && ../$(PY) manage.py migrate --noinput
	cd demo_project && ../$(PY) manage.py seed_demo
	cd demo_project && ../$(PY) manage.py runserver 127.0.0.1:8000

## The whole suite: on SQLite, then on PostgreSQL (skipped with a reason when it is
## not reachable, a failure when CI=true or ONBOARDING_REQUIRE_SERVICES=1).
test: test-sqlite test-postgres

test-sqlite: $(VENV)/.installed
	$(PY) -m pytest -m "not postgres"

test-postgres: $(VENV)/.installed
	@if $(PY) -m tests.services postgres "$(POSTGRES_URL)"; then \
		ONBOARDING_TEST_DATABASE=postgres ONBOARDING_TEST_POSTGRES_URL="$(POSTGRES_URL)" \
			$(PY) -m pytest; \
	else \
		code=$$?; [ $$code -eq 3 ] && exit 0 || exit $$code; \
	fi

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DJANGO_SETTINGS_MODULE=tests.settings $(VENV)/bin/django-admin makemigrations --check --dry-run --pythonpath . --pythonpath demo_project

clean:
	rm -rf $(VENV) demo_project/db.sqlite3 build dist *.egg-info
