"""API.md, "Command line": setup_trial, create_staff, generate_allocation_lists."""

from __future__ import annotations

import re
from io import StringIO
from typing import Any

import pyotp
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.contract.client import PASSWORD, Api, ask_token, create_staff

SITE_NAMES = [
    {"code": "BAL", "name": "Ballerup"},
    {"code": "GLA", "name": "Gladsaxe"},
    {"code": "FRB", "name": "Frederiksberg"},
]


def me(username: str, secret: str = "") -> dict[str, Any]:
    response = ask_token(username, otp=pyotp.TOTP(secret).now() if secret else None)
    assert response.status_code == 200, response.content
    return Api(response.json()["token"]).get("auth/me/").json()


def sites_by_role(profile: dict[str, Any]) -> dict[str, list[str]]:
    return {entry["role"]: sorted(entry["sites"]) for entry in profile["roles"]}


def test_setup_trial_makes_the_three_sites_and_can_run_again(db: None) -> None:
    call_command("setup_trial", stdout=StringIO())
    call_command("setup_trial", stdout=StringIO())
    create_staff("monitor1", "monitor")
    response = ask_token("monitor1")
    sites = Api(response.json()["token"]).get("sites/").json()
    assert sorted(sites, key=lambda s: s["code"]) == sorted(SITE_NAMES, key=lambda s: s["code"])


def test_create_staff_without_a_site_covers_every_site(trial: None) -> None:
    create_staff("coord-all", "coordinator")
    assert sites_by_role(me("coord-all")) == {"coordinator": ["BAL", "FRB", "GLA"]}


def test_create_staff_takes_repeated_roles_and_several_sites(trial: None) -> None:
    create_staff("clin-ass", "clinician", "assessor", sites=("BAL", "GLA"))
    profile = me("clin-ass")
    assert sites_by_role(profile) == {"assessor": ["BAL", "GLA"], "clinician": ["BAL", "GLA"]}
    assert profile["may_see_allocation"] is False  # blinded wins


def test_create_staff_accepts_the_site_option_repeated(trial: None) -> None:
    call_command(
        "create_staff",
        "coord-two",
        "--role",
        "coordinator",
        "--site",
        "BAL",
        "--site",
        "FRB",
        "--password",
        PASSWORD,
        stdout=StringIO(),
    )
    assert sites_by_role(me("coord-two")) == {"coordinator": ["BAL", "FRB"]}


def test_create_staff_registers_the_totp_secret_as_a_confirmed_device(trial: None) -> None:
    secret = pyotp.random_base32()
    create_staff("stat1", "statistician", secret=secret)
    assert ask_token("stat1").status_code == 400  # the device is there: a code is required
    profile = me("stat1", secret)
    assert profile["two_factor_enrolled"] is True
    assert sites_by_role(profile) == {"statistician": ["BAL", "FRB", "GLA"]}


def test_create_staff_updates_an_existing_account(trial: None) -> None:
    create_staff("changing", "coordinator", sites=("BAL",))
    call_command(
        "create_staff",
        "changing",
        "--role",
        "instructor",
        "--site",
        "GLA",
        "--password",
        "Another-Password-2026",
        stdout=StringIO(),
    )
    assert ask_token("changing").status_code == 400  # the old password no longer works
    response = ask_token("changing", password="Another-Password-2026")
    assert response.status_code == 200
    profile = Api(response.json()["token"]).get("auth/me/").json()
    assert sites_by_role(profile) == {"instructor": ["GLA"]}


@pytest.mark.parametrize(
    "args",
    [
        ["x1", "--role", "wizard", "--password", PASSWORD],
        ["x2", "--role", "coordinator", "--site", "XYZ", "--password", PASSWORD],
        ["x3", "--role", "coordinator", "--password", "short"],
        ["x4", "--role", "statistician", "--password", PASSWORD, "--totp-secret", "not-base32!"],
    ],
)
def test_create_staff_refuses_bad_arguments_and_creates_nobody(trial: None, args: list) -> None:
    with pytest.raises(CommandError):
        call_command("create_staff", *args, stdout=StringIO(), stderr=StringIO())
    assert ask_token(args[0]).status_code == 400


def test_generate_allocation_lists_prints_a_hash_per_site_and_never_the_list(trial: None) -> None:
    out = StringIO()
    call_command("generate_allocation_lists", "--per-site", "24", "--sites", "BAL,GLA", stdout=out)
    printed = out.getvalue()
    lines = [line for line in printed.splitlines() if line.strip()]
    assert len(lines) == 2
    for line, site in zip(lines, ("BAL", "GLA"), strict=True):
        assert line.startswith(site)
        assert re.search(r"\b[0-9a-f]{64}\b", line), line
    assert not re.search(r"IMR|TAU", printed)


def test_generate_allocation_lists_covers_all_three_sites_by_default_and_never_overwrites(
    trial: None,
) -> None:
    out = StringIO()
    call_command("generate_allocation_lists", "--per-site", "6", stdout=out)
    assert [line.split()[0] for line in out.getvalue().splitlines() if line.strip()] == [
        "BAL",
        "GLA",
        "FRB",
    ]
    with pytest.raises(CommandError):
        call_command("generate_allocation_lists", "--per-site", "6", stdout=StringIO())


def test_generate_allocation_lists_refuses_an_unknown_site(trial: None) -> None:
    with pytest.raises(CommandError):
        call_command(
            "generate_allocation_lists", "--per-site", "6", "--sites", "BAL,XYZ", stdout=StringIO()
        )
    # Nothing was written: BAL can still be generated.
    call_command(
        "generate_allocation_lists", "--per-site", "6", "--sites", "BAL", stdout=StringIO()
    )
