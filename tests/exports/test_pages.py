"""The freeze/lock page and the exports page with its live progress."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from exports import selectors, services
from exports.models import ExportJob
from exports.queue import BUILD_TASK
from tests.factories import make_staff, page_client
from trial.models import DatasetLock, OutboxMessage
from trial.roles import Role
from trial.selectors import lock_level


def logged_in(user: Any) -> Client:
    client = page_client(user)
    return client


def test_the_lock_page_shows_the_state_the_history_and_the_possible_changes(dm: Any) -> None:
    client = logged_in(dm)
    page = client.get("/data/lock/")
    assert page.status_code == 200
    assert b"Freeze the database" in page.content and b"Lock the database" in page.content
    assert b"never been frozen or locked" in page.content

    services.dataset_freeze(user=dm, reason="Cleaning before the DSMB")
    page = client.get("/data/lock/")
    assert b"Cleaning before the DSMB" in page.content
    assert b"Freeze the database" not in page.content
    assert b"Lift the freeze" in page.content


def test_freezing_from_the_page_needs_a_reason_and_keeps_what_was_typed(dm: Any) -> None:
    client = logged_in(dm)
    refused = client.post(
        "/data/lock/", {"action": "lock", "lock-action": "lock", "lock-reason": ""}
    )
    assert refused.status_code == 400
    assert b"This field is required" in refused.content
    assert not DatasetLock.objects.exists()

    done = client.post(
        "/data/lock/", {"action": "freeze", "freeze-action": "freeze", "freeze-reason": "DSMB"}
    )
    assert done.status_code == 302
    assert lock_level() == "freeze"
    assert DatasetLock.objects.get().reason == "DSMB"


def test_a_refused_change_on_the_page_explains_why_and_keeps_the_reason(
    dm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(selectors, "open_query_count", lambda: 2)
    client = logged_in(dm)
    page = client.post(
        "/data/lock/",
        {"action": "lock", "lock-action": "lock", "lock-reason": "Primary analysis now"},
    )
    assert page.status_code == 400
    assert b"2 data queries are still open" in page.content
    assert b"Primary analysis now" in page.content
    locked = client.post(
        "/data/lock/",
        {"action": "lock", "lock-action": "lock", "lock-reason": "Queries concern withdrawals",
         "lock-override_open_queries": "on"},
    )  # fmt: skip
    assert locked.status_code == 302
    assert DatasetLock.objects.get().open_queries_override is True


def test_a_lock_is_stepped_down_to_a_freeze_from_the_page(dm: Any) -> None:
    services.dataset_lock(user=dm, reason="Final")
    client = logged_in(dm)
    response = client.post(
        "/data/lock/",
        {"action": "unlock", "unlock-action": "unlock", "unlock-reason": "Late query",
         "unlock-to": "freeze"},
    )  # fmt: skip
    assert response.status_code == 302
    assert lock_level() == "freeze"


@pytest.mark.parametrize("role", [Role.COORDINATOR, Role.MONITOR, Role.ASSESSOR])
def test_other_roles_cannot_open_the_lock_or_export_pages(sites: dict, role: str) -> None:
    client = logged_in(make_staff("x", role))
    assert client.get("/data/lock/").status_code == 403
    assert client.get("/data/exports/").status_code == 403


def test_the_menu_offers_lock_and_exports_to_data_managers(dm: Any) -> None:
    home = logged_in(dm).get("/")
    assert b'href="/data/lock/"' in home.content and b'href="/data/exports/"' in home.content


def test_the_admin_announces_the_lock_too(dm: Any) -> None:
    services.dataset_lock(user=dm, reason="Final")
    page = logged_in(make_staff("root", Role.ADMIN)).get("/admin/")
    assert page.status_code == 200
    assert b"imr-lock-banner imr-lock-lock" in page.content


def test_a_data_manager_starts_an_export_from_the_page(dm: Any, export_root: Path) -> None:
    client = logged_in(dm)
    page = client.get("/data/exports/")
    assert page.status_code == 200
    assert b"Unblinded" not in page.content  # data managers only make blinded exports
    response = client.post("/data/exports/", {"formats": ["csv", "sav"]})
    assert response.status_code == 302
    job = ExportJob.objects.get()
    assert (job.formats, job.blinded) == (["csv", "sav"], True)
    (message,) = OutboxMessage.objects.all()  # the relay sends it once the job has committed
    assert (message.task, message.args) == (BUILD_TASK, [str(job.pk)])
    assert response["Location"].endswith(f"#job-{job.pk}")


def test_an_export_without_formats_is_refused_on_the_page(dm: Any) -> None:
    response = logged_in(dm).post("/data/exports/", {})
    assert response.status_code == 400
    assert not ExportJob.objects.exists()


def test_a_running_job_is_polled_for_progress_and_a_finished_one_offers_its_archive(
    dm: Any,
) -> None:
    job = ExportJob.objects.create(requested_by=dm, formats=["csv"], progress=40, status="running")
    client = logged_in(dm)
    row = client.get(f"/data/exports/{job.pk}/progress/").content.decode()
    assert 'hx-trigger="every 1s"' in row
    assert f'hx-get="/data/exports/{job.pk}/progress/"' in row
    assert 'value="40"' in row
    ExportJob.objects.filter(pk=job.pk).update(
        status="done",
        progress=100,
        directory=str(job.pk),
        files=[{"name": "x.zip", "format": "zip", "kind": "archive", "dataset": "", "rows": 1,
                "bytes": 1, "sha256": "0" * 64}],
    )  # fmt: skip
    row = client.get(f"/data/exports/{job.pk}/progress/").content.decode()
    assert "hx-trigger" not in row
    assert 'value="100"' in row
    assert f'href="/data/exports/{job.pk}/files/x.zip"' in row
    panel = client.get(f"/data/exports/{job.pk}/progress/?panel=1").content.decode()
    assert "x.zip" in panel and "0" * 64 in panel
    assert client.get(f"/data/exports/{job.pk}/").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_a_finished_job_lists_its_datasets_and_what_it_leaves_out(
    dm: Any, export_root: Path
) -> None:
    from tests.exports.trial import new_job, run_inline

    job = run_inline(new_job(dm, formats=["csv"]))
    assert job.status == "done", job.error
    panel = logged_in(dm).get(f"/data/exports/{job.pk}/").content.decode()
    assert "<code>responses_wide</code>" in panel and "<code>service_use</code>" in panel
    assert "Not in this export" in panel
    for what in ("IMRS_C", "attendance", "exposure", "fidelity", "blinding"):
        assert f"<code>{what}</code>:" in panel


def test_a_failed_job_shows_why_on_the_page(dm: Any) -> None:
    job = ExportJob.objects.create(
        requested_by=dm, formats=["csv"], status="failed", error="Disk full."
    )
    page = logged_in(dm).get("/data/exports/").content.decode()
    assert "Disk full." in page and f"/data/exports/{job.pk}/files/" not in page


def test_the_statistician_may_ask_for_an_unblinded_export_only_after_the_lock(
    statistician: Any, dm: Any, django_capture_on_commit_callbacks: Any
) -> None:
    client = logged_in(statistician)
    page = client.get("/data/exports/")
    assert b"Unblinded" in page.content and b"masking key" in page.content
    refused = client.post("/data/exports/", {"formats": ["csv"], "unblinded": "on"})
    assert refused.status_code == 409
    assert b"need a locked database" in refused.content
    assert not ExportJob.objects.exists()
    services.dataset_lock(user=dm, reason="Final")
    with django_capture_on_commit_callbacks():
        accepted = client.post("/data/exports/", {"formats": ["csv"], "unblinded": "on"})
    assert accepted.status_code == 302
    assert ExportJob.objects.get().blinded is False


def test_an_unknown_action_on_the_lock_page_changes_nothing(dm: Any) -> None:
    response = logged_in(dm).post("/data/lock/", {"action": "seal", "seal-reason": "x"})
    assert response.status_code == 400
    assert not DatasetLock.objects.exists()
