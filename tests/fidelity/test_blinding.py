"""Blinded roles (assessor, data manager, monitor; admins; anyone who also holds a blinded
role) get 404 for every page and endpoint of this app, whatever the method, and find no trace
of IMR delivery in menus, the participant overview or the participants API. The URL lists are
read from fidelity/urls.py, so a new page or endpoint is covered without editing this file."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.test import Client

from fidelity import selectors
from tests.factories import api_client, page_client
from tests.fidelity.world import api_urls, build_world, page_urls
from trial import navigation, timeline

METHODS = ("get", "post", "put", "patch", "delete", "options")
BLINDED = ("assessor", "data_manager", "monitor", "admin", "blinded_coordinator")


@pytest.fixture
def world(staff):
    return build_world(staff)


def _status(client, method: str, url: str, **kwargs) -> int:
    # Each request in its own savepoint: a refused write must not have written anything, and
    # a wrongly allowed one must not change what the next request meets.
    with transaction.atomic():
        response = getattr(client, method)(url, **kwargs)
        transaction.set_rollback(True)
    return response.status_code


def test_every_url_of_the_app_is_covered(world) -> None:
    pages, apis = page_urls(world), api_urls(world)
    assert len(pages) >= 14 and len(apis) >= 17
    assert "/imr/" in pages and "/api/v1/groups/" in apis and "/api/v1/fidelity-ratings/" in apis


@pytest.mark.parametrize("who", BLINDED)
def test_blinded_users_get_404_from_every_endpoint_with_every_method(staff, world, who) -> None:
    client = api_client(getattr(staff, who))
    before = world.counts()
    refused = {
        (method, url): _status(client, method, url, data={}, format="json")
        for url in api_urls(world)
        for method in METHODS
    }
    assert {key: code for key, code in refused.items() if code != 404} == {}
    assert world.counts() == before


@pytest.mark.parametrize("who", BLINDED)
def test_blinded_users_get_404_from_every_page_with_every_method(staff, world, who) -> None:
    client = page_client(getattr(staff, who))
    before = world.counts()
    refused = {
        (method, url): _status(client, method, url)
        for url in page_urls(world)
        for method in METHODS
    }
    assert {key: code for key, code in refused.items() if code != 404} == {}
    assert world.counts() == before


def test_the_same_addresses_exist_for_an_unblinded_reader(staff, world) -> None:
    # Proves the 404s above come from blinding: the statistician reads everything.
    client = page_client(staff.statistician)
    api = api_client(staff.statistician)
    found = {url: _status(client, "get", url) for url in page_urls(world)}
    found |= {url: _status(api, "get", url) for url in api_urls(world)}
    assert [url for url, code in found.items() if code == 404] == []


def test_the_404_of_a_blinded_user_says_no_more_than_any_unknown_address(staff, world) -> None:
    blinded = api_client(staff.assessor).get(f"/api/v1/groups/{world.group.pk}/")
    unknown = api_client(staff.coordinator).get("/api/v1/groups/999999/")
    assert blinded.status_code == unknown.status_code == 404
    assert blinded.json() == unknown.json() == {"detail": "Not found."}
    # Adding a TAU participant reveals the arm in its message: a blinded user never gets there.
    tau = api_client(staff.blinded_coordinator).post(
        f"/api/v1/groups/{world.group.pk}/members/",
        {"participant": world.candidate.pk},
        format="json",
    )
    assert tau.status_code == 404 and tau.json() == {"detail": "Not found."}


def test_anonymous_callers_are_asked_to_log_in(world) -> None:
    assert Client().get("/api/v1/groups/").status_code == 401
    page = Client().get("/imr/")
    assert page.status_code == 302 and "/accounts/login/" in page["Location"]


@pytest.mark.parametrize("who", BLINDED)
def test_blinded_users_find_no_trace_in_menu_timeline_or_participant_pages(
    staff, world, who
) -> None:
    user = getattr(staff, who)
    labels = {item["label"] for item in navigation.menu_for(user)}
    assert not labels & {"IMR groups", "Fidelity"}
    member = world.members[0]
    assert selectors.participant_timeline(member, user) == []
    assert not [e for e in timeline.collect(member, user) if "IMR" in e.title]
    client = page_client(user)
    for url in ("/", f"/participants/{member.pk}/", "/participants/"):
        html = client.get(url).content.decode()
        assert "/imr/" not in html and world.group.name not in html
    api = api_client(user).get(f"/api/v1/participants/{member.pk}/")
    if api.status_code == 200:
        assert world.group.name not in api.content.decode() and "group" not in api.json()


def test_unblinded_staff_see_the_group_in_menu_and_timeline(staff, world) -> None:
    assert "IMR groups" in {i["label"] for i in navigation.menu_for(staff.coordinator)}
    entries = selectors.participant_timeline(world.members[0], staff.coordinator)
    assert [e.title for e in entries] == [
        "Joined IMR group Access group",
        "IMR session attended (1)",
    ]
    # Fidelity raters rate groups, not people: no participant-level trace for them either.
    assert selectors.participant_timeline(world.members[0], staff.rater1) == []
