"""In a real browser: the investigator opens the worklist of visits to sign, reviews one,
signs it with the password typed again (a wrong one is refused and counted), and sees the
signature on the participant's assessment page; the worklist is then empty."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import AuthEvent
from casebooks.models import Signature
from tests.casebooks.conftest import complete_visit, verify_visit
from tests.factories import PASSWORD, make_participant, make_staff
from trial.roles import Role

pytestmark = pytest.mark.browser


def test_the_investigator_signs_a_verified_visit_from_the_worklist(
    sites: dict, page: Any, log_in: Any
) -> None:
    participant = make_participant("BAL")
    complete_visit(participant)
    verify_visit(participant)
    unfinished = make_participant("BAL")  # nothing entered: not on the worklist
    investigator = make_staff("browser-investigator", Role.INVESTIGATOR, sites=["BAL"])
    investigator.first_name, investigator.last_name = "Inge", "Vestergaard"
    investigator.save()
    log_in(investigator)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Visits to sign").click()
    row = page.locator(f'tr[data-visit="{participant.study_id}-baseline"]')
    row.wait_for()
    assert page.locator(f'tr[data-visit="{unfinished.study_id}-baseline"]').count() == 0
    row.get_by_role("link", name="review and sign").click()

    page.get_by_label("Password").fill("not my password")
    page.get_by_role("button", name="Sign").click()
    page.locator("#sign-errors").wait_for()
    assert "password is wrong" in page.inner_text("#sign-errors")
    assert not Signature.objects.exists()
    assert (
        AuthEvent.objects.filter(username=investigator.username, kind="login_failed").count() == 1
    )

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign").click()
    page.locator(".signature.intact").wait_for()
    assert "Inge Vestergaard" in page.inner_text(".signature.intact")
    signature = Signature.objects.get()
    assert (signature.participant, signature.timepoint) == (participant, "baseline")

    page.goto(f"/assessments/participants/{participant.pk}/")
    assert "Inge Vestergaard" in page.inner_text("#signatures-baseline")
    page.goto("/casebooks/signing/")
    page.get_by_text("No visit waits for your signature.").wait_for()
    assert [p for p in page.console_problems if "401" not in p and "400" not in p] == []
