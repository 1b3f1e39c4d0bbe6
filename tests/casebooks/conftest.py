from __future__ import annotations

import io
from typing import Any

import pytest
from pypdf import PdfReader

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
def investigator(sites: dict) -> Any:
    return make_staff("investigator-bal", Role.INVESTIGATOR, sites=["BAL"])


@pytest.fixture
def participant(sites: dict) -> Participant:
    return make_participant("BAL")


def pdf_text(content: bytes) -> str:
    """The text of every page, as a reader copying it out would get it."""
    reader = PdfReader(io.BytesIO(content))
    return "\n".join(page.extract_text() for page in reader.pages)
