from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from imrtrial.celery import app as celery_app
from participants.models import Participant
from randomization import services
from randomization.models import AllocationList
from tests.factories import complete_baseline, make_participant, make_staff
from trial.roles import Role

# A fixed seed for tests: production draws one with secrets.randbits(128).
TEST_SEED = 0x0123456789ABCDEFFEDCBA9876543210


def fixed_seed(seed: int = TEST_SEED) -> Any:
    return lambda bits: seed


@pytest.fixture
def statistician(sites: dict) -> Any:
    user = make_staff("statistician", Role.STATISTICIAN)
    user.email = "statistician@example.org"
    user.save(update_fields=["email"])
    return user


@pytest.fixture
def lists(sites: dict, statistician: Any) -> list[AllocationList]:
    """Lists of at least 30 slots at every site, from TEST_SEED."""
    return services.allocation_lists_generate(
        per_site=30, user=statistician, channel="web", randbits=fixed_seed()
    )


def ready_participant(site: str = "BAL", **kwargs: Any) -> Participant:
    """Eligible, consented, baseline complete: ready to be randomised."""
    participant = make_participant(site, **kwargs)
    complete_baseline(participant)
    return participant


@contextmanager
def eager() -> Iterator[None]:
    """Run Celery tasks in-process (e-mails land in django.core.mail.outbox)."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    try:
        yield
    finally:
        celery_app.conf.task_always_eager = previous


@pytest.fixture
def eager_celery() -> Iterator[None]:
    """Run Celery tasks in-process (e-mails land in django.core.mail.outbox)."""
    with eager():
        yield
