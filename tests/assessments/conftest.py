from __future__ import annotations

from typing import Any

import pytest

from participants.models import Participant
from tests.factories import make_participant, make_staff
from trial.roles import Role


@pytest.fixture
def assessor(sites: dict) -> Any:
    return make_staff("assessor-bal", Role.ASSESSOR, sites=["BAL"])


@pytest.fixture
def clinician(sites: dict) -> Any:
    return make_staff("clinician-bal", Role.CLINICIAN, sites=["BAL"])


@pytest.fixture
def data_manager(sites: dict) -> Any:
    return make_staff("dm", Role.DATA_MANAGER)


@pytest.fixture
def monitor(sites: dict) -> Any:
    return make_staff("monitor", Role.MONITOR)


@pytest.fixture
def participant(sites: dict) -> Participant:
    return make_participant("BAL")
