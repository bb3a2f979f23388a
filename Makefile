# Everything installs into .venv from this project's own files.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/test

.PHONY: demo test test-sqlite test-postgres lint migrations-check clean
.PHONY: matrix docs schema typecheck wheel-test static widget-size

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

test-sqlite: $(VENV)/.installed node_modules/.package-lock.json
	$(PY) -m pytest -m "not postgres"

test-postgres: $(VENV)/.installed node_modules/.package-lock.json
	@if $(PY) -m tests.services postgres "$(POSTGRES_URL)"; then \
		ONBOARDING_TEST_DATABASE=postgres ONBOARDING_TEST_POSTGRES_URL="$(POSTGRES_URL)" \
			$(PY) -m pytest; \
	else \
		code=$$?; [ $$code -eq 3 ] && exit 0 || exit $$code; \
	fi

# axe-core for the widget's accessibility scan (tests/browser), from package-lock.json.
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

## Copy the widget's source (static/onboarding/) into the package, which ships it;
## tests/browser/test_widget_tag.py fails when the two differ.
static:
	mkdir -p onboarding/static/onboarding
	cp static/onboarding/widget.js static/onboarding/widget.css onboarding/static/onboarding/

## Gzipped size of the widget's JS and CSS (budget: 6 KB).
widget-size: $(VENV)/.installed
	$(PY) bench/widget_size.py

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	PYTHONPATH=.:demo_project DJANGO_SETTINGS_MODULE=tests.settings $(VENV)/bin/django-admin makemigrations --check --dry-run

# Extras for the targets below, installed on first use (and again when setup.cfg changes).
$(VENV)/.installed-%: $(VENV)/.installed setup.cfg
	$(PY) -m pip install -q -e ".[dev,$*]"
	touch $@

## Every supported Python x Django pair (SQLite pass); NOX_ARGS="-t edges" runs the
## oldest and the newest only. The noxfile finds pyenv's Pythons by itself.
matrix: $(VENV)/.installed
	$(VENV)/bin/nox $(NOX_ARGS)

## mypy with django-stubs and djangorestframework-stubs (strict on the core modules).
typecheck: $(VENV)/.installed-typecheck
	$(VENV)/bin/mypy

## The docs into site/; any warning (a broken link, a page outside the nav) fails.
docs: $(VENV)/.installed-docs
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

## The OpenAPI schema the app serves, into docs/openapi.yaml (validated, no warning);
## tests/test_docs_schema.py fails when the committed file differs from the code's.
schema: $(VENV)/.installed
	PYTHONPATH=.:demo_project DJANGO_SETTINGS_MODULE=tests.settings $(VENV)/bin/django-admin \
		spectacular --validate --fail-on-warn --custom-settings tests.openapi.SETTINGS \
		--file docs/openapi.yaml

## Build the sdist and wheel, install the wheel into a fresh venv and run a new project.
wheel-test: $(VENV)/.installed
	$(PY) -m pytest tests/test_packaging.py

clean:
	rm -rf $(VENV) demo_project/db.sqlite3 build dist *.egg-info
