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
# The one pip call (installing uv) ignores this machine's pip configuration, which may name
# local mirrors that do not exist (a warning per package a new user cannot act on), and does
# not warn about running as root (containers do).
export PIP_CONFIG_FILE := /dev/null
export PIP_ROOT_USER_ACTION := ignore
# Container images often set PYTHONDONTWRITEBYTECODE: every Python process then compiles every
# module it imports from source (some 7 s of CPU for Django and the app), and the suite starts
# dozens (xdist workers, Celery workers, gunicorn, manage.py). `install` compiles the
# dependencies once (--compile-bytecode); the tests may cache the app's own modules.
PYTEST := env -u PYTHONDONTWRITEBYTECODE .venv/bin/pytest
# Settings given for one run (`DATABASE_URL=... make run`) are kept in .env, so that every
# later command (`.venv/bin/python manage.py demo_totp ...`) uses the same database.
PERSISTED_SETTINGS := DATABASE_URL DATABASE_OWNER_URL REDIS_URL

.PHONY: help run dev test test-all test-fast install pdf-libraries services database demo worker lint messages

help:
	@echo "make run   install, prepare the database, create demo users and data, serve on :$(PORT)"
	@echo "make test  run the whole test suite"
	@echo "make dev   as make run, with Django's autoreloading development server"
	@echo "make lint  ruff (style, complexity), ruff format and mypy, as CI runs them"

.tools/bin/uv:
	$(PYTHON) -m venv .tools && .tools/bin/pip install --quiet uv==$(UV_VERSION)

# Secrets for this machine only, generated once; never committed (.gitignore).
.env:
	@$(PYTHON) -c "import secrets, base64, os; print('DEBUG=true'); print('SECRET_KEY=' + secrets.token_urlsafe(50)); print('CPR_KEYS=' + base64.urlsafe_b64encode(os.urandom(32)).decode())" > .env
	@echo "Wrote .env with a new SECRET_KEY and CPR key (keep it: the CPR numbers need it)."

install: $(if $(findstring .tools,$(UV)),.tools/bin/uv) .env pdf-libraries
	@umask 077; for name in $(PERSISTED_SETTINGS); do value="$${!name}"; \
	  if [ -n "$$value" ] && ! grep -qxF "$$name=$$value" .env; then \
	    grep -v "^$$name=" .env > .env.new; echo "$$name=$$value" >> .env.new; mv .env.new .env; \
	    echo "Kept $$name in .env for the commands that follow."; fi; done
	@$(UV) sync --frozen --python $(PYTHON) --quiet --compile-bytecode

# Printed CRFs (WeasyPrint) need Pango and Debian's DejaVu fonts from the system.
PDF_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core
pdf-libraries:
	@if ! /sbin/ldconfig -p | grep -q 'libpangoft2-1.0.so.0' || [ ! -d /usr/share/fonts/truetype/dejavu ]; then \
	  echo "Installing $(PDF_PACKAGES) (printed CRFs)"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get install -y -qq $(PDF_PACKAGES) >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq $(PDF_PACKAGES) >/dev/null; }; \
	  else sudo apt-get install -y -qq $(PDF_PACKAGES) || { echo "Install $(PDF_PACKAGES) with apt-get, then run make again."; exit 1; }; fi; \
	fi

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

# The web server as in production: gunicorn, several worker processes (WEB_CONCURRENCY),
# each with a small pool of database connections (DATABASE_POOL_SIZE), static files through
# WhiteNoise. `make dev` serves with Django's autoreloading runserver instead. No control socket:
# gunicorn's default is one path per user (~/.gunicorn/gunicorn.ctl), which several checkouts
# serving on one machine would share.
WEB_CONCURRENCY ?= 4
WEB_SERVER = .venv/bin/gunicorn imrtrial.wsgi:application --bind 127.0.0.1:$(PORT) \
  --workers $(WEB_CONCURRENCY) --timeout 60 --graceful-timeout 10 --access-logfile - \
  --no-control-socket
DEV_SERVER = $(PY) manage.py runserver 127.0.0.1:$(PORT)

# Development containers run everything as root, the only user there: Celery's warning about it
# is one a new user cannot act on (the Dockerfile runs the worker as the user `edc`).
WORKER_WARNINGS := ignore:You're running the worker with superuser privileges

# The worker, the outbox relay and the web server share make's process group, so Ctrl-C (or a
# TERM to the group) reaches them all; the EXIT trap also stops the worker and the relay when
# the server ends on its own.
define serve
	@echo "Starting a Celery worker (with beat: the export watchdog, the heartbeat), the outbox relay (e-mails and export builds, sent as their transaction commits) and the web server on http://127.0.0.1:$(PORT) (Ctrl-C stops them all)"
	@mkdir -p var; PYTHONWARNINGS="$(WORKER_WARNINGS)" .venv/bin/celery -A imrtrial worker --beat --schedule var/celerybeat-schedule --loglevel=INFO --concurrency=2 & worker=$$!; \
	  $(PY) manage.py outbox_relay & relay=$$!; \
	  trap 'kill -TERM $$worker $$relay 2>/dev/null; wait $$worker $$relay 2>/dev/null' EXIT; \
	  trap 'exit 130' INT TERM; \
	  PORT=$(PORT) $(1)
endef

run: demo
	$(call serve,$(WEB_SERVER))

dev: demo
	$(call serve,$(DEV_SERVER))

# Three workers (much of a test's time is spent waiting on PostgreSQL, Celery or chromium),
# each with its own test database, made afresh. Tests marked `slow` (the whole-trial role and
# blinding walks, the Danish/English browser walks, sixty clients against gunicorn) take
# longer than the rest together: `make test-all` runs them as well.
test: services
	$(PYTEST) -n 3 --create-db -m "not slow" --durations=15

test-all: services
	$(PYTEST) -n 3 --create-db --durations=25

# The quick loop while working (docs/testing.md): no browser, worker or slow tests, test
# databases kept from the last run. Narrow it further: make test-fast ARGS=tests/assessments
test-fast: services
	$(PYTEST) -n 2 -m "not slow and not browser and not worker" $(ARGS)

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
