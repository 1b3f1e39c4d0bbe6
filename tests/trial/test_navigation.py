"""The menu offers only what the user may open: for every role, and for the combinations of
roles people really hold, every menu link answers 200 (a page that refuses the user must not
be in their menu), and the home page shows the same entries as the top menu."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.factories import make_staff, page_client
from trial import navigation
from trial.roles import Role

# Single roles, and the combinations that change what a page allows (blinded wins; the list
# custodian does not enrol).
ROLE_SETS: list[tuple[str, ...]] = [(role.value,) for role in Role] + [
    (Role.STATISTICIAN, Role.COORDINATOR),
    (Role.COORDINATOR, Role.ASSESSOR),
    (Role.CLINICIAN, Role.ASSESSOR),
    (Role.INSTRUCTOR, Role.FIDELITY_RATER),
    (Role.STATISTICIAN, Role.DATA_MANAGER),
    (Role.COORDINATOR, Role.INSTRUCTOR, Role.CLINICIAN),
]
NAV_LINK = re.compile(r'<nav aria-label="Main">.*?</nav>', re.S)
HREF = re.compile(r'href="([^"]+)"')


def menu_links(html: str) -> list[str]:
    found = NAV_LINK.search(html)
    assert found, "no main menu on the page"
    return HREF.findall(found.group(0))


@pytest.mark.parametrize("roles", ROLE_SETS, ids=lambda roles: "+".join(roles))
def test_every_menu_link_of_a_role_opens(roles: tuple[str, ...], sites: dict) -> None:
    user = make_staff("-".join(roles), *roles, sites=["BAL"])
    client = page_client(user)
    home = client.get("/")
    assert home.status_code == 200
    links = menu_links(home.content.decode())
    assert links == [item["url"] for item in navigation.menu_for(user)]
    for url in links:
        response = client.get(url)
        assert response.status_code == 200, (
            f"{'+'.join(roles)}: {url} answers {response.status_code}"
        )


def test_the_allocation_lists_are_in_the_menu_of_the_list_custodian_only(sites: dict) -> None:
    def labels(user: Any) -> set[str]:
        return {item["label"] for item in navigation.menu_for(user)}

    assert "Allocation lists" in labels(make_staff("stat", Role.STATISTICIAN))
    enrolling = make_staff("stat-coord", Role.STATISTICIAN, Role.COORDINATOR, sites=["BAL"])
    assert "Allocation lists" not in labels(enrolling)
    assert page_client(enrolling).get("/randomisation/lists/").status_code == 403
    blinded = make_staff("stat-dm", Role.STATISTICIAN, Role.DATA_MANAGER)
    assert "Allocation lists" not in labels(blinded)


def test_every_role_has_something_in_its_menu(sites: dict) -> None:
    for role in Role:
        user = make_staff(f"only-{role.value}", role, sites=["BAL"])
        assert navigation.menu_for(user), role


def test_the_menu_marks_at_most_one_entry_as_the_current_page(sites: dict) -> None:
    # Worklist and Queries both live under /assessments/: only the page's own entry is current.
    user = make_staff("assessor", Role.ASSESSOR, sites=["BAL"])
    client = page_client(user)
    for url, current in (
        ("/assessments/worklist/", "Worklist"),
        ("/assessments/queries/", "Queries"),
        ("/participants/", "Participants"),
    ):
        page = client.get(url).content.decode()
        marked = re.findall(r'<a href="[^"]+" aria-current="page">([^<]+)</a>', page)
        assert marked == [current], url
