"""API.md, "Fidelity and attendance (unblinded roles only)"; blinded roles get 404 there
(issue 5), exactly as for an address that does not exist."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from tests.contract.client import Api, assert_error_shape, consented, randomized_pair

FIDELITY_ITEMS = {f"FID_{n}": 4 for n in range(1, 14)}
BLINDED = [("assessor",), ("data_manager",), ("monitor",), ("clinician", "assessor")]


@pytest.fixture
def world(staff: Any, lists: str, settings: Any) -> dict[str, Any]:
    settings.RANDOMIZATION_REQUIRES_BASELINE = False
    coordinator = staff("coordinator", sites=("BAL",))
    pair = randomized_pair(coordinator)
    return {
        "coordinator": coordinator,
        "instructor": staff("instructor", sites=("BAL",)),
        "imr": pair["IMR"],
        "tau": pair["TAU"],
    }


def new_group(api: Api, site: str = "BAL") -> dict[str, Any]:
    response = api.post(
        "groups/", {"site": site, "name": "Tuesday group", "start_date": date.today().isoformat()}
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_a_group_is_created_with_site_name_and_start_date(world: dict[str, Any]) -> None:
    group = new_group(world["coordinator"])
    assert isinstance(group["id"], int)
    assert (group["site"], group["name"], group["start_date"]) == (
        "BAL",
        "Tuesday group",
        date.today().isoformat(),
    )
    body = assert_error_shape(world["coordinator"].post("groups/", {"site": "BAL"}), 400)
    assert {"name", "start_date"} <= set(body)


def test_only_participants_randomized_to_imr_become_members(
    world: dict[str, Any], staff: Any
) -> None:
    coordinator = world["coordinator"]
    group = new_group(coordinator)
    members = f"groups/{group['id']}/members/"
    response = coordinator.post(members, {"participant": world["imr"]["id"]})
    assert response.status_code == 201, response.content
    assert response.json()["participant"] == world["imr"]["id"]
    assert_error_shape(coordinator.post(members, {"participant": world["tau"]["id"]}), 400)
    not_randomized = consented(coordinator)
    assert_error_shape(coordinator.post(members, {"participant": not_randomized["id"]}), 400)
    assert_error_shape(coordinator.post(members, {}), 400)
    listed = coordinator.get(members).json()
    assert [m["participant"] for m in listed] == [world["imr"]["id"]]


def test_sessions_take_a_date_and_a_module_from_1_to_11_and_attendance_lists_who_came(
    world: dict[str, Any],
) -> None:
    coordinator, instructor = world["coordinator"], world["instructor"]
    group = new_group(coordinator)
    coordinator.post(f"groups/{group['id']}/members/", {"participant": world["imr"]["id"]})
    sessions = f"groups/{group['id']}/sessions/"
    today = date.today().isoformat()
    for module in (0, 12, "first"):
        assert "module" in assert_error_shape(
            instructor.post(sessions, {"date": today, "module": module}), 400
        )
    response = instructor.post(sessions, {"date": today, "module": 1})
    assert response.status_code == 201, response.content
    session = response.json()
    assert (session["date"], session["module"]) == (today, 1)

    attendance = f"sessions/{session['id']}/attendance/"
    response = instructor.put(attendance, {"present": [world["imr"]["id"]]})
    assert response.status_code == 200, response.content
    assert response.json()["present"] == [world["imr"]["id"]]
    assert "present" in assert_error_shape(instructor.put(attendance, {"present": ["x"]}), 400)
    # Someone who is not a member cannot be present.
    assert_error_shape(instructor.put(attendance, {"present": [world["tau"]["id"]]}), 400)
    assert instructor.get(attendance).json()["present"] == [world["imr"]["id"]]


def test_fidelity_ratings_by_two_raters_then_the_consensus(
    world: dict[str, Any], staff: Any
) -> None:
    group = new_group(world["coordinator"])
    first, second = staff("fidelity_rater"), staff("fidelity_rater")
    rating = {"group": group["id"], "timepoint": "midway", "items": FIDELITY_ITEMS}
    body = assert_error_shape(
        first.post("fidelity-ratings/", rating | {"rater_kind": "consensus"}), 400
    )  # not before both independent ratings
    assert body
    response = first.post("fidelity-ratings/", rating | {"rater_kind": "rater1"})
    assert response.status_code == 201, response.content
    created = response.json()
    assert (created["group"], created["timepoint"], created["rater_kind"]) == (
        group["id"],
        "midway",
        "rater1",
    )
    assert_error_shape(first.post("fidelity-ratings/", rating | {"rater_kind": "rater1"}), 409)
    assert second.post("fidelity-ratings/", rating | {"rater_kind": "rater2"}).status_code == 201
    assert first.post("fidelity-ratings/", rating | {"rater_kind": "consensus"}).status_code == 201
    end = rating | {"timepoint": "end", "rater_kind": "rater1"}
    assert first.post("fidelity-ratings/", end).status_code == 201
    for bad, field in (
        ({"timepoint": "halfway"}, "timepoint"),
        ({"rater_kind": "rater3"}, "rater_kind"),
        ({"items": {**FIDELITY_ITEMS, "FID_1": 6}}, "FID_1"),
        ({"items": {k: v for k, v in FIDELITY_ITEMS.items() if k != "FID_13"}}, "FID_13"),
    ):
        response = second.post("fidelity-ratings/", end | {"rater_kind": "rater2"} | bad)
        assert field in assert_error_shape(response, 400)


@pytest.mark.parametrize("roles", BLINDED, ids=lambda r: "+".join(r))
def test_blinded_roles_get_404_for_everything_of_this_section(
    world: dict[str, Any], staff: Any, roles: tuple[str, ...]
) -> None:
    coordinator, instructor = world["coordinator"], world["instructor"]
    group = new_group(coordinator)
    coordinator.post(f"groups/{group['id']}/members/", {"participant": world["imr"]["id"]})
    session = instructor.post(
        f"groups/{group['id']}/sessions/", {"date": date.today().isoformat(), "module": 2}
    ).json()
    blinded = staff(*roles, sites=("BAL",))
    today = date.today().isoformat()
    calls: list[tuple[str, str, Any]] = [
        ("get", "groups/", None),
        ("post", "groups/", {"site": "BAL", "name": "X", "start_date": today}),
        ("get", f"groups/{group['id']}/", None),
        ("get", f"groups/{group['id']}/members/", None),
        ("post", f"groups/{group['id']}/members/", {"participant": world["imr"]["id"]}),
        ("get", f"groups/{group['id']}/sessions/", None),
        ("post", f"groups/{group['id']}/sessions/", {"date": today, "module": 3}),
        ("get", f"sessions/{session['id']}/attendance/", None),
        ("put", f"sessions/{session['id']}/attendance/", {"present": []}),
        ("get", "fidelity-ratings/", None),
        ("post", "fidelity-ratings/", {"group": group["id"], "timepoint": "end"}),
        ("get", "groups/999999/", None),
    ]
    for method, path, body in calls:
        response = getattr(blinded, method)(path, body) if body else getattr(blinded, method)(path)
        assert response.status_code == 404, (roles, method, path, response.status_code)
        assert_error_shape(response, 404)
        text = response.content.decode()
        assert "IMR" not in text and world["imr"]["study_id"] not in text


def test_groups_sessions_and_attendance_outside_the_callers_sites_are_404(
    world: dict[str, Any], staff: Any
) -> None:
    group = new_group(world["coordinator"])
    session = (
        world["instructor"]
        .post(f"groups/{group['id']}/sessions/", {"date": date.today().isoformat(), "module": 1})
        .json()
    )
    elsewhere = staff("instructor", sites=("GLA",))
    assert_error_shape(elsewhere.get(f"groups/{group['id']}/"), 404)
    assert_error_shape(
        elsewhere.post(f"groups/{group['id']}/members/", {"participant": world["imr"]["id"]}), 404
    )
    assert_error_shape(
        elsewhere.post(
            f"groups/{group['id']}/sessions/", {"date": date.today().isoformat(), "module": 2}
        ),
        404,
    )
    assert_error_shape(elsewhere.put(f"sessions/{session['id']}/attendance/", {"present": []}), 404)
    assert group["id"] not in {g["id"] for g in elsewhere.get("groups/").json()["results"]}
    assert_error_shape(
        elsewhere.post(
            "groups/", {"site": "BAL", "name": "Not mine", "start_date": date.today().isoformat()}
        ),
        403,
    )


def test_clinicians_have_no_part_in_groups(world: dict[str, Any], staff: Any) -> None:
    clinician = staff("clinician", sites=("BAL",))
    response = clinician.post(
        "groups/", {"site": "BAL", "name": "X", "start_date": date.today().isoformat()}
    )
    assert_error_shape(response, 403)
