"""After commit, the coordinator and the site's IMR instructors get a confirmation e-mail: the
randomisation writes it to the outbox and the outbox relay sends it once the transaction has
committed (`outbox.drain()` does the relay's part here)."""

from __future__ import annotations

from typing import Any

from django.core import mail
from django.utils import timezone

from randomization.tasks import send_randomization_confirmation
from tests.factories import api_client, make_staff, page_client
from tests.randomization.conftest import eager, ready_participant
from trial import outbox
from trial.models import OutboxMessage
from trial.roles import Role


def staff(username: str, *roles: str, sites: list[str] | None = None, email: bool = True) -> Any:
    user = make_staff(username, *roles, sites=sites)
    if email:
        user.email = f"{username}@example.org"
        user.save(update_fields=["email"])
    return user


def test_the_coordinator_and_the_sites_instructors_are_told_after_commit(
    lists: list, eager_celery: None
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
    response = api_client(coordinator).post(
        f"/api/v1/participants/{participant.pk}/randomize/", {}, format="json"
    )
    assert response.status_code == 201
    assert outbox.drain() == 1
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


def test_the_request_only_writes_the_e_mail_to_the_outbox(
    lists: list, django_capture_on_commit_callbacks: Any
) -> None:
    """The request neither sends nor waits for anything after its commit; the relay's
    notification is part of the commit (tests/trial/test_outbox.py)."""
    coordinator = staff("coord", Role.COORDINATOR, sites=["BAL"])
    participant = ready_participant("BAL", user=coordinator)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        api_client(coordinator).post(
            f"/api/v1/participants/{participant.pk}/randomize/", {}, format="json"
        )
    assert callbacks == [] and mail.outbox == []
    (message,) = OutboxMessage.objects.all()
    assert (message.sent_at, message.attempts) == (None, 0)
    assert message.due_at <= timezone.now()


def test_a_repeated_request_sends_no_second_e_mail(lists: list, eager_celery: None) -> None:
    coordinator = staff("coord", Role.COORDINATOR, sites=["BAL"])
    participant = ready_participant("BAL", user=coordinator)
    client = api_client(coordinator)
    path = f"/api/v1/participants/{participant.pk}/randomize/"
    client.post(path, {}, format="json", HTTP_IDEMPOTENCY_KEY="once")
    client.post(path, {}, format="json", HTTP_IDEMPOTENCY_KEY="once")
    assert outbox.drain() == 1
    assert len(mail.outbox) == 1


def test_with_redis_down_the_randomization_stands_and_the_confirmation_is_sent_once_it_is_back(
    lists: list, redis_down: Any
) -> None:
    coordinator = staff("coord", Role.COORDINATOR, sites=["BAL"])
    participant = ready_participant("BAL", user=coordinator)
    mail.outbox.clear()
    response = api_client(coordinator).post(
        f"/api/v1/participants/{participant.pk}/randomize/", {}, format="json"
    )
    assert response.status_code == 201
    assert mail.outbox == []
    (message,) = OutboxMessage.objects.all()
    assert (message.task, message.args) == (
        "randomization.tasks.send_randomization_confirmation",
        [participant.allocation.pk],
    )
    assert message.sent_at is None
    # While Redis stays down the relay (or the worker's drain) sends nothing, and loses nothing.
    assert outbox.drain() == 0
    message.refresh_from_db()
    assert message.sent_at is None and message.attempts == 1
    assert "127.0.0.1:1" in message.last_error
    assert message.due_at > timezone.now()  # tried again after a back-off

    redis_down()  # Redis is back
    with eager():  # the worker runs the task: here, in-process
        OutboxMessage.objects.update(due_at=timezone.now())
        assert outbox.drain() == 1
        assert outbox.drain() == 0  # sent once: the next drains find nothing to send
    assert [m.to for m in mail.outbox] == [["coord@example.org"]]
    message = OutboxMessage.objects.get()
    assert message.sent_at is not None and message.attempts == 2 and message.task_id


def test_a_confirmation_handed_over_twice_is_sent_once(lists: list, eager_celery: None) -> None:
    coordinator = staff("coord", Role.COORDINATOR, sites=["BAL"])
    participant = ready_participant("BAL", user=coordinator)
    mail.outbox.clear()
    api_client(coordinator).post(
        f"/api/v1/participants/{participant.pk}/randomize/", {}, format="json"
    )
    outbox.drain()
    assert len(mail.outbox) == 1
    # The broker took the message but the commit that marked it sent was lost: it goes again.
    assert send_randomization_confirmation(participant.allocation.pk) == 0
    assert len(mail.outbox) == 1


def test_the_result_page_says_an_e_mail_was_sent_only_when_it_was_and_to_whom(
    lists: list, eager_celery: None
) -> None:
    coordinator = staff("coord", Role.COORDINATOR, sites=["BAL"])
    staff("instr-bal", Role.INSTRUCTOR, sites=["BAL"])
    participant = ready_participant("BAL", user=coordinator)
    url = f"/randomisation/participants/{participant.pk}/result/"
    api_client(coordinator).post(
        f"/api/v1/participants/{participant.pk}/randomize/", {}, format="json"
    )
    pending = page_client(coordinator).get(url).content.decode()
    assert "is being sent to" in pending and "instr-bal@example.org" in pending
    assert "was sent" not in pending
    outbox.drain()
    sent = page_client(coordinator).get(url).content.decode()
    assert "A confirmation e-mail was sent at" in sent and "coord, instr-bal" in sent


def test_the_result_page_says_no_e_mail_is_sent_when_nobody_has_an_address(
    lists: list, eager_celery: None
) -> None:
    coordinator = staff("coord", Role.COORDINATOR, sites=["BAL"], email=False)
    participant = ready_participant("BAL", user=coordinator)
    api_client(coordinator).post(
        f"/api/v1/participants/{participant.pk}/randomize/", {}, format="json"
    )
    outbox.drain()
    html = (
        page_client(coordinator)
        .get(f"/randomisation/participants/{participant.pk}/result/")
        .content.decode()
    )
    assert "No confirmation e-mail is sent" in html and mail.outbox == []
