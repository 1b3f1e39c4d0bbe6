from __future__ import annotations

from django.db import connection

from participants.models import Participant
from tests.factories import api_client, make_staff
from trial.roles import Role


def test_a_coordinator_registers_a_person_and_gets_a_study_id(sites: dict) -> None:
    coordinator = make_staff("c1", Role.COORDINATOR, sites=["BAL"])
    response = api_client(coordinator).post(
        "/api/v1/participants/",
        {"site": "BAL", "cpr": "010190-1234", "sex": "female"},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "registered"
    assert body["study_id"].startswith("BAL-001-")
    assert body["cpr_masked"] == "010190-XXXX"
    assert "0101901234" not in response.content.decode()


def test_the_same_cpr_number_twice_anywhere_is_a_conflict(sites: dict) -> None:
    coordinator = make_staff("c1", Role.COORDINATOR)
    client = api_client(coordinator)
    first = client.post(
        "/api/v1/participants/",
        {"site": "BAL", "cpr": "0101901234", "sex": "female"},
        format="json",
    )
    assert first.status_code == 201
    again = client.post(
        "/api/v1/participants/",
        {"site": "GLA", "cpr": "010190-1234", "sex": "female"},
        format="json",
    )
    assert again.status_code == 409
    assert Participant.objects.count() == 1


def test_an_impossible_date_is_refused_and_nothing_is_written(sites: dict) -> None:
    coordinator = make_staff("c1", Role.COORDINATOR)
    response = api_client(coordinator).post(
        "/api/v1/participants/", {"site": "BAL", "cpr": "310290-1234", "sex": "male"}, format="json"
    )
    assert response.status_code == 400
    assert "cpr" in response.json()
    assert Participant.objects.count() == 0


def test_the_cpr_number_is_in_no_table_in_plain_text(sites: dict) -> None:
    coordinator = make_staff("c1", Role.COORDINATOR)
    api_client(coordinator).post(
        "/api/v1/participants/",
        {"site": "BAL", "cpr": "010190-1234", "sex": "female"},
        format="json",
    )
    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT table_name FROM information_schema.tables
            WHERE table_schema = 'public' AND table_type = 'BASE TABLE'""")
        tables = [row[0] for row in cursor.fetchall()]
        for table in tables:
            cursor.execute(
                f'SELECT count(*) FROM "{table}" t WHERE t::text LIKE %s OR t::text LIKE %s',
                ["%0101901234%", "%010190-1234%"],
            )
            assert cursor.fetchone()[0] == 0, table
