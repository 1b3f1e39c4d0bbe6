"""The project around the code: the production compose file, and the service check that
`make run` and `make test` start with."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from django.core.management import call_command

from trial.dbconfig import OWNER_ALIAS

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
APP_SERVICES = ("migrate", "web", "worker", "relay", "beat")
SECRETS = (
    "SECRET_KEY",
    "CPR_KEYS",
    "POSTGRES_PASSWORD",
    "DATABASE_OWNER_PASSWORD",
    "DATABASE_APP_PASSWORD",
    "REDIS_PASSWORD",
    "REDISCLI_AUTH",
)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_runs_the_database_redis_gunicorn_a_worker_the_outbox_relay_and_beat(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    assert {"db", "redis", "web", "worker", "relay", "beat", "migrate"} <= set(services)
    assert services["db"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")
    assert services["web"]["command"][0] == "gunicorn"
    assert services["web"]["command"][1] == "imrtrial.wsgi:application"
    assert services["worker"]["command"][:4] == ["celery", "-A", "imrtrial", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "imrtrial", "beat"]
    assert services["relay"]["command"] == ["python", "manage.py", "outbox_relay"]
    assert "migrate" in " ".join(services["migrate"]["command"])


def test_the_database_and_redis_have_health_checks_the_app_waits_for(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    assert "pg_isready" in " ".join(services["db"]["healthcheck"]["test"])
    assert services["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    for name in ("web", "worker", "relay"):
        depends = services[name]["depends_on"]
        assert depends["db"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"
        assert depends["migrate"]["condition"] == "service_completed_successfully"
    for name in ("web", "worker"):
        assert "healthcheck" in services[name]


def test_configuration_comes_from_the_environment_and_no_secret_is_in_the_file(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    for name in APP_SERVICES:
        env = services[name]["environment"]
        for setting in ("SECRET_KEY", "CPR_KEYS", "ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL"):
            assert "${" in env[setting], (name, setting)
        assert env["DEBUG"] == "false"
    # Every secret is a required variable (${NAME:?message}), never a value or a default.
    text = COMPOSE.read_text()
    for secret in SECRETS:
        for match in re.finditer(rf"^\s*{secret}\s*:\s*(\S.*)$", text, re.MULTILINE):
            assert match.group(1).startswith("${") and ":?" in match.group(1), match.group(0)
    assert not re.search(r"PASSWORD:-", text), "a password with a default value"


def compose_command() -> list[str] | None:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    ):
        return [docker, "compose"]
    return None


def test_docker_compose_accepts_the_file(tmp_path: Path) -> None:
    command = compose_command()
    if command is None:
        pytest.skip("no docker-compose or docker compose here (.ci/run installs docker-compose)")
    env = dict(os.environ)
    env.update(
        SECRET_KEY="x" * 60,
        CPR_KEYS="k",
        POSTGRES_PASSWORD="p",
        DATABASE_OWNER_PASSWORD="o",
        DATABASE_APP_PASSWORD="a",
        REDIS_PASSWORD="r",
        ALLOWED_HOSTS="edc.example.org",
    )
    # An empty --env-file: a developer's .env next to the file must not fill in the blanks.
    empty = tmp_path / "empty.env"
    empty.write_text("")
    config = [*command, "-f", str(COMPOSE), "--env-file", str(empty), "config", "-q"]
    accepted = subprocess.run(config, env=env, capture_output=True, text=True)
    assert accepted.returncode == 0, accepted.stderr
    # Without a secret it refuses to start rather than run with a blank.
    for secret in (
        "SECRET_KEY",
        "CPR_KEYS",
        "POSTGRES_PASSWORD",
        "REDIS_PASSWORD",
        "DATABASE_OWNER_PASSWORD",
        "DATABASE_APP_PASSWORD",
    ):
        missing = {k: v for k, v in env.items() if k != secret}
        refused = subprocess.run(config, env=missing, capture_output=True, text=True)
        assert refused.returncode != 0, secret
        assert secret in refused.stderr


def check_services(monkeypatch: Any, database: dict[str, Any], redis_url: str) -> list[str]:
    """Run the check the Makefile runs against other addresses; return its stderr lines (it
    must exit with 1)."""
    from trial.management.commands import check_services as command

    configured = SimpleNamespace(
        DATABASES={"default": database, OWNER_ALIAS: database}, REDIS_URL=redis_url
    )
    monkeypatch.setattr(command, "settings", configured)
    err = io.StringIO()
    with pytest.raises(SystemExit) as stopped:
        call_command("check_services", stdout=io.StringIO(), stderr=err)
    assert stopped.value.code == 1
    return err.getvalue().strip().splitlines()


def test_an_unreachable_database_is_named_in_one_line_with_how_to_start_it(
    monkeypatch: Any, settings: Any
) -> None:
    database = dict(settings.DATABASES["default"], HOST="127.0.0.1", PORT=1)
    lines = check_services(monkeypatch, database, settings.REDIS_URL)
    assert len(lines) == 1
    assert lines[0].startswith("PostgreSQL is not reachable at 127.0.0.1:1. Start it with: ")
    assert "pg_ctlcluster" in lines[0]


def test_a_fresh_machine_passes_before_the_runtime_role_exists(
    monkeypatch: Any, settings: Any
) -> None:
    """`make run` checks the services before `ensure_database` creates the runtime role: the
    check connects as the owner, so a runtime role that does not exist yet is no outage."""
    from trial.management.commands import check_services as command

    owner = settings.DATABASES[OWNER_ALIAS]
    runtime = dict(owner, USER="imr_role_not_made_yet", PASSWORD="x")
    configured = SimpleNamespace(
        DATABASES={"default": runtime, OWNER_ALIAS: owner}, REDIS_URL=settings.REDIS_URL
    )
    monkeypatch.setattr(command, "settings", configured)
    out = io.StringIO()
    call_command("check_services", stdout=out, stderr=io.StringIO())
    assert "PostgreSQL and Redis are reachable." in out.getvalue()


def test_an_unreachable_redis_is_named_in_one_line_with_how_to_start_it(
    monkeypatch: Any, settings: Any
) -> None:
    lines = check_services(monkeypatch, settings.DATABASES["default"], "redis://127.0.0.1:1/0")
    assert len(lines) == 1
    assert lines[0].startswith("Redis is not reachable at redis://127.0.0.1:1/0. Start it with: ")
    assert "--port 1 " in lines[0]
