"""PostgreSQL stopped while the app works (DESIGN.md invariant 10): a throwaway cluster,
started in a temporary directory, holds a copy of the test database; the app connects to it
as the runtime role. The cluster is stopped in the middle of a randomisation and of a form
save: the API answers 503 with Retry-After and its JSON error shape, pages a friendly 503
page, never a 500; nothing is half-written; once PostgreSQL is back, everything works."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from participants.models import Participant
from randomization.models import Allocation, SiteSequence
from tests.factories import (
    api_client,
    make_allocation_lists,
    make_participant,
    make_staff,
    unique_cpr,
)
from trial.models import Site
from trial.roles import Role

BIN = (
    Path(sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1])
    if Path("/usr/lib/postgresql").exists()
    else None
)
OUTAGE_DB = "imr_outage"
RUNTIME = settings.DATABASE_RUNTIME_ROLE

pytestmark = pytest.mark.skipif(BIN is None, reason="PostgreSQL server binaries are missing")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Cluster:
    """A PostgreSQL cluster of its own in a temporary directory (run as the `postgres` user
    when the tests run as root: the server refuses to run as root)."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="imr-outage-"))
        self.data = self.root / "data"
        self.port = free_port()
        os.chmod(self.root, 0o755)  # noqa: S103 (the postgres user must reach its socket)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
        self.pg("initdb", "-D", str(self.data), "--auth=trust", "-U", "postgres", "--no-sync")

    def pg(self, program: str, *args: str) -> None:
        assert BIN is not None  # (the module is skipped without it)
        command = [str(BIN / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c full_page_writes=off"
        )
        self.pg("pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-o", options,
                "-w", "start")  # fmt: skip

    def stop(self) -> None:
        # "immediate": as a crash or a pulled cable, no goodbye to the clients.
        self.pg("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def psql(self, sql: str, database: str = "postgres") -> None:
        subprocess.run(
            ["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", database,
             "-v", "ON_ERROR_STOP=1", "-q", "-c", sql],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster(django_db_setup: Any, django_db_blocker: Any) -> Iterator[Cluster]:
    """The throwaway cluster with a copy of the (migrated, empty) test database: its tables,
    triggers, functions and the runtime role's privileges."""
    with django_db_blocker.unblock():
        source = dict(connection.settings_dict)
    made = Cluster()
    try:
        made.start()
        if source["USER"] != "postgres":  # initdb made `postgres` already
            made.psql(f'CREATE ROLE "{source["USER"]}" SUPERUSER LOGIN')
        made.psql(f'CREATE ROLE "{RUNTIME}" LOGIN NOSUPERUSER')
        made.psql(f'CREATE DATABASE {OUTAGE_DB} OWNER "{source["USER"]}"')
        dump = made.root / "copy.dump"
        subprocess.run(
            ["pg_dump", "-h", source["HOST"], "-p", str(source["PORT"] or 5432),
             "-U", source["USER"], "-Fc", "-f", str(dump), source["NAME"]],
            check=True, capture_output=True, timeout=300,
        )  # fmt: skip
        subprocess.run(
            ["pg_restore", "-h", "127.0.0.1", "-p", str(made.port), "-U", "postgres",
             "-d", OUTAGE_DB, "--exit-on-error", str(dump)],
            check=True, capture_output=True, timeout=300,
        )  # fmt: skip
        yield made
    finally:
        made.remove()


@pytest.fixture
def app_on_cluster(cluster: Cluster, django_db_blocker: Any, settings: Any) -> Iterator[Cluster]:
    """The app's default connection points at the throwaway cluster, as the runtime role, for
    one test (no test transaction around it: a stop must hit real, committed work)."""
    settings.RANDOMIZATION_REQUIRES_BASELINE = False
    saved = dict(connection.settings_dict)
    with django_db_blocker.unblock():
        connection.close()
        connection.settings_dict.update(
            HOST="127.0.0.1",
            PORT=cluster.port,
            NAME=OUTAGE_DB,
            USER=RUNTIME,
            PASSWORD="",
            CONN_MAX_AGE=0,
            OPTIONS={"connect_timeout": 3},
        )
        try:
            yield cluster
        finally:
            with contextlib.suppress(Exception):
                cluster.start()
            connection.close()
            connection.settings_dict.clear()
            connection.settings_dict.update(saved)


@contextlib.contextmanager
def stop_when(cluster: Cluster, matches: Callable[[str], bool]) -> Iterator[list[str]]:
    """Stop PostgreSQL just before the first statement for which `matches(sql)` is true runs,
    i.e. in the middle of the request's transaction."""
    seen: list[str] = []

    def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if not seen and matches(sql):
            seen.append(sql)
            cluster.stop()
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield seen


def back_up(cluster: Cluster) -> None:
    cluster.start()
    # The connection the request held died with the server; the next request opens a new one
    # (Django does this at the end of a request; the test client leaves it to us).
    connection.close()


def world() -> dict[str, Any]:
    from django.core.management import call_command

    if not Site.objects.exists():
        call_command("setup_trial", stdout=open(os.devnull, "w"))  # noqa: SIM115
        make_allocation_lists(per_site=6)
    coordinator = make_staff(None, Role.COORDINATOR, sites=["BAL"])
    return {"coordinator": coordinator, "participant": make_participant("BAL", user=coordinator)}


def test_the_database_stopping_during_a_randomisation_answers_503_and_writes_nothing(
    app_on_cluster: Cluster,
) -> None:
    made = world()
    participant, coordinator = made["participant"], made["coordinator"]
    before = SiteSequence.objects.get(site=participant.site).next_sequence
    client = api_client(coordinator)
    url = f"/api/v1/participants/{participant.pk}/randomize/"

    with stop_when(app_on_cluster, lambda sql: "randomization_sitesequence" in sql) as seen:
        answer = client.post(url, {}, format="json")
    assert seen, "the randomisation never reached the allocation position"
    assert answer.status_code == 503, answer.content
    assert int(answer["Retry-After"]) > 0
    assert set(answer.json()) == {"detail"}

    # While it is down, every call answers the same way.
    down = client.get(f"/api/v1/participants/{participant.pk}/")
    assert (down.status_code, set(down.json())) == (503, {"detail"})

    back_up(app_on_cluster)
    participant.refresh_from_db()
    assert participant.status == "consented"
    assert not Allocation.objects.filter(participant=participant).exists()
    assert SiteSequence.objects.get(site=participant.site).next_sequence == before

    again = client.post(url, {}, format="json")
    assert again.status_code == 201, again.content
    assert SiteSequence.objects.get(site=participant.site).next_sequence == before + 1


def test_the_database_stopping_during_a_form_save_shows_a_friendly_503_page(
    app_on_cluster: Cluster,
) -> None:
    made = world()
    coordinator = made["coordinator"]
    # As a real server: the test client would otherwise re-raise the exception that a
    # middleware met, although the app answered.
    client = Client(raise_request_exception=False)
    client.force_login(coordinator)
    count = Participant.objects.count()
    form = {"site": "BAL", "cpr": unique_cpr(), "sex": "female"}

    with stop_when(app_on_cluster, lambda sql: sql.lstrip().upper().startswith("INSERT")):
        answer = client.post("/participants/new/", form)
    assert answer.status_code == 503
    assert answer["Content-Type"].startswith("text/html")
    assert b"not reachable" in answer.content
    assert b"Traceback" not in answer.content

    # A page asked while it is down (the session itself cannot be read): the same page.
    down = client.get("/participants/")
    assert down.status_code == 503
    assert b"not reachable" in down.content

    back_up(app_on_cluster)
    assert Participant.objects.count() == count
    saved = client.post("/participants/new/", form)
    assert saved.status_code == 302, saved.content[:500]
    assert Participant.objects.count() == count + 1
