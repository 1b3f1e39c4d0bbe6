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


def complete_visit(participant: Any, timepoint: str = "baseline") -> dict[str, Any]:
    """Every scheduled form of the visit saved as complete through the API, each by a user
    who enters it at the participant's site. Returns the saved forms by instrument."""
    from casebooks.selectors import visit_instruments
    from tests.assessments.helpers import put_form, typical_items

    site = participant.site.code
    saved = {}
    for instrument in visit_instruments(timepoint):
        user = _enterer(instrument, site)
        answer = put_form(
            user, participant, timepoint, instrument.code, typical_items(instrument.code)
        )
        assert answer.status_code in (200, 201), (instrument.code, answer.content)
        saved[instrument.code] = answer.json()
    return saved


def _enterer(instrument: Any, site: str) -> Any:
    from django.contrib.auth import get_user_model

    role = instrument.entered_by[0]
    username = f"{role}-{site}-enters".replace("_", "-")
    user = get_user_model().objects.filter(username=username).first()
    return user or make_staff(username, role, sites=[site])


def verify_visit(participant: Any, timepoint: str = "baseline") -> None:
    """Source-verify every form of the visit that a verifier may read, through the service
    (IMRS_C is verified by nobody: every verifier is blinded)."""
    from assessments import permissions as assessment_permissions
    from assessments import services as assessment_services
    from assessments.models import InstrumentResponse
    from instruments import registry

    verifier = _enterer_by_role(Role.DATA_MANAGER, "verifier")
    for response in InstrumentResponse.objects.filter(participant=participant, timepoint=timepoint):
        if assessment_permissions.may_verify(verifier, registry.get(response.instrument)):
            assessment_services.response_verify(
                user=verifier, response=response, version=response.version
            )


def _enterer_by_role(role: str, username: str) -> Any:
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(username=username).first()
    return user or make_staff(username, role)
