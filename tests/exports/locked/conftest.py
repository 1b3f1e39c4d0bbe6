"""One locked trial and its exports, shared by every module of this package.

Building the trial and exporting it in every format takes a while, so it is made once for the
package (the modules only read it; their own writes are rolled back), and the database is
emptied when the package is done. tests/conftest.py keeps the package's tests on one xdist
worker, so it is built once per run."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from tests.factories import make_staff
from trial.roles import Role


@dataclass
class LockedExports:
    """One trial (tests/exports/trial.py), locked; two blinded and two unblinded exports of it
    in every format (ExportFormat), two of each so that their bytes can be compared; and an
    unblinded ODM export with the odm_audit_records option."""

    root: Path
    trial: Any
    dm: Any
    statistician: Any
    blinded: list[Any]
    unblinded: list[Any]
    masking: dict[str, str]
    audited: Any

    def folder(self, job: Any) -> Path:
        return self.root / job.directory


@pytest.fixture(scope="package")
def locked_exports(
    django_db_setup: Any,
    django_db_blocker: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LockedExports]:
    from exports.models import ExportFormat, ExportJob
    from exports.services import masking_key_get_or_create, masking_mapping
    from tests.exports.trial import build_trial, lock, new_job, run_inline

    root = tmp_path_factory.mktemp("locked")
    with django_db_blocker.unblock(), override_settings(EXPORT_ROOT=root):
        assert connection.settings_dict["NAME"].startswith("test_")
        call_command("setup_trial", stdout=StringIO())
        dm = make_staff("dm", Role.DATA_MANAGER)
        statistician = make_staff("stat", Role.STATISTICIAN)
        trial = build_trial()
        lock(dm)
        every = list(ExportFormat.values)
        blinded = [run_inline(new_job(dm, formats=every)) for _ in range(2)]
        unblinded = [
            run_inline(new_job(statistician, blinded=False, formats=every)) for _ in range(2)
        ]
        audited = run_inline(
            ExportJob.objects.create(
                requested_by=statistician,
                blinded=False,
                formats=["odm"],
                options={"language": "en", "odm_audit_records": True},
            )
        )
        for job in [*blinded, *unblinded, audited]:
            assert job.status == "done", job.error
        yield LockedExports(
            root=root,
            trial=trial,
            dm=dm,
            statistician=statistician,
            blinded=blinded,
            unblinded=unblinded,
            masking=masking_mapping(masking_key_get_or_create()),
            audited=audited,
        )
        call_command("flush", interactive=False, verbosity=0)
