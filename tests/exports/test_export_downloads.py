"""Downloading an export: files of a finished job, for the roles allowed that kind of export,
each download recorded."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client, override_settings

from exports import services
from exports.models import ExportDownload
from tests.exports.trial import build_trial, lock, new_job, run_inline
from tests.factories import api_client, make_staff, page_client
from trial.roles import Role

# One blinded and one unblinded export for the module; each test runs in a transaction that
# is rolled back, so the downloads it records do not leak into the next test.
pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def jobs(
    django_db_setup: Any, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("downloads")
    with django_db_blocker.unblock(), override_settings(EXPORT_ROOT=root):
        assert connection.settings_dict["NAME"].startswith("test_")
        call_command("setup_trial", stdout=StringIO())
        dm = make_staff("dm", Role.DATA_MANAGER)
        statistician = make_staff("stat", Role.STATISTICIAN)
        build_trial()
        blinded = run_inline(new_job(dm, formats=["csv", "odm"]))
        lock(dm)
        unblinded = run_inline(new_job(statistician, blinded=False, formats=["csv"]))
        services.dataset_unlock(user=dm, reason="Back to open for the other tests")
        assert blinded.status == unblinded.status == "done"
        yield {"dm": dm, "stat": statistician, "blinded": blinded, "unblinded": unblinded}
        call_command("flush", interactive=False, verbosity=0)


def content_of(response: Any) -> bytes:
    return b"".join(response.streaming_content)


def test_the_owner_downloads_every_file_and_each_download_is_recorded(jobs: dict) -> None:
    dm, job = jobs["dm"], jobs["blinded"]
    body = api_client(dm).get(f"/api/v1/exports/{job.pk}/").json()
    assert body["status"] == "done" and body["progress"] == 100
    names = {f["name"] for f in body["files"]}
    assert {"participants.csv", "odm.xml", "codebook.html", "codebook.csv"} <= names
    assert any(f["format"] == "zip" for f in body["files"])
    client = api_client(dm)
    for entry in body["files"]:
        response = client.get(entry["url"])
        assert response.status_code == 200, entry["name"]
        data = content_of(response)
        assert len(data) == entry["bytes"]
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        assert response["Content-Disposition"].startswith("attachment;")
    manifest = client.get(body["manifest_url"])
    assert manifest.status_code == 200
    assert b'"export_id"' in content_of(manifest)
    downloads = ExportDownload.objects.filter(job=job, user=dm)
    assert downloads.count() == len(body["files"]) + 1
    assert set(downloads.values_list("file_name", flat=True)) == names | {"manifest.json"}
    assert all(d.request_id for d in downloads)


def test_another_data_manager_may_download_a_blinded_export_but_other_roles_may_not(
    jobs: dict,
) -> None:
    url = f"/api/v1/exports/{jobs['blinded'].pk}/files/participants.csv"
    assert api_client(make_staff("dm2", Role.DATA_MANAGER)).get(url).status_code == 200
    assert api_client(make_staff("mon", Role.MONITOR)).get(url).status_code == 403
    assert api_client(make_staff("coord", Role.COORDINATOR)).get(url).status_code == 403
    assert ExportDownload.objects.count() == 1


def test_an_unblinded_export_cannot_be_downloaded_by_a_blinded_user(jobs: dict) -> None:
    url = f"/api/v1/exports/{jobs['unblinded'].pk}/files/participants.csv"
    assert api_client(jobs["dm"]).get(url).status_code == 404
    assert api_client(jobs["stat"]).get(url).status_code == 200
    assert list(ExportDownload.objects.values_list("user__username", flat=True)) == ["stat"]


@pytest.mark.parametrize("name", ["../../etc/passwd", "..", "nothing.csv", ".building-x"])
def test_only_the_published_files_of_the_job_can_be_asked_for(jobs: dict, name: str) -> None:
    response = api_client(jobs["dm"]).get(f"/api/v1/exports/{jobs['blinded'].pk}/files/{name}")
    assert response.status_code == 404
    assert not ExportDownload.objects.exists()


def test_a_job_that_is_not_done_has_nothing_to_download(jobs: dict) -> None:
    job = new_job(jobs["dm"], formats=["csv"])
    response = api_client(jobs["dm"]).get(f"/api/v1/exports/{job.pk}/files/participants.csv")
    assert response.status_code == 404
    assert "queued" in response.json()["detail"]


def test_the_pages_download_through_the_same_rules(jobs: dict) -> None:
    job = jobs["blinded"]
    archive = next(f for f in job.files if f["kind"] == "archive")
    client = page_client(jobs["dm"])
    response = client.get(f"/data/exports/{job.pk}/files/{archive['name']}")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert hashlib.sha256(content_of(response)).hexdigest() == archive["sha256"]
    assert ExportDownload.objects.get().file_name == archive["name"]
    anonymous = Client().get(f"/data/exports/{job.pk}/files/{archive['name']}")
    assert anonymous.status_code == 302
