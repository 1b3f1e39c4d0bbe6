"""The freeze and the lock hold by every path: the API, the pages, the admin, a Celery task
and a raw bulk update, because PostgreSQL itself refuses the change."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import admin
from django.db import DatabaseError, connection, models, transaction
from django.test.utils import isolate_apps
from django.urls import path

from exports import services
from imrtrial import urls as project_urls
from participants.models import Participant
from tests.factories import api_client, make_participant, make_staff, page_client, unique_cpr
from trial.errors import LOCKED_SQLSTATE, sqlstate_of
from trial.lock import refuse_when_locked
from trial.roles import Role


@pytest.fixture
def freeze_probe(db: None) -> Any:
    """A stand-in for the tables that stay writable while frozen (answering queries,
    verification): its trigger is `refuse_when_locked(during_freeze=False)`. It lives in an
    isolated app registry so the project's migration state never sees it."""
    with isolate_apps("exports"):

        class FreezeProbe(models.Model):
            note = models.CharField(max_length=20)

            class Meta:
                app_label = "exports"
                managed = False
                db_table = "exports_test_freeze_probe"

            def __str__(self) -> str:
                return self.note

    with connection.schema_editor() as editor:
        editor.create_model(FreezeProbe)
    # pgtrigger annotates the model class it installs on as an instance.
    refuse_when_locked(during_freeze=False).install(FreezeProbe)  # type: ignore[arg-type]
    return FreezeProbe


def register_over_api(user: Any) -> Any:
    return api_client(user).post(
        "/api/v1/participants/", {"site": "BAL", "cpr": unique_cpr(), "sex": "male"}, format="json"
    )


@pytest.mark.parametrize("level", ["freeze", "lock"])
def test_the_api_cannot_enter_data_while_frozen_or_locked(dm: Any, level: str) -> None:
    coordinator = make_staff("c", Role.COORDINATOR, sites=["BAL"])
    make_participant("BAL")
    getattr(services, f"dataset_{level}")(user=dm, reason="End of trial")
    response = register_over_api(coordinator)
    assert response.status_code == 409
    assert ("frozen" if level == "freeze" else "locked") in response.json()["detail"]
    assert Participant.objects.count() == 1


def test_unlocking_restores_data_entry(dm: Any) -> None:
    coordinator = make_staff("c", Role.COORDINATOR, sites=["BAL"])
    services.dataset_lock(user=dm, reason="Lock")
    assert register_over_api(coordinator).status_code == 409
    services.dataset_unlock(user=dm, reason="Amendment 3: extend follow-up")
    assert register_over_api(coordinator).status_code == 201
    assert Participant.objects.count() == 1


def test_the_pages_cannot_enter_data_and_every_page_says_why(dm: Any) -> None:
    coordinator = make_staff("c", Role.COORDINATOR, sites=["BAL"])
    services.dataset_lock(user=dm, reason="Primary analysis")
    client = page_client(coordinator)
    response = client.post(
        "/participants/new/", {"site": "BAL", "cpr": "150482-1234", "sex": "female"}
    )
    assert response.status_code == 409
    assert b"locked" in response.content
    assert Participant.objects.count() == 0
    for page in ("/", "/participants/"):
        shown = client.get(page)
        assert shown.status_code == 200
        assert b'class="banner banner-lock"' in shown.content
        assert b"nothing can be changed" in shown.content


def test_a_frozen_database_is_announced_on_every_page(dm: Any) -> None:
    services.dataset_freeze(user=dm, reason="Cleaning")
    client = page_client(make_staff("m", Role.MONITOR))
    page = client.get("/participants/")
    assert b'class="banner banner-freeze"' in page.content
    assert b"queries can still be answered" in page.content


class ParticipantAdmin(admin.ModelAdmin):
    fields = ["sex", "status_reason"]


lock_test_admin = admin.AdminSite(name="locktest")
lock_test_admin.register(Participant, ParticipantAdmin)
urlpatterns = [path("locktest-admin/", lock_test_admin.urls), *project_urls.urlpatterns]


@pytest.mark.urls("tests.exports.test_lock_holds")
def test_the_admin_cannot_change_trial_data_while_locked(dm: Any) -> None:
    participant = make_participant("BAL", sex="female")
    superuser = make_staff("root", Role.ADMIN)
    services.dataset_lock(user=dm, reason="Lock")
    client = page_client(superuser)
    url = f"/locktest-admin/participants/participant/{participant.pk}/change/"
    assert client.get(url).status_code == 200
    response = client.post(url, {"sex": "male", "status_reason": "edited in the admin"})
    assert response.status_code == 409
    participant.refresh_from_db()
    assert (participant.sex, participant.status_reason) == ("female", "")


@pytest.mark.parametrize("level", ["freeze", "lock"])
def test_a_raw_bulk_update_is_refused_by_the_database(dm: Any, level: str) -> None:
    participant = make_participant("BAL")
    getattr(services, f"dataset_{level}")(user=dm, reason="End")
    with pytest.raises(DatabaseError) as caught, transaction.atomic():
        Participant.objects.filter(pk=participant.pk).update(sex="male")
    assert sqlstate_of(caught.value) == LOCKED_SQLSTATE
    with pytest.raises(DatabaseError), transaction.atomic():
        Participant.objects.filter(pk=participant.pk).delete()
    assert Participant.objects.filter(pk=participant.pk, sex="female").exists()


def test_a_freeze_still_allows_the_tables_kept_open_for_queries(dm: Any, freeze_probe: Any) -> None:
    services.dataset_freeze(user=dm, reason="Cleaning")
    probe = freeze_probe.objects.create(note="answer")
    freeze_probe.objects.filter(pk=probe.pk).update(note="answered")
    participant_refused = False
    try:
        with transaction.atomic():
            make_participant("BAL")
    except DatabaseError as exc:
        participant_refused = sqlstate_of(exc) == LOCKED_SQLSTATE
    assert participant_refused

    services.dataset_lock(user=dm, reason="Lock")
    with pytest.raises(DatabaseError) as caught, transaction.atomic():
        freeze_probe.objects.create(note="too late")
    assert sqlstate_of(caught.value) == LOCKED_SQLSTATE
    assert list(freeze_probe.objects.values_list("note", flat=True)) == ["answered"]
