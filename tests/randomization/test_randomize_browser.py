"""The coordinator's randomisation in a real browser: summary, confirm, a double click on the
button, the result page. One allocation, and the arm appears only on the result page."""

from __future__ import annotations

import os
from typing import Any

import pytest
from django.core.management import call_command

from randomization.models import Allocation
from tests.factories import make_allocation_lists, make_staff
from tests.randomization.conftest import ready_participant
from trial.roles import Role

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_double_click_on_randomize_gives_one_allocation_shown_after_commit(
    page: Any, log_in: Any, eager_celery: None
) -> None:
    call_command("setup_trial", stdout=open(os.devnull, "w"))  # noqa: SIM115
    make_allocation_lists(per_site=12)
    coordinator = make_staff("coordinator-BAL", Role.COORDINATOR, sites=["BAL"])
    participant = ready_participant("BAL", user=coordinator)

    log_in(coordinator)
    page.goto(f"/participants/{participant.pk}/")
    page.click("text=Randomise…")
    summary = page.content()
    assert "Eligible" in summary and "Complete" in summary
    assert "Treatment as usual" not in summary and "IMR + treatment" not in summary
    page.check("#id_confirm")
    page.dblclick("form[data-once] button[type=submit]")
    page.wait_for_url(f"**/randomisation/participants/{participant.pk}/result/")
    allocation = Allocation.objects.get(participant=participant)
    result = page.content()
    assert allocation.get_arm_display() in result
    assert allocation.randomization_code in result
    assert Allocation.objects.count() == 1
