from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.test import Client, TransactionTestCase
from psycopg import sql

from trial import dbroles, outbox
from trial.dbconfig import OWNER_ALIAS
from trial.models import Site


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix: None) -> None:
    """The test databases are created and migrated by the owner role, which grants the runtime
    role its privileges (trial.dbroles), and the suite connects as the owner: Django empties
    the tables between transactional tests with TRUNCATE, which the runtime role may never do
    (the owner may only as a superuser with `imr.allow_truncate` set, as here).
    tests/trial/test_database_roles.py connects as the runtime role and checks each refusal and
    a whole working day's writes; subprocesses the tests start (Celery workers, gunicorn) get
    DATABASE_URL with the owner's credentials and the runtime role's name and password, so on a
    one-URL machine they connect as the runtime role, as in production."""
    default = settings.DATABASES["default"]
    owner = settings.DATABASES[OWNER_ALIAS]
    runtime_user, runtime_password = default["USER"], default["PASSWORD"]
    if settings.DATABASE_ROLES.derived:
        with (
            psycopg.connect(
                host=owner["HOST"],
                port=owner["PORT"] or 5432,
                user=owner["USER"],
                password=owner["PASSWORD"] or None,
                dbname="postgres",
                autocommit=True,
            ) as connection,
            connection.transaction(),
        ):
            dbroles.ensure_runtime_role(
                connection.cursor(), role=runtime_user, password=runtime_password
            )
        os.environ["DATABASE_APP_USER"] = runtime_user
        os.environ["DATABASE_APP_PASSWORD"] = runtime_password
    default["USER"], default["PASSWORD"] = owner["USER"], owner["PASSWORD"]
    # One connection per test process, kept (pytest-django's transactions), no pool.
    default["OPTIONS"] = {k: v for k, v in default.get("OPTIONS", {}).items() if k != "pool"}
    default["CONN_MAX_AGE"] = 60


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> None:
    """Every connection to the test database may empty it between transactional tests (as a
    superuser: the TRUNCATE guards of trial.dbroles let nobody else), and commits without
    waiting for the WAL to reach the disk (a throwaway database: a crash loses nothing that
    matters, and the suite's thousands of commits stop waiting on fsync)."""
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        setting = sql.Identifier(*dbroles.ALLOW_TRUNCATE_SETTING.split("."))
        name = sql.Identifier(connection.settings_dict["NAME"])
        for statement in (
            sql.SQL("ALTER DATABASE {} SET {} = on").format(name, setting),
            sql.SQL("SET {} = on").format(setting),
            sql.SQL("ALTER DATABASE {} SET synchronous_commit = off").format(name),
            sql.SQL("SET synchronous_commit = off"),
        ):
            cursor.execute(statement.as_string(connection.connection))


# Filled by migrations and post_migrate, the same every time, changed by no test: kept when the
# database is emptied after a transactional test, so no post_migrate is needed to refill them.
KEPT_TABLES = frozenset({"django_migrations", "django_content_type", "auth_permission"})


def empty_the_database(self: Any) -> None:
    """What TransactionTestCase does after a transactional test (Django's `flush`: every
    table emptied), with DELETE instead of TRUNCATE. TRUNCATE makes a new file for every table
    and index and rebuilds each index; with some 80 tables that took 0.3 s on a quiet machine
    and 1–3 s under load, after each of the suite's ~70 transactional tests. The test database
    is a superuser's here (django_db_setup), so `session_replication_role = replica` keeps the
    triggers (audit, lock, foreign keys) from firing: the rows simply go, in one transaction."""
    for alias in self._databases_names(include_mirrors=False):
        db = connections[alias]
        tables = sorted(
            set(db.introspection.django_table_names(only_existing=True, include_views=False))
            - KEPT_TABLES
        )
        with transaction.atomic(using=alias), db.cursor() as cursor:
            cursor.execute("SET LOCAL session_replication_role = replica")
            for table in tables:
                cursor.execute(f"DELETE FROM {db.ops.quote_name(table)}")


@pytest.fixture(scope="session", autouse=True)
def _quick_emptying() -> Iterator[None]:
    # pytest-django's transactional_db runs a TransactionTestCase around the test.
    original = TransactionTestCase.__dict__["_fixture_teardown"]
    setattr(TransactionTestCase, "_fixture_teardown", empty_the_database)  # noqa: B010
    yield
    setattr(TransactionTestCase, "_fixture_teardown", original)  # noqa: B010


