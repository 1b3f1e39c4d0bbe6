"""A NUL character in an address's query (`?q=%00`, typed or pasted) cannot reach
PostgreSQL, which refuses text with it: the page or endpoint answers 400 with a reason instead
of a server error."""

from __future__ import annotations

from tests.factories import api_client, make_staff, page_client
from trial.roles import Role


def test_a_nul_character_in_an_address_is_refused_with_400_not_a_server_error(
    sites: dict,
) -> None:
    coordinator = make_staff("carla", Role.COORDINATOR, sites=["BAL"])
    page = page_client(coordinator).get("/participants/", {"q": "BAL\x00"})
    assert page.status_code == 400
    assert "NUL character" in page.content.decode()
    api = api_client(coordinator).get("/api/v1/participants/", {"search": "\x00"})
    assert api.status_code == 400
    assert "NUL character" in api.json()["detail"]
    named = page_client(coordinator).get("/participants/?%00=1")
    assert named.status_code == 400
    assert page_client(coordinator).get("/participants/", {"q": "BAL"}).status_code == 200
