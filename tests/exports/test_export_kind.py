"""The export page says whether the next export is blinded or unblinded before it starts,
and the sentence follows the choice."""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import make_staff, page_client
from trial.roles import Role


def test_a_data_manager_is_told_the_next_export_is_blinded(sites: Any) -> None:
    html = page_client(make_staff("dm", Role.DATA_MANAGER)).get("/data/exports/").content.decode()
    assert 'id="export-kind"' in html and "The next export is BLINDED" in html


@pytest.mark.browser
def test_the_statistician_sees_the_kind_of_the_next_export_change_with_the_box(
    statistician: Any, page: Any, log_in: Any
) -> None:
    log_in(statistician)
    page.get_by_role("link", name="Exports").first.click()
    kind = page.locator("#export-kind")
    assert "BLINDED" in kind.inner_text() and "UNBLINDED" not in kind.inner_text()
    page.get_by_label("Unblinded", exact=False).check()
    assert "UNBLINDED" in kind.inner_text()
    page.get_by_label("Unblinded", exact=False).uncheck()
    assert "UNBLINDED" not in kind.inner_text()
    assert page.console_problems == []
