"""The masking key of blinded exports: sealed, one for the trial, shown only to the
statistician after the lock, and every showing recorded."""

from __future__ import annotations

from typing import Any

import pytest

from casebooks.models import Signature
from exports import services
from exports.models import MaskingKey, MaskingKeyRelease
from tests.factories import (
    PASSWORD,
    api_client,
    enrol_totp,
    give_password,
    make_staff,
    page_client,
    totp_code,
)
from trial.roles import Role

URL = "/api/v1/exports/masking-key/"


def test_the_key_is_sealed_and_made_once_for_the_whole_trial(sites: dict) -> None:
    first = services.masking_key_get_or_create()
    again = services.masking_key_get_or_create()
    assert first.pk == again.pk and MaskingKey.objects.count() == 1
    assert "IMR" not in first.sealed_mapping and "TAU" not in first.sealed_mapping
    mapping = services.masking_mapping(first)
    assert set(mapping) == {"IMR", "TAU"} and set(mapping.values()) == {"A", "B"}


def test_the_statistician_receives_the_key_after_lock_and_it_is_recorded(
    statistician: Any, dm: Any
) -> None:
    key = services.masking_key_get_or_create()
    lock = services.dataset_lock(user=dm, reason="Final")
    # Not before the statistician has signed the release (password and code again).
    assert api_client(statistician).get(URL).status_code == 409
    assert not MaskingKeyRelease.objects.exists()
    give_password(statistician)
    device = enrol_totp(statistician)
    signed = api_client(statistician).post(
        URL, {"password": PASSWORD, "otp": totp_code(device)}, format="json"
    )
    assert signed.status_code == 201, signed.content
    assert Signature.objects.get().meaning == "key_released"
    assert MaskingKeyRelease.objects.count() == 1
    response = api_client(statistician).get(URL)
    assert response.status_code == 200
    groups = {g["arm"]: g for g in response.json()["groups"]}
    mapping = services.masking_mapping(key)
    assert {arm: g["group"] for arm, g in groups.items()} == mapping
    assert groups["IMR"]["code"] == {"A": 1, "B": 2}[mapping["IMR"]]
    release = MaskingKeyRelease.objects.order_by("-id").first()
    assert MaskingKeyRelease.objects.count() == 2
    assert (release.user, release.lock, release.channel) == (statistician, lock, "api")


@pytest.mark.parametrize("level", [None, "freeze"])
def test_before_the_lock_the_key_is_not_released(
    statistician: Any, dm: Any, level: str | None
) -> None:
    services.masking_key_get_or_create()
    if level:
        services.dataset_freeze(user=dm, reason="Cleaning")
    response = api_client(statistician).get(URL)
    assert response.status_code == 409
    assert not MaskingKeyRelease.objects.exists()


def test_blinded_users_never_learn_that_a_key_exists_and_others_are_refused(
    dm: Any, sites: dict
) -> None:
    services.masking_key_get_or_create()
    services.dataset_lock(user=dm, reason="Final")
    assert api_client(dm).get(URL).status_code == 404
    assert api_client(make_staff("m", Role.MONITOR)).get(URL).status_code == 404
    assert api_client(make_staff("c", Role.COORDINATOR)).get(URL).status_code == 403
    both = make_staff("both", Role.STATISTICIAN, Role.ASSESSOR)
    assert api_client(both).get(URL).status_code == 404
    assert not MaskingKeyRelease.objects.exists()


def test_without_any_blinded_export_there_is_no_key(statistician: Any, dm: Any) -> None:
    services.dataset_lock(user=dm, reason="Final")
    assert api_client(statistician).get(URL).status_code == 404


def test_the_page_shows_the_key_only_on_a_deliberate_request(statistician: Any, dm: Any) -> None:
    services.masking_key_get_or_create()
    services.dataset_lock(user=dm, reason="Final")
    give_password(statistician)
    device = enrol_totp(statistician)
    client = page_client(statistician)
    page = client.get("/data/masking-key/")
    assert page.status_code == 200
    assert b"Treatment as usual" not in page.content
    assert not MaskingKeyRelease.objects.exists()
    refused = client.post("/data/masking-key/", {"password": "wrong", "otp": totp_code(device)})
    assert refused.status_code == 400
    assert b"Treatment as usual" not in refused.content
    shown = client.post("/data/masking-key/", {"password": PASSWORD, "otp": totp_code(device)})
    assert shown.status_code == 200
    assert b"Treatment as usual" in shown.content
    assert MaskingKeyRelease.objects.get().channel == "web"
    blinded = page_client(dm)
    assert blinded.get("/data/masking-key/").status_code == 404
    assert blinded.post("/data/masking-key/").status_code == 404
