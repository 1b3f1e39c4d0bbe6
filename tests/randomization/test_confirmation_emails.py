"""After commit, the coordinator and the site's IMR instructors get a confirmation e-mail."""

from __future__ import annotations

from typing import Any

from django.core import mail

from tests.factories import api_client, make_staff, page_client
from tests.randomization.conftest import ready_participant
from trial.roles import Role


def staff(username: str, *roles: str, sites: list[str] | None = None, email: bool = True) -> Any:
    user = make_staff(username, *roles, sites=sites)
    if email:
        user.email = f"{username}@example.org"
        user.save(update_fields=["email"])
    return user


def test_the_coordinator_and_the_sites_instructors_are_told_after_commit(
    lists: list, eager_celery: None, django_capture_on_commit_callbacks: Any
) -> None:
    coordinator = staff("coord", Role.COORDINATOR, sites=["BAL"])
    staff("instr-bal", Role.INSTRUCTOR, sites=["BAL"])
    staff("instr-all", Role.INSTRUCTOR)
    staff("instr-gla", Role.INSTRUCTOR, sites=["GLA"])
    staff("instr-blinded", Role.INSTRUCTOR, Role.ASSESSOR, sites=["BAL"])
    staff("instr-no-mail", Role.INSTRUCTOR, sites=["BAL"], email=False)
    staff("assessor", Role.ASSESSOR, sites=["BAL"])
    participant = ready_participant("BAL", user=coordinator)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = api_client(coordinator).post(
            f"/api/v1/participants/{participant.pk}/randomize/", {}, format="json"
        )
    assert response.status_code == 201
    assert len(callbacks) == 1
    recipients = sorted(message.to[0] for message in mail.outbox)
    assert recipients == [
        "coord@example.org",
        "instr-all@example.org",
        "instr-bal@example.org",
    ]
    body = mail.outbox[0].body
    allocation = participant.allocation
    assert participant.study_id in body
    assert allocation.randomization_code in body
    assert allocation.get_arm_display() in body
    assert participant.cpr_masked[:6] not in body


def test_nothing_is_sent_before_the_transaction_commits(
    lists: list, eager_celery: None, django_capture_on_commit_callbacks: Any
) -> None:
    coordinator = staff("coord", Role.COORDINATOR, sites=["BAL"])
    participant = ready_participant("BAL", user=coordinator)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        api_client(coordinator).post(
            f"/api/v1/participants/{participant.pk}/randomize/", {}, format="json"
        )
        assert mail.outbox == []
    assert len(callbacks) == 1


def test_a_repeated_request_sends_no_second_e_mail(
    lists: list, eager_celery: None, django_capture_on_commit_callbacks: Any
) -> None:
    coordinator = staff("coord", Role.COORDINATOR, sites=["BAL"])
    participant = ready_participant("BAL", user=coordinator)
    client = api_client(coordinator)
    path = f"/api/v1/participants/{participant.pk}/randomize/"
    with django_capture_on_commit_callbacks(execute=True):
        client.post(path, {}, format="json", HTTP_IDEMPOTENCY_KEY="once")
        client.post(path, {}, format="json", HTTP_IDEMPOTENCY_KEY="once")
    assert len(mail.outbox) == 1


def test_with_redis_down_the_randomization_stands_and_the_confirmation_is_still_sent(
    lists: list, monkeypatch: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from imrtrial.celery import app as celery_app

    coordinator = staff("coord", Role.COORDINATOR, sites=["BAL"])
    participant = ready_participant("BAL", user=coordinator)
    monkeypatch.setattr(celery_app.conf, "broker_url", "redis://127.0.0.1:1/0")  # nobody there
    # Forget the connections earlier tests opened to the real broker.
    monkeypatch.setattr(celery_app, "_pool", None)
    monkeypatch.setattr(celery_app.amqp, "_producer_pool", None)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client(coordinator).post(
            f"/api/v1/participants/{participant.pk}/randomize/", {}, format="json"
        )
    assert response.status_code == 201
    assert [message.to for message in mail.outbox] == [["coord@example.org"]]


def test_the_result_page_says_an_e_mail_was_sent_only_when_it_was_and_to_whom(
    lists: list, eager_celery: None, django_capture_on_commit_callbacks: Any
) -> None:
    coordinator = staff("coord", Role.COORDINATOR, sites=["BAL"])
    staff("instr-bal", Role.INSTRUCTOR, sites=["BAL"])
    participant = ready_participant("BAL", user=coordinator)
    url = f"/randomisation/participants/{participant.pk}/result/"
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        api_client(coordinator).post(
            f"/api/v1/participants/{participant.pk}/randomize/", {}, format="json"
        )
    pending = page_client(coordinator).get(url).content.decode()
    assert "is being sent to" in pending and "instr-bal@example.org" in pending
    assert "was sent" not in pending
    for callback in callbacks:
        callback()
    sent = page_client(coordinator).get(url).content.decode()
    assert "A confirmation e-mail was sent at" in sent and "coord, instr-bal" in sent


def test_the_result_page_says_no_e_mail_is_sent_when_nobody_has_an_address(
    lists: list, eager_celery: None, django_capture_on_commit_callbacks: Any
) -> None:
    coordinator = staff("coord", Role.COORDINATOR, sites=["BAL"], email=False)
    participant = ready_participant("BAL", user=coordinator)
    with django_capture_on_commit_callbacks(execute=True):
        api_client(coordinator).post(
            f"/api/v1/participants/{participant.pk}/randomize/", {}, format="json"
        )
    html = (
        page_client(coordinator)
        .get(f"/randomisation/participants/{participant.pk}/result/")
        .content.decode()
    )
    assert "No confirmation e-mail is sent" in html and mail.outbox == []
