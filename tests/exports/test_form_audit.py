"""The audit trail behind ODM's AuditRecords (datasets.audit.form_audit): each exported value's
last change, with who made it, when and the reason given."""

from __future__ import annotations

import pytest

from datasets.audit import form_audit
from tests.exports.trial import respond, valid_items
from tests.factories import make_participant, make_staff
from trial.audit import audit_context
from trial.roles import Role

pytestmark = pytest.mark.django_db


def test_a_changed_value_is_audited_with_its_user_time_and_reason(sites: dict) -> None:
    """form_audit on a form of its own (no lock to lift): the item changed with a reason gets
    that change's user, time and reason; the others keep the record of their entry."""
    dm = make_staff(None, Role.DATA_MANAGER)
    participant = make_participant("BAL")
    with audit_context(user=dm, reason="Entered"):
        response = respond(participant, "baseline", "GAF", valid_items("GAF", 1))
    before = form_audit(["GAF"])[(participant.study_id, "GAF", 0)]
    changed = next(iter(response.items))
    value = response.items[changed]
    other = next(
        candidate[changed]
        for candidate in (valid_items("GAF", seed) for seed in range(2, 50))
        if candidate[changed] != value
    )
    response.items = {**response.items, changed: other}
    with audit_context(user=dm, reason="Corrected after source data verification"):
        response.save()
    after = form_audit(["GAF"])[(participant.study_id, "GAF", 0)]
    assert after[changed].user_id == dm.pk
    assert after[changed].reason == "Corrected after source data verification"
    assert after[changed].at >= before[changed].at
    assert before[changed].reason == "Entered"
    untouched = [code for code in before if code != changed and code in response.items]
    for code in untouched:
        assert after[code] == before[code]
    assert after["VERIFIED"] == before["VERIFIED"]  # the form's status did not change