@pytest.fixture(autouse=True)
def _plain_http(settings: Any) -> None:
    # The test client speaks plain HTTP; production redirects to HTTPS at the proxy.
    settings.SECURE_SSL_REDIRECT = False


@pytest.fixture(autouse=True)
def _english_by_default(settings: Any) -> None:
    # The tests read the English interface unless they choose Danish (tests/i18n); a Danish
    # deployment's DEFAULT_LANGUAGE in .env must not change what they see.
    settings.LANGUAGE_CODE = "en"


# Argon2, production's hasher, is slow on purpose; tests/accounts/test_passwords.py checks that
# production uses it. The rest of the suite hashes with MD5 (production's hashers still verify).
FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = [*FAST_HASHERS, *settings.PASSWORD_HASHERS]


@pytest.fixture
def outbox_relay(transactional_db: None) -> Iterator[None]:
    """The outbox relay (`manage.py outbox_relay`) running in a thread of this process, as it
    runs beside the web server: for tests whose transactions commit."""
    stop = threading.Event()
    thread = threading.Thread(target=outbox.relay, kwargs={"stop": stop, "wait": 0.5})
    thread.start()
    yield
    stop.set()
    thread.join(timeout=10)
    assert not thread.is_alive()


DEAD_BROKER = "redis://127.0.0.1:1/0"  # nothing listens there: Redis is "down"


@pytest.fixture
def redis_down(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], None]]:
    """Point Celery at a broker that refuses connections; the fixture's value brings Redis
    "back" (the real broker again)."""
    from imrtrial.celery import app as celery_app

    real = celery_app.conf.broker_url
    monkeypatch.setattr(celery_app.conf, "broker_url", DEAD_BROKER)
    # Forget the connections earlier tests opened to the real broker.
    monkeypatch.setattr(celery_app, "_pool", None)
    monkeypatch.setattr(celery_app.amqp, "_producer_pool", None)

    def back() -> None:
        celery_app.conf.broker_url = real
        celery_app._pool = None
        celery_app.amqp._producer_pool = None

    yield back


@pytest.fixture
def sites(db: None) -> dict[str, Site]:
    call_command("setup_trial", stdout=open("/dev/null", "w"))  # noqa: SIM115
    return {site.code: site for site in Site.objects.all()}


class TrialClient(Client):
    """Django's test client, but `force_login` of a user whose roles need a second factor also
    marks the session as verified, as a completed password + TOTP login does (the login itself
    is tested in tests/trial)."""

    def force_login(self, user: Any, backend: str | None = None) -> None:
        super().force_login(user, backend)
        from tests.factories import verify_session

        verify_session(self, user)


@pytest.fixture
def client() -> Client:
    return TrialClient()


# --- browser tests: Playwright driving Debian's chromium (never a downloaded browser) ---------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
PHONE = {"width": 390, "height": 844}
BROWSER_FIXTURES = frozenset({"browser", "page"})
# tests/exports/conftest.py: a real Celery worker process against Redis.
WORKER_FIXTURES = frozenset({"celery_worker", "worker_factory"})


def _world_group(item: Any) -> str | None:
    """The xdist group of a test that uses a module- or package-scoped fixture that fills the
    database (a locked trial and its exports, a throwaway cluster): the module or package
    whose tests share that world, which is built once per worker it runs on."""
    info = getattr(item, "_fixtureinfo", None)
    definitions = info.name2fixturedefs.values() if info is not None else ()
    scopes = {
        definition.scope: definition.baseid
        for chain in definitions
        for definition in chain
        if definition.scope in ("module", "package") and "django_db_setup" in definition.argnames
    }
    if "package" in scopes:
        return scopes["package"]
    return item.module.__name__ if "module" in scopes else None


