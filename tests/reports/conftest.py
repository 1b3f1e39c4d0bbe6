from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache

from tests.reports import trial


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    # Report figures are cached under a data fingerprint; a test starts without any.
    cache.clear()


@pytest.fixture
def report_trial(sites: dict[str, Any]) -> trial.ReportTrial:
    return trial.build()
