"""The data manager signs the lock (a step after `POST /api/v1/locks/`, which is unchanged),
with the password and the second factor again; the signature breaks when the locked data are
later unlocked and changed."""

from __future__ import annotations

from typing import Any

from casebooks.models import Signature
from exports import services as export_services
from tests.assessments.helpers import put_form, typical_items
from tests.factories import PASSWORD, api_client, enrol_totp, give_password, totp_code, wrong_code

URL = "/api/v1/locks/signatures/"


def test_the_data_manager_signs_the_lock_with_password_and_code(
    data_manager: Any, assessor: Any, participant: Any
) -> None:
    saved = put_form(assessor, participant, "baseline", "GAF", typical_items("GAF")).json()
    give_password(data_manager)
    device = enrol_totp(data_manager)
    client = api_client(data_manager)
    # Not locked yet: nothing to sign.
    early = client.post(URL, {"password": PASSWORD, "otp": totp_code(device)}, format="json")
    assert early.status_code == 409
    lock = export_services.dataset_lock(user=data_manager, reason="Final")
    # The code is required, and a wrong one is refused.
    assert client.post(URL, {"password": PASSWORD}, format="json").status_code == 400
    wrong = client.post(URL, {"password": PASSWORD, "otp": wrong_code(device)}, format="json")
    assert wrong.status_code == 400 and "otp" in wrong.json()
    signed = client.post(
        URL, {"password": PASSWORD, "otp": totp_code(device, offset_steps=1)}, format="json"
    )
    assert signed.status_code == 201, signed.content
    body = signed.json()
    assert (body["subject"], body["lock"], body["meaning"]) == ("lock", lock.pk, "locked")
    assert body["status"] == "intact"
    assert Signature.objects.get().signer_role == "data_manager"
    # Later: unlocked, a form changed, locked again: the first lock's signature is broken.
    export_services.dataset_unlock(user=data_manager, reason="Late correction")
    changed = put_form(
        assessor,
        participant,
        "baseline",
        "GAF",
        saved["items"] | {"GAF_S": saved["items"]["GAF_S"] - 1},
        version=saved["version"],
        reason="Late correction",
    )
    assert changed.status_code == 200
    listed = client.get(URL).json()
    assert [s["status"] for s in listed] == ["broken"]


def test_only_data_managers_sign_the_lock(monitor: Any, data_manager: Any) -> None:
    export_services.dataset_lock(user=data_manager, reason="Final")
    give_password(monitor)
    answer = api_client(monitor).post(URL, {"password": PASSWORD}, format="json")
    assert answer.status_code == 403
    assert api_client(monitor).get(URL).status_code == 200
    assert not Signature.objects.exists()