@pytest.hookimpl(tryfirst=True)  # before xdist reads the xdist_group marks
def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    """Every test that drives the browser is marked `browser`, every one that starts a Celery
    worker `worker` (so that `-m "not browser and not worker"` leaves them out wherever they
    are). Tests that use the shared browser run last: Playwright's sync API marks an event loop
    as running in this thread from the moment the (session-wide) browser starts, and Django
    refuses ORM calls inside a running loop unless DJANGO_ALLOW_ASYNC_UNSAFE is set: so the
    browser starts only after every other test has run, and that setting never reaches them.
    The cases of a module or package that builds its world once (a module- or package-scoped
    database fixture) stay on one xdist worker (--dist loadgroup), so the world is built once
    rather than once per worker."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & BROWSER_FIXTURES:
            item.add_marker(pytest.mark.browser)
        if fixtures & WORKER_FIXTURES:
            item.add_marker(pytest.mark.worker)
        group = _world_group(item)
        if group is not None and not any(item.iter_markers("xdist_group")):
            item.add_marker(pytest.mark.xdist_group(group))
    items.sort(key=lambda item: bool(BROWSER_FIXTURES & set(getattr(item, "fixturenames", ()))))


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless chromium for the whole test session."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (see DEVELOPERS.md)")
    from playwright.sync_api import sync_playwright

    # The ORM calls tests make between browser steps are ordinary synchronous calls; see
    # pytest_collection_modifyitems for why no other test runs with this set.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            launched = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
            yield launched
            launched.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser: Any, live_server: Any, settings: Any) -> Iterator[Any]:
    """A fresh phone-sized browser context on the live server (relative URLs work:
    `page.goto("/participants/")`). `page.console_problems` collects script errors, console
    errors and warnings (a Content-Security-Policy violation is one) and answers >= 400."""
    from django.db import connections

    # The live server speaks plain HTTP.
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    settings.SECURE_HSTS_SECONDS = 0
    context = browser.new_context(base_url=live_server.url, viewport=PHONE, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    problems: list[str] = []
    page.console_problems = problems  # type: ignore[attr-defined]
    page.on(
        "console",
        lambda message: (
            problems.append(message.text) if message.type in ("error", "warning") else None
        ),
    )
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "response",
        lambda response: (
            problems.append(f"{response.status} {response.url}") if response.status >= 400 else None
        ),
    )
    try:
        yield page
    finally:
        context.close()
        # ORM calls made while Playwright's loop runs may hold a connection of their own
        # (asgiref's context-local storage): close it, or the test database cannot be dropped.
        connections.close_all()


@pytest.fixture
def log_in(page: Any) -> Callable[..., None]:
    """`log_in(user)`: log in through the real login page, as a person would: username and
    password, and for the two-factor roles the code from the authenticator app (the user's
    confirmed device; one with tests.factories.TEST_TOTP_SECRET is enrolled if there is
    none). The user's password is set to `password`. Ends on the home page."""

    def do_log_in(user: Any, password: str | None = None) -> None:
        from django_otp.plugins.otp_totp.models import TOTPDevice

        from tests.factories import PASSWORD, enrol_totp, give_password
        from trial.access import needs_two_factor

        give_password(user, password or PASSWORD)
        two_factor = needs_two_factor(user)
        if two_factor and not TOTPDevice.objects.filter(user=user, confirmed=True).exists():
            # Before the password: someone without a device is sent to set one up instead.
            enrol_totp(user)
        page.goto("/accounts/login/")
        page.get_by_label("Username").fill(user.get_username())
        page.get_by_label("Password").fill(password or PASSWORD)
        if two_factor:
            page.get_by_label("Code from your authenticator app").fill(fresh_totp_code(user))
        page.locator("main form button[type=submit]").click()
        name = user.get_full_name() or user.get_username()
        page.get_by_role("heading", name=f"Welcome, {name}").wait_for()

    return do_log_in


def fresh_totp_code(user: Any) -> str:
    """A code the user's device accepts now and has not accepted before (django-otp refuses a
    code twice, so a second login within one 30-second step uses the next step's code, inside
    the device's tolerance)."""
    import time

    from django_otp.plugins.otp_totp.models import TOTPDevice

    from tests.factories import enrol_totp, totp_code

    device = TOTPDevice.objects.filter(user=user, confirmed=True).first() or enrol_totp(user)
    current_step = int((time.time() - device.t0) // device.step)
    offset = 0 if device.last_t < current_step else device.last_t - current_step + 1
    if offset > device.tolerance:
        raise AssertionError("Log the same user in at most twice per 30 seconds in a test.")
    return totp_code(device, offset_steps=offset)
