"""API.md, "Settings": RANDOMIZATION_REQUIRES_BASELINE and CPR_KEYS (the other variables are
checked in tests/trial/test_project.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from django.core.management import call_command

from tests.contract.client import (
    BASELINE_FOR_RANDOMIZATION,
    ELIGIBLE,
    Api,
    assert_error_shape,
    consented,
    form_items,
    randomize,
    unique_cpr,
)

ROOT = Path(__file__).resolve().parents[2]
ELIGIBLE_BIPOLAR = {**ELIGIBLE, "diagnosis": "F31"}


def settings_read_from(environments: list[dict[str, str | None]], *names: str) -> list[Any]:
    """The settings `names` that imrtrial/settings.py makes of each environment (None: the
    variable unset), in one fresh process that reads the settings file once for each."""
    script = """
import json, os, runpy, sys
found = []
for change in json.loads(sys.argv[1]):
    for key, value in change.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    made = runpy.run_path("imrtrial/settings.py")
    found.append({name: made[name] for name in sys.argv[2:]})
print(json.dumps(found, default=str))
"""
    done = subprocess.run(
        [sys.executable, "-c", script, json.dumps(environments), *names],
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k not in names},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_every_setting_of_api_md_comes_from_the_environment() -> None:
    new, old = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    baseline_values = [None, "", "true", "1", "yes", "false", "0", "no", None]
    environments: list[dict[str, str | None]] = [
        {
            "DATABASE_URL": "postgres://someone@127.0.0.1:5432/other",
            "REDIS_URL": "redis://127.0.0.1:6379/7",
            "SECRET_KEY": "s" * 50,
            "DEBUG": "false",
            "ALLOWED_HOSTS": "edc.example.org, www.edc.example.org",
            "CPR_KEYS": f"{new}, {old}",
        },
        {"DEBUG": "true", "CPR_KEYS": new},
        *({"RANDOMIZATION_REQUIRES_BASELINE": v} for v in baseline_values),
    ]
    found = settings_read_from(
        environments,
        "DATABASES",
        "REDIS_URL",
        "SECRET_KEY",
        "DEBUG",
        "ALLOWED_HOSTS",
        "CPR_KEYS",
        "RANDOMIZATION_REQUIRES_BASELINE",
    )
    first, second, *baselines = found
    database = first["DATABASES"]["default"]
    assert (database["NAME"], database["USER"], database["HOST"], str(database["PORT"])) == (
        "other",
        "someone",
        "127.0.0.1",
        "5432",
    )
    assert first["REDIS_URL"] == "redis://127.0.0.1:6379/7"
    assert first["SECRET_KEY"] == "s" * 50
    assert first["DEBUG"] is False and second["DEBUG"] is True
    assert first["ALLOWED_HOSTS"] == ["edc.example.org", "www.edc.example.org"]
    # Comma-separated, newest first.
    assert (first["CPR_KEYS"], second["CPR_KEYS"]) == ([new, old], [new])
    # Default true: only an explicit "off" value turns the baseline requirement off.
    assert [b["RANDOMIZATION_REQUIRES_BASELINE"] for b in baselines] == [
        True,
        True,
        True,
        True,
        True,
        False,
        False,
        False,
        True,
    ]


def test_make_run_serves_on_the_port_given() -> None:
    environment = {**os.environ, "PORT": "8123"}
    done = subprocess.run(
        ["make", "-n", "run"], cwd=ROOT, env=environment, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "gunicorn imrtrial.wsgi:application --bind 127.0.0.1:8123" in done.stdout
    dev = subprocess.run(
        ["make", "-n", "dev"], cwd=ROOT, env=environment, capture_output=True, text=True
    )
    assert "runserver 127.0.0.1:8123" in dev.stdout


def baseline(assessor: Api, pid: int, *, leave_out: str = "") -> None:
    instruments = assessor.get("instruments/").json()
    for code in BASELINE_FOR_RANDOMIZATION:
        status = "draft" if code == leave_out else "complete"
        response = assessor.put(
            f"participants/{pid}/assessments/baseline/{code}/",
            {"items": form_items(code, instruments), "status": status},
        )
        assert response.status_code == 201, (code, response.content)


def test_by_default_randomization_needs_the_complete_clinician_rated_baseline(
    staff: Any, lists: str
) -> None:
    coordinator = staff("coordinator", sites=("BAL",))
    assessor = staff("assessor", sites=("BAL",))
    for code in BASELINE_FOR_RANDOMIZATION:
        participant = consented(coordinator)
        baseline(assessor, participant["id"], leave_out=code)
        body = assert_error_shape(randomize(coordinator, participant["id"]), 400)
        assert code in str(body), code
    participant = consented(coordinator)
    baseline(assessor, participant["id"])
    assert randomize(coordinator, participant["id"]).status_code == 201


def test_with_the_baseline_requirement_off_a_consented_participant_is_randomized(
    staff: Any, lists: str, settings: Any
) -> None:
    settings.RANDOMIZATION_REQUIRES_BASELINE = False
    coordinator = staff("coordinator", sites=("BAL",))
    participant = consented(coordinator)
    response = randomize(coordinator, participant["id"])
    assert response.status_code == 201
    # Eligibility and consent are still required.
    unconsented = coordinator.post(
        "participants/", {"site": "BAL", "cpr": unique_cpr(), "sex": "male"}
    ).json()
    assert_error_shape(randomize(coordinator, unconsented["id"]), 400)


def test_a_new_key_in_front_keeps_everything_made_under_the_old_one_working(
    staff: Any, settings: Any
) -> None:
    settings.RANDOMIZATION_REQUIRES_BASELINE = False
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.CPR_KEYS = [old]
    call_command("generate_allocation_lists", "--per-site", "10", stdout=StringIO())
    coordinator = staff("coordinator")
    cpr = unique_cpr()
    first = coordinator.post("participants/", {"site": "BAL", "cpr": cpr, "sex": "female"})
    assert first.status_code == 201

    settings.CPR_KEYS = [new, old]  # rotation: the new key first, the old one still there
    again = coordinator.post("participants/", {"site": "GLA", "cpr": cpr, "sex": "female"})
    assert_error_shape(again, 409)  # the number registered under the old key is still found
    second = consented(coordinator, "BAL")
    assert second["cpr_masked"].endswith("-XXXX")
    pid = first.json()["id"]
    eligibility = coordinator.post(f"participants/{pid}/eligibility/", ELIGIBLE_BIPOLAR)
    assert eligibility.status_code == 200
    assert (
        coordinator.post(
            f"participants/{pid}/consent/", {"consent_date": first.json()["registered_at"][:10]}
        ).status_code
        == 200
    )
    # The allocation lists were sealed under the old key: randomisation still works.
    for participant_id in (pid, second["id"]):
        response = randomize(coordinator, participant_id)
        assert response.status_code == 201, response.content
        assert response.json()["arm"] in ("IMR", "TAU")
