# The two commands a new user needs: `make run` and `make test` (README.md).
SHELL := /bin/bash
.DEFAULT_GOAL := help
# PORT from the environment, else from .env (several checkouts on one machine), else 8000.
ENV_PORT := $(shell sed -n 's/^PORT=//p' .env 2>/dev/null | tail -n 1)
PORT ?= $(or $(ENV_PORT),8000)
PYTHON ?= python3.11
UV_VERSION := 0.13.9
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
PY := .venv/bin/python
export UV_PYTHON_DOWNLOADS := never

.PHONY: help run test install services database demo worker lint messages

help:
	@echo "make run   install, prepare the database, create demo users and data, serve on :$(PORT)"
	@echo "make test  run the whole test suite"
	@echo "make lint  ruff (style, complexity), ruff format and mypy, as CI runs them"

.tools/bin/uv:
	$(PYTHON) -m venv .tools && .tools/bin/pip install --quiet uv==$(UV_VERSION)

# Secrets for this machine only, generated once; never committed (.gitignore).
.env:
	@$(PYTHON) -c "import secrets, base64, os; print('DEBUG=true'); print('SECRET_KEY=' + secrets.token_urlsafe(50)); print('CPR_KEYS=' + base64.urlsafe_b64encode(os.urandom(32)).decode())" > .env
	@echo "Wrote .env with a new SECRET_KEY and CPR key (keep it: the CPR numbers need it)."

install: $(if $(findstring .tools,$(UV)),.tools/bin/uv) .env
	@$(UV) sync --frozen --python $(PYTHON) --quiet

services: install
	@$(PY) manage.py check_services

# Migrations run as the database owner, which grants the runtime role (DATABASE_URL) its
# privileges; everything else runs as the runtime role (README.md, "Configuration").
database: services
	@$(PY) manage.py ensure_database
	DATABASE_ROLE=owner $(PY) manage.py migrate --no-input
	$(PY) manage.py setup_trial

demo: database
	$(PY) manage.py demo_data

# The worker and the web server share make's process group, so Ctrl-C (or a TERM to the
# group) reaches both; the EXIT trap also stops the worker when the server ends on its own.
run: demo
	@echo "Starting a Celery worker (with beat: the export watchdog) and the web server on http://127.0.0.1:$(PORT) (Ctrl-C stops both)"
	@mkdir -p var; .venv/bin/celery -A imrtrial worker --beat --schedule var/celerybeat-schedule --loglevel=INFO --concurrency=2 & worker=$$!; \
	  trap 'kill -TERM $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT; \
	  trap 'exit 130' INT TERM; \
	  PORT=$(PORT) $(PY) manage.py runserver 127.0.0.1:$(PORT)

# One worker per core (pytest-xdist); each worker has its own test database.
test: services
	.venv/bin/pytest -n auto

# What CI checks before the tests (.ci/run): style, format, types.
lint: install
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy .

# The Danish catalogue: gather the messages of the code and templates into locale/da (then
# translate the new ones), and compile it. tests/i18n fails while either step is owed.
messages: install
	$(PY) manage.py makemessages --locale da --no-location --ignore '.venv/*' --ignore '.tools/*' --ignore 'tests/*' --ignore 'bench/*' --ignore 'docs/*' --ignore 'var/*' --ignore 'deploy/*'
	$(PY) manage.py compilemessages --locale da --ignore '.venv/*' --ignore '.tools/*'
