"""A site's list runs out: 503, nothing written, the statisticians alerted; the statistician
appends complete blocks as a new list version and randomisation goes on without a gap."""

from __future__ import annotations

from typing import Any

from django.core import mail
from django.utils import timezone

from randomization import services
from randomization.models import Allocation, AllocationList, RandomizationLogEntry, SiteSequence
from tests.factories import api_client, coordinator_for, make_staff
from tests.randomization.conftest import eager, fixed_seed, ready_participant
from trial import outbox
from trial.models import OutboxMessage
from trial.roles import Role

Kind = RandomizationLogEntry.Kind


def randomize(participant: Any) -> Any:
    return api_client(coordinator_for(participant.site.code)).post(
        f"/api/v1/participants/{participant.pk}/randomize/", {}, format="json"
    )


def short_list(statistician: Any, site: str = "GLA") -> AllocationList:
    """One block: 6, 8 or 10 slots."""
    (allocation_list,) = services.allocation_lists_generate(
        per_site=1, site_codes=[site], user=statistician, channel="web", randbits=fixed_seed()
    )
    return allocation_list


def test_an_exhausted_list_refuses_with_503_writes_nothing_and_alerts_the_statisticians(
    statistician: Any, eager_celery: None
) -> None:
    allocation_list = short_list(statistician)
    other_statistician = make_staff("stat2", Role.STATISTICIAN)
    other_statistician.email = "stat2@example.org"
    other_statistician.save()
    blinded = make_staff("dmstat", Role.STATISTICIAN, Role.DATA_MANAGER)
    blinded.email = "dm@example.org"
    blinded.save()
    for _ in range(allocation_list.length):
        assert randomize(ready_participant("GLA")).status_code == 201
    waiting = ready_participant("GLA")
    site = waiting.site
    before = (Allocation.objects.count(), SiteSequence.objects.get(site=site).next_sequence)
    outbox.drain()  # the confirmations
    mail.outbox.clear()
    response = randomize(waiting)
    outbox.drain()  # the relay's part after the refusal's commit: the alert
    assert response.status_code == 503
    assert "exhausted" in response.json()["detail"]
    assert "IMR" not in response.json()["detail"] and "TAU" not in response.json()["detail"]
    assert (Allocation.objects.count(), SiteSequence.objects.get(site=site).next_sequence) == before
    waiting.refresh_from_db()
    assert waiting.status == "consented"
    # No fallback to simple randomisation or another site's list.
    assert not Allocation.objects.filter(participant=waiting).exists()
    recipients = sorted(address for message in mail.outbox for address in message.to)
    assert recipients == ["stat2@example.org", "statistician@example.org"]
    assert "Gladsaxe" in mail.outbox[0].subject
    assert waiting.study_id in mail.outbox[0].body
    assert RandomizationLogEntry.objects.filter(kind=Kind.REFUSED_EXHAUSTED).count() == 1
    assert RandomizationLogEntry.objects.filter(kind=Kind.EXHAUSTION_ALERT).count() == 1


def test_repeated_refusals_alert_once_an_hour(statistician: Any, eager_celery: None) -> None:
    allocation_list = short_list(statistician)
    for _ in range(allocation_list.length):
        randomize(ready_participant("GLA"))
    waiting = ready_participant("GLA")
    outbox.drain()
    mail.outbox.clear()
    assert randomize(waiting).status_code == 503
    assert randomize(waiting).status_code == 503
    assert outbox.drain() == 1
    assert len(mail.outbox) == 1
    assert RandomizationLogEntry.objects.filter(kind=Kind.REFUSED_EXHAUSTED).count() == 2


def test_a_site_without_any_list_is_exhausted_too(sites: dict, statistician: Any) -> None:
    response = randomize(ready_participant("FRB"))
    assert response.status_code == 503
    assert Allocation.objects.count() == 0


def test_an_extension_continues_the_list_without_a_gap(statistician: Any) -> None:
    first = short_list(statistician)
    for _ in range(first.length):
        randomize(ready_participant("GLA"))
    waiting = ready_participant("GLA")
    assert randomize(waiting).status_code == 503
    (extension,) = services.allocation_lists_generate(
        per_site=12,
        site_codes=["GLA"],
        user=statistician,
        extend=True,
        reason="GLA list exhausted",
        channel="web",
    )
    assert extension.version == 2
    assert extension.source == AllocationList.Source.EXTENSION
    assert extension.first_sequence == first.length + 1
    assert extension.parameters["first_block"] == first.parameters["last_block"] + 1
    assert randomize(waiting).status_code == 201
    waiting.refresh_from_db()
    assert waiting.allocation.slot.sequence == first.length + 1
    assert waiting.allocation.slot.allocation_list == extension
    used = sorted(Allocation.objects.values_list("slot__sequence", flat=True))
    assert used == list(range(1, first.length + 2))


def test_with_redis_down_the_statisticians_are_alerted_once_it_is_back(
    statistician: Any, redis_down: Any
) -> None:
    allocation_list = short_list(statistician)
    for _ in range(allocation_list.length):
        assert randomize(ready_participant("GLA")).status_code == 201
    waiting = ready_participant("GLA")
    mail.outbox.clear()
    assert randomize(waiting).status_code == 503
    assert outbox.drain() == 0  # Redis is down: the relay sends nothing, and loses nothing
    assert mail.outbox == []
    refusal = RandomizationLogEntry.objects.get(kind=Kind.REFUSED_EXHAUSTED)
    alert = OutboxMessage.objects.get(task="randomization.tasks.alert_list_exhausted")
    assert (alert.args, alert.sent_at) == ([refusal.pk], None)
    redis_down()  # Redis is back; the relay sends when the back-off has passed
    OutboxMessage.objects.update(due_at=timezone.now())
    with eager():
        assert outbox.drain() >= 1
        assert outbox.drain() == 0
    alerts = [m.to for m in mail.outbox if "exhausted" in m.subject]
    assert alerts == [["statistician@example.org"]]
    assert RandomizationLogEntry.objects.filter(kind=Kind.EXHAUSTION_ALERT).count() == 1
    assert not OutboxMessage.objects.filter(sent_at__isnull=True).exists()
