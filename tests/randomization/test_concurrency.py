"""Exactly once under concurrency: 24 threads, each with its own PostgreSQL connection,
randomise participants of all three sites at the same moment, with retries (same
idempotency key) and separate second attempts for the same people."""

from __future__ import annotations

import random
import threading
from collections import Counter, defaultdict
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection

from participants.models import Participant
from randomization import services
from randomization.models import Allocation, RandomizationLogEntry, SiteSequence
from tests.factories import api_client, coordinator_for, make_staff
from tests.randomization.conftest import fixed_seed, ready_participant
from trial.roles import Role

THREADS = 24
PER_SITE = 12


@pytest.mark.django_db(transaction=True)
def test_simultaneous_requests_never_share_a_slot_or_randomize_anyone_twice(
    eager_celery: None,
) -> None:
    call_command("setup_trial", stdout=open("/dev/null", "w"))  # noqa: SIM115
    statistician = make_staff("statistician", Role.STATISTICIAN)
    services.allocation_lists_generate(
        per_site=40, user=statistician, channel="web", randbits=fixed_seed()
    )
    participants = [
        ready_participant(site) for site in ("BAL", "GLA", "FRB") for _ in range(PER_SITE)
    ]
    coordinators = {site: coordinator_for(site) for site in ("BAL", "GLA", "FRB")}

    # Per participant: the request, its retry with the same key, and a separate attempt.
    requests: list[tuple[Participant, str | None]] = []
    for participant in participants:
        key = f"key-{participant.pk}"
        requests += [(participant, key), (participant, key), (participant, None)]
    random.Random(1361698).shuffle(requests)
    chunks = [requests[i::THREADS] for i in range(THREADS)]

    barrier = threading.Barrier(THREADS)
    results: list[tuple[int, int, bool, dict[str, Any]]] = []
    failures: list[BaseException] = []
    lock = threading.Lock()
    backends: set[int] = set()

    def work(chunk: list[tuple[Participant, str | None]]) -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                pid = cursor.fetchone()[0]
            with lock:
                backends.add(pid)
            barrier.wait(timeout=30)
            for participant, key in chunk:
                client = api_client(coordinators[participant.site.code])
                extra: dict[str, Any] = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
                response = client.post(
                    f"/api/v1/participants/{participant.pk}/randomize/", {}, format="json", **extra
                )
                replayed = response.get("Idempotent-Replayed") == "true"
                with lock:
                    results.append(
                        (participant.pk, response.status_code, replayed, response.json())
                    )
        except BaseException as exc:  # reported by the assertion below
            with lock:
                failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(chunk,)) for chunk in chunks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures
    assert len(backends) == THREADS  # really as many simultaneous database connections
    assert len(results) == len(requests)

    statuses = Counter(status for _, status, _, _ in results)
    assert set(statuses) <= {201, 409}, statuses
    by_participant: dict[int, list[tuple[int, bool, dict[str, Any]]]] = defaultdict(list)
    for pk, status, replayed, body in results:
        by_participant[pk].append((status, replayed, body))
    for pk, outcomes in by_participant.items():
        fresh = [body for status, replayed, body in outcomes if status == 201 and not replayed]
        assert len(fresh) == 1, (pk, outcomes)
        for _status, replayed, body in outcomes:
            if replayed:
                assert body == fresh[0]

    allocations = list(Allocation.objects.select_related("slot").order_by("id"))
    assert len(allocations) == len(participants)
    assert len({a.participant_id for a in allocations}) == len(participants)
    assert len({a.slot_id for a in allocations}) == len(participants)
    for site in ("BAL", "GLA", "FRB"):
        used = [a.slot.sequence for a in allocations if a.slot.site.code == site]
        # In order, without gaps: the i-th allocation at a site took position i.
        assert used == list(range(1, PER_SITE + 1)), (site, used)
        next_sequence = SiteSequence.objects.get(site__code=site).next_sequence
        assert next_sequence == PER_SITE + 1
    assert RandomizationLogEntry.objects.filter(
        kind=RandomizationLogEntry.Kind.RANDOMIZED
    ).count() == len(participants)
    assert Participant.objects.filter(status="randomized").count() == len(participants)
