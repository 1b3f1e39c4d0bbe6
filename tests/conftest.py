from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from participants.models import Site


@pytest.fixture(autouse=True)
def _plain_http(settings: Any) -> None:
    # The test client speaks plain HTTP; production redirects to HTTPS at the proxy.
    settings.SECURE_SSL_REDIRECT = False


@pytest.fixture
def sites(db: None) -> dict[str, Site]:
    call_command("setup_trial", stdout=open("/dev/null", "w"))  # noqa: SIM115
    return {site.code: site for site in Site.objects.all()}


class TrialClient(Client):
    """Django's test client, but `force_login` of a user whose roles need a second factor also
    marks the session as verified, as a completed password + TOTP login does (the login itself
    is tested in tests/imrtrial)."""

    def force_login(self, user: Any, backend: str | None = None) -> None:
        super().force_login(user, backend)
        from tests.factories import verify_session

        verify_session(self, user)


@pytest.fixture
def client() -> Client:
    return TrialClient()
