"""While the database is frozen or locked, pages do not offer forms that cannot be saved (the
banner says why), and a refusal by the database's lock trigger reaches people in plain words,
never naming an internal table."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import DatabaseError, transaction

from participants.models import Participant
from tests.factories import coordinator_for, page_client
from trial.errors import from_database_error
from trial.models import DatasetLock


@pytest.mark.parametrize("level", ["freeze", "lock"])
def test_no_form_is_offered_while_frozen_or_locked(
    level: str, assessor: Any, data_manager: Any, participant: Any
) -> None:
    url = f"/assessments/participants/{participant.pk}/"
    before = page_client(assessor).get(url).content.decode()
    assert f"/assessments/participants/{participant.pk}/baseline/PANSS/" in before
    coordinator = coordinator_for("BAL")
    overview = f"/participants/{participant.pk}/"
    assert "/status/" in page_client(coordinator).get(overview).content.decode()

    DatasetLock.objects.create(level=level, reason="Interim analysis", set_by=data_manager)
    html = page_client(assessor).get(url).content.decode()
    assert "/baseline/PANSS/" not in html
    assert "banner" in html and ("frozen" in html or "locked" in html)
    assert "/status/" not in page_client(coordinator).get(overview).content.decode()
    assert (
        "/participants/register/"
        not in page_client(coordinator).get("/participants/").content.decode()
    )


@pytest.mark.parametrize("level,word", [("freeze", "frozen"), ("lock", "locked")])
def test_a_lock_trigger_refusal_names_no_table(
    level: str, word: str, data_manager: Any, participant: Any
) -> None:
    DatasetLock.objects.create(level=level, reason="Interim analysis", set_by=data_manager)
    with pytest.raises(DatabaseError) as caught, transaction.atomic():
        Participant.objects.filter(pk=participant.pk).update(sex="male")
    assert "participants_participant" in str(caught.value)  # the server log keeps it
    error = from_database_error(caught.value)
    assert error is not None and error.status == 409
    assert word in error.message and "participants_" not in error.message
