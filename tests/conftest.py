from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command

from participants.models import Site


@pytest.fixture(autouse=True)
def _plain_http(settings: Any) -> None:
    # The test client speaks plain HTTP; production redirects to HTTPS at the proxy.
    settings.SECURE_SSL_REDIRECT = False


@pytest.fixture
def sites(db: None) -> dict[str, Site]:
    call_command("setup_trial", stdout=open("/dev/null", "w"))  # noqa: SIM115
    return {site.code: site for site in Site.objects.all()}
