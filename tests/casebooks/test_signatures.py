"""Electronic signatures of visits (issue 15): sign, a later change breaks the signature and a
new one can be made; credentials are asked again and failures count towards the lockout; the
signature is in the audit trail and PostgreSQL refuses to change or delete it."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import DatabaseError, connection, transaction

from accounts.models import AuthEvent
from casebooks.models import Signature
from tests.assessments.helpers import put_form, typical_items
from tests.casebooks.conftest import complete_visit
from tests.factories import PASSWORD, api_client, give_password, make_participant, make_staff
from trial.models import DatasetLock
from trial.roles import Role


def url(participant: Any) -> str:
    return f"/api/v1/participants/{participant.pk}/signatures/"


def sign(user: Any, participant: Any, password: str = PASSWORD, **extra: Any) -> Any:
    payload = {"timepoint": "baseline", "meaning": "reviewed_approved", "password": password}
    return api_client(user).post(url(participant), payload | extra, format="json")


@pytest.fixture
def signer(investigator: Any) -> Any:
    return give_password(investigator)


def test_the_investigator_signs_a_complete_visit_with_name_time_meaning_and_hash(
    signer: Any, participant: Any
) -> None:
    signer.first_name, signer.last_name = "Inge", "Vestergaard"
    signer.save()
    complete_visit(participant)
    answer = sign(signer, participant)
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert body["signer_name"] == "Inge Vestergaard"
    assert body["signer_role"] == "investigator"
    assert body["meaning"] == "reviewed_approved"
    assert body["status"] == "intact"
    assert len(body["sha256"]) == 64
    listed = api_client(signer).get(url(participant)).json()
    assert [s["id"] for s in listed] == [body["id"]]
    assert listed[0]["status"] == "intact"


def test_a_changed_value_breaks_the_signature_names_the_change_and_a_new_one_is_possible(
    signer: Any, participant: Any
) -> None:
    saved = complete_visit(participant)
    assert sign(signer, participant).status_code == 201
    # Signed and unchanged: signing again is a conflict.
    assert sign(signer, participant).status_code == 409
    gaf = saved["GAF"]
    items = dict(gaf["items"]) | {"GAF_S": gaf["items"]["GAF_S"] - 1}
    assessor = get_user_model().objects.get(username="assessor-BAL-enters")
    changed = put_form(
        assessor,
        participant,
        "baseline",
        "GAF",
        items,
        version=gaf["version"],
        reason="Transcription error",
    )
    assert changed.status_code == 200, changed.content
    listed = api_client(signer).get(url(participant)).json()
    assert listed[0]["status"] == "broken"
    (change,) = listed[0]["broken_by"]
    assert change["instrument"] == "GAF"
    assert (change["signed_version"], change["current_version"]) == (1, 2)
    assert change["user"] == "assessor-BAL-enters"
    assert change["reason"] == "Transcription error"
    again = sign(signer, participant)
    assert again.status_code == 201
    listed = api_client(signer).get(url(participant)).json()
    assert [s["status"] for s in listed] == ["broken", "intact"]


def test_an_incomplete_visit_is_not_signed(signer: Any, participant: Any, assessor: Any) -> None:
    put_form(assessor, participant, "baseline", "GAF", typical_items("GAF"))
    answer = sign(signer, participant)
    assert answer.status_code == 409
    assert "not complete" in answer.json()["detail"]
    assert not Signature.objects.exists()


def test_a_wrong_password_is_refused_counted_and_locks_out_like_a_login(
    signer: Any, participant: Any, settings: Any
) -> None:
    complete_visit(participant)
    failures = AuthEvent.objects.filter(username=signer.username, kind="login_failed")
    for attempt in range(settings.AXES_FAILURE_LIMIT - 1):
        answer = sign(signer, participant, password="wrong")
        assert answer.status_code == 400
        assert "password" in answer.json()
        assert failures.count() == attempt + 1
    # The fifth failure locks the account: even the right password no longer signs.
    assert sign(signer, participant, password="wrong").status_code == 429
    assert sign(signer, participant).status_code == 429
    assert not Signature.objects.exists()
    assert (
        api_client()
        .post(
            "/api/v1/auth/token/",
            {"username": signer.username, "password": PASSWORD},
            format="json",
        )
        .status_code
        == 429
    )


def test_the_password_is_required(signer: Any, participant: Any) -> None:
    complete_visit(participant)
    answer = api_client(signer).post(url(participant), {"timepoint": "baseline"}, format="json")
    assert answer.status_code == 400
    assert "password" in answer.json()


def test_only_the_sites_investigator_signs(sites: dict, participant: Any) -> None:
    complete_visit(participant)
    elsewhere = give_password(make_staff("investigator-gla", Role.INVESTIGATOR, sites=["GLA"]))
    assert sign(elsewhere, participant).status_code == 404
    coordinator = give_password(make_staff("coord-bal", Role.COORDINATOR, sites=["BAL"]))
    assert sign(coordinator, participant).status_code == 403
    blinded = give_password(
        make_staff("inv-and-assessor", Role.INVESTIGATOR, Role.ASSESSOR, sites=["BAL"])
    )
    assert sign(blinded, participant).status_code == 403
    assert not Signature.objects.exists()


def test_blinded_readers_see_that_a_visit_is_signed_but_nothing_of_the_arm(
    signer: Any, sites: dict, assessor: Any, data_manager: Any, monitor: Any
) -> None:
    from tests.factories import allocate

    participant = make_participant("BAL")
    allocate(participant, "IMR")
    complete_visit(participant)
    assert sign(signer, participant).status_code == 201
    for user in (assessor, data_manager, monitor):
        answer = api_client(user).get(url(participant))
        assert answer.status_code == 200
        (signature,) = answer.json()
        assert signature["status"] == "intact"
        text = answer.content.decode()
        assert "IMR" not in text.replace("IMRS", "") and "TAU" not in text
        assert "arm" not in text
    instructor = make_staff("instructor-bal", Role.INSTRUCTOR, sites=["BAL"])
    assert api_client(instructor).get(url(participant)).status_code == 403


def test_every_signature_is_audited_and_postgresql_refuses_to_change_or_delete_it(
    signer: Any, participant: Any
) -> None:
    complete_visit(participant)
    assert sign(signer, participant).status_code == 201
    signature = Signature.objects.get()
    (event,) = Signature.pgh_event_model.objects.filter(pgh_obj_id=signature.pk)
    assert event.signer_name == signature.signer_name
    assert event.content_sha256 == signature.content_sha256
    assert event.pgh_context["username"] == signer.username
    for sql in (
        "UPDATE casebooks_signature SET meaning = 'locked' WHERE id = %s",
        "DELETE FROM casebooks_signature WHERE id = %s",
    ):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [signature.pk])
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {Signature.pgh_event_model._meta.db_table} WHERE pgh_obj_id = %s",
            [signature.pk],
        )
    assert Signature.objects.get().meaning == "reviewed_approved"


def test_visits_are_signed_during_a_freeze_but_not_after_the_lock(
    signer: Any, participant: Any, data_manager: Any
) -> None:
    complete_visit(participant)
    other = make_participant("BAL")
    complete_visit(other)
    DatasetLock.objects.create(level="freeze", reason="Cleaning", set_by=data_manager)
    assert sign(signer, participant).status_code == 201
    DatasetLock.objects.create(level="lock", reason="Final", set_by=data_manager)
    listed = api_client(signer).get(url(participant)).json()
    assert listed[0]["status"] == "intact"
    answer = sign(signer, other)
    assert answer.status_code == 409
    assert "locked" in answer.json()["detail"]
    assert Signature.objects.count() == 1


def test_the_signatures_dataset_says_who_signed_what_and_whether_it_holds(
    signer: Any, participant: Any, data_manager: Any
) -> None:
    from datasets import BUILDERS
    from datasets.context import ExportContext
    from datasets.instruments import TIMEPOINT_NUMBERS, catalogue
    from datasets.signatures import SignaturesBuilder

    assert any(isinstance(b, SignaturesBuilder) for b in BUILDERS)
    saved = complete_visit(participant)
    assert sign(signer, participant).status_code == 201
    signature = Signature.objects.get()

    def rows() -> list[tuple]:
        context = ExportContext(
            blinded=True, masking={"IMR": "A", "TAU": "B"}, catalogue=catalogue()
        )
        context.load_participants()
        (dataset,) = SignaturesBuilder().build(context)
        assert [c.name for c in dataset.columns][-1] == "INTACT"
        return [row for chunk in dataset.chunks() for row in chunk]

    ((pk, study_id, _, timepoint, role, meaning, _, intact),) = rows()
    assert (pk, study_id, timepoint) == (
        signature.pk,
        participant.study_id,
        TIMEPOINT_NUMBERS["baseline"],
    )
    assert (role, meaning, intact) == (1, 1, 1)
    gaf = saved["GAF"]
    assessor = get_user_model().objects.get(username="assessor-BAL-enters")
    put_form(
        assessor,
        participant,
        "baseline",
        "GAF",
        gaf["items"] | {"GAF_F": gaf["items"]["GAF_F"] - 1},
        version=gaf["version"],
        reason="Correction",
    )
    assert rows()[0][-1] == 0
