from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import transaction
from django.test import override_settings

from tests.invariants.world import Trial, build_trial


@pytest.fixture(scope="package")
def trial(django_db_setup: Any, django_db_blocker: Any) -> Iterator[Trial]:
    """The trial of tests/invariants/world.py, built once for these tests inside a transaction
    that is rolled back after the last of them. Each test runs in a savepoint of it (the `db`
    fixture), so one test's writes never reach the next."""
    # Password hashing is not what these tests are about; Argon2 would make each login slow.
    fast = override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
    with django_db_blocker.unblock(), fast, transaction.atomic():
        yield build_trial()
        transaction.set_rollback(True)
