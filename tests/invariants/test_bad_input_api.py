"""DESIGN.md invariant 6, "Bad input writes nothing", for every write endpoint of the API.

The endpoints come from the OpenAPI schema (which tests/invariants/test_schema_coverage.py
proves holds every API route): a new write endpoint fails
`test_every_write_endpoint_of_the_schema_is_probed` until it gets a row in WRITES below, saying
who may call it, on what, and with which valid body. The probes come from the endpoint's request
schema (tests/invariants/probes.py). Each probe runs in a rolled-back savepoint; the valid body
runs first, so a refusal of a probe is a refusal of the input, not of the caller."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from fidelity import scale
from randomization import generator
from tests.factories import ELIGIBLE_ANSWERS, PASSWORD, api_client, unique_cpr
from tests.invariants.probes import Probe, body_probes, encode, is_error_body, query_probes
from tests.invariants.world import Trial, changed_tables, rolled_back, row_counts
from trial.roles import Role

JSON = "application/json"


@dataclass(frozen=True)
class Write:
    """How to call one write endpoint validly."""

    role: str | None  # None: anonymous
    path: Callable[[Trial], str]
    body: Callable[[Trial], Any] = lambda t: {}
    # Statuses the valid body may get: 2xx, or a state conflict the world cannot avoid.
    valid: tuple[int, ...] = (200, 201, 202, 204)
    content_type: str = JSON
    reads_body: bool = True


def day(t: Trial, days: int = 0) -> str:
    return (t.today + timedelta(days=days)).isoformat()


def gla_list() -> str:
    slots = generator.generate_list(seed=5, stratum="GLA", min_length=12)
    lines = [f"{s.site},{s.sequence},{s.block},{s.block_size},{s.arm}" for s in slots]
    return "\n".join(["site,sequence,block,block_size,arm", *lines]) + "\n"


def bal_list_csv(t: Trial) -> str:
    from randomization.models import AllocationList
    from randomization.services.list_reads import stored_slots

    stored = AllocationList.objects.get(site__code="BAL", version=1)
    return generator.canonical_csv(stored_slots(stored)).decode()


def register_file(t: Trial) -> bytes:
    return (
        "cpr;period_start;period_end;admissions;admission_days;emergency_visits;"
        f"outpatient_contacts\n{t.consented_cpr};2024-01-01;2024-12-31;1;12;2;14\n"
    ).encode()


P = "/api/v1/participants"
ITEMS = {code: 4 for code in scale.ITEM_CODES}

WRITES: dict[tuple[str, str], Write] = {
    ("POST", "/api/v1/auth/token/"): Write(
        None,
        lambda t: "/api/v1/auth/token/",
        lambda t: {"username": "inv-coordinator", "password": PASSWORD},
    ),
    ("DELETE", "/api/v1/auth/token/"): Write(
        Role.COORDINATOR, lambda t: "/api/v1/auth/token/", reads_body=False, valid=(204, 400)
    ),
    ("POST", f"{P}/"): Write(
        Role.COORDINATOR,
        lambda t: f"{P}/",
        lambda t: {"site": "BAL", "cpr": unique_cpr(), "sex": "female"},
    ),
    ("POST", f"{P}/{{id}}/eligibility/"): Write(
        Role.COORDINATOR,
        lambda t: f"{P}/{t.registered.pk}/eligibility/",
        lambda t: dict(ELIGIBLE_ANSWERS),
    ),
    ("POST", f"{P}/{{id}}/consent/"): Write(
        Role.COORDINATOR,
        lambda t: f"{P}/{t.eligible.pk}/consent/",
        lambda t: {"consent_date": day(t)},
    ),
    ("POST", f"{P}/{{id}}/withdraw/"): Write(
        Role.COORDINATOR,
        lambda t: f"{P}/{t.consented.pk}/withdraw/",
        lambda t: {"reason": "Moved away", "date": day(t)},
    ),
    ("POST", f"{P}/{{id}}/status/"): Write(
        Role.DATA_MANAGER,
        lambda t: f"{P}/{t.tau.pk}/status/",
        lambda t: {"status": "lost_to_follow_up", "reason": "No contact", "date": day(t)},
    ),
    ("POST", f"{P}/{{id}}/randomize/"): Write(
        Role.COORDINATOR, lambda t: f"{P}/{t.randomizable.pk}/randomize/"
    ),
    ("PUT", f"{P}/{{id}}/blinding-guess/{{timepoint}}/"): Write(
        Role.ASSESSOR,
        lambda t: f"{P}/{t.tau.pk}/blinding-guess/post/",
        lambda t: {"guess": "dont_know"},
    ),
    ("PUT", f"{P}/{{id}}/assessments/{{timepoint}}/{{instrument}}/"): Write(
        Role.ASSESSOR,
        lambda t: f"{P}/{t.consented.pk}/assessments/baseline/GAF/",
        lambda t: {
            "items": {"GAF_S": 50, "GAF_F": 45},
            "missing": {},
            "comments": {"GAF_S": "From the interview."},
            "status": "draft",
            "version": 0,
            "reason": "",
            "interview_date": day(t),
        },
    ),
    ("POST", f"{P}/{{id}}/assessments/{{timepoint}}/{{instrument}}/verify/"): Write(
        Role.MONITOR,
        lambda t: f"{P}/{t.rated.pk}/assessments/baseline/GAF/verify/",
        lambda t: {"version": t.response.version},
    ),
    ("POST", f"{P}/{{id}}/assessments/{{timepoint}}/{{instrument}}/queries/"): Write(
        Role.DATA_MANAGER,
        lambda t: f"{P}/{t.rated.pk}/assessments/baseline/GAF/queries/",
        lambda t: {"item": "interview_date", "message": "Is the date right?"},
    ),
    ("POST", "/api/v1/queries/{query_id}/answer/"): Write(
        Role.ASSESSOR,
        lambda t: f"/api/v1/queries/{t.open_query.pk}/answer/",
        lambda t: {"text": "Checked against the source."},
    ),
    ("POST", "/api/v1/queries/{query_id}/close/"): Write(
        Role.DATA_MANAGER,
        lambda t: f"/api/v1/queries/{t.open_query.pk}/close/",
        lambda t: {"text": "Resolved."},
    ),
    ("POST", "/api/v1/queries/{query_id}/reopen/"): Write(
        Role.DATA_MANAGER,
        lambda t: f"/api/v1/queries/{t.closed_query.pk}/reopen/",
        lambda t: {"text": "Still unclear."},
    ),
    ("POST", "/api/v1/register-imports/"): Write(
        Role.DATA_MANAGER,
        lambda t: "/api/v1/register-imports/",
        register_file,
        content_type="text/csv",
    ),
    ("POST", "/api/v1/unblinding-incidents/"): Write(
        Role.ASSESSOR,
        lambda t: "/api/v1/unblinding-incidents/",
        lambda t: {
            "learned_on": day(t),
            "how": "participant_told",
            "description": "Mentioned the group.",
            "participant": t.member.pk,
            "person": "",
        },
    ),
    ("POST", "/api/v1/allocation-lists/import/"): Write(
        Role.STATISTICIAN,
        lambda t: "/api/v1/allocation-lists/import/",
        lambda t: {"csv": gla_list(), "filename": "gla.csv", "extend": False, "reason": ""},
    ),
    ("POST", "/api/v1/allocation-lists/verify/"): Write(
        Role.STATISTICIAN,
        lambda t: "/api/v1/allocation-lists/verify/",
        lambda t: {"csv": bal_list_csv(t), "filename": "bal.csv"},
    ),
    ("POST", "/api/v1/groups/"): Write(
        Role.COORDINATOR,
        lambda t: "/api/v1/groups/",
        lambda t: {
            "site": "BAL",
            "name": "Monday group",
            "start_date": day(t, 30),
            "capacity": 10,
            "instructors": ["inv-instructor", "inv-instructor2"],
        },
    ),
    ("PATCH", "/api/v1/groups/{id}/"): Write(
        Role.COORDINATOR,
        lambda t: f"/api/v1/groups/{t.group.pk}/",
        lambda t: {
            "name": "Tuesday afternoon group",
            "capacity": 12,
            "enrolment_closed": False,
            "instructors": ["inv-instructor", "inv-instructor2"],
            "reason": "Renamed",
        },
    ),
    ("POST", "/api/v1/groups/{id}/members/"): Write(
        Role.COORDINATOR,
        lambda t: f"/api/v1/groups/{t.group.pk}/members/",
        lambda t: {"participant": t.candidate.pk},
    ),
    ("DELETE", "/api/v1/groups/{id}/members/{participant_id}/"): Write(
        Role.COORDINATOR,
        lambda t: f"/api/v1/groups/{t.empty_group.pk}/members/{t.removable.pk}/",
        lambda t: {"reason": "Placed in the wrong group"},
    ),
    ("POST", "/api/v1/groups/{id}/sessions/"): Write(
        Role.INSTRUCTOR,
        lambda t: f"/api/v1/groups/{t.group.pk}/sessions/",
        lambda t: {"date": day(t, 14), "module": 3, "instructors_present": ["inv-instructor"]},
    ),
    ("POST", "/api/v1/groups/{id}/schedule/"): Write(
        Role.COORDINATOR,
        lambda t: f"/api/v1/groups/{t.empty_group.pk}/schedule/",
        lambda t: {"first_date": day(t, 14), "weeks": 4, "replace": False},
    ),
    ("PATCH", "/api/v1/sessions/{id}/"): Write(
        Role.INSTRUCTOR,
        lambda t: f"/api/v1/sessions/{t.planned.pk}/",
        lambda t: {"date": day(t, 8), "module": 4, "reason": "Moved"},
    ),
    ("POST", "/api/v1/sessions/{id}/cancel/"): Write(
        Role.INSTRUCTOR,
        lambda t: f"/api/v1/sessions/{t.planned.pk}/cancel/",
        lambda t: {"reason": "Holiday"},
    ),
    ("PUT", "/api/v1/sessions/{id}/attendance/"): Write(
        Role.INSTRUCTOR,
        lambda t: f"/api/v1/sessions/{t.held.pk}/attendance/",
        lambda t: {
            "present": [],
            "reason": "Marked by mistake",
            "version": t.held.attendance_version,
            "instructors_present": ["inv-instructor"],
        },
    ),
    ("POST", "/api/v1/fidelity-ratings/"): Write(
        "rater2",
        lambda t: "/api/v1/fidelity-ratings/",
        lambda t: {
            "group": t.group.pk,
            "timepoint": "midway",
            "rater_kind": "rater2",
            "items": ITEMS,
            "rated_on": day(t),
            "notes": "",
        },
    ),
    ("PATCH", "/api/v1/fidelity-ratings/{id}/"): Write(
        Role.FIDELITY_RATER,
        lambda t: f"/api/v1/fidelity-ratings/{t.rating.pk}/",
        lambda t: {"items": ITEMS, "rated_on": day(t), "notes": "Typo", "reason": "Typo"},
    ),
    ("POST", "/api/v1/locks/"): Write(
        Role.DATA_MANAGER,
        lambda t: "/api/v1/locks/",
        lambda t: {"level": "freeze", "reason": "Interim analysis", "override_open_queries": False},
    ),
    # Nothing is frozen in the world, so a valid unlock is a conflict (409).
    ("POST", "/api/v1/locks/unlock/"): Write(
        Role.DATA_MANAGER,
        lambda t: "/api/v1/locks/unlock/",
        lambda t: {"reason": "Analysis plan changed", "to": "open"},
        valid=(409,),
    ),
    ("POST", "/api/v1/exports/"): Write(
        Role.DATA_MANAGER,
        lambda t: "/api/v1/exports/",
        lambda t: {"formats": ["csv"], "blinded": True},
    ),
    # The world's visits are not complete and nothing is locked: valid requests are 409s,
    # told before any credential is checked.
    ("POST", f"{P}/{{id}}/signatures/"): Write(
        Role.INVESTIGATOR,
        lambda t: f"{P}/{t.rated.pk}/signatures/",
        lambda t: {"timepoint": "baseline", "meaning": "reviewed_approved", "password": PASSWORD},
        valid=(409,),
    ),
    ("POST", "/api/v1/locks/signatures/"): Write(
        Role.DATA_MANAGER,
        lambda t: "/api/v1/locks/signatures/",
        lambda t: {"password": PASSWORD, "otp": "123456"},
        valid=(409,),
    ),
    ("POST", "/api/v1/exports/masking-key/"): Write(
        Role.STATISTICIAN,
        lambda t: "/api/v1/exports/masking-key/",
        lambda t: {"password": PASSWORD, "otp": "123456"},
        valid=(409,),
    ),
}

# The refusals API.md names for bad input; never a 5xx.
REFUSALS = (400, 401, 403, 404, 409)


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return SchemaGenerator().get_schema(request=None, public=True)


def schema_writes(schema: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): operation
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if method in ("post", "put", "patch", "delete")
    }


def test_every_write_endpoint_of_the_schema_is_probed(schema: dict[str, Any]) -> None:
    found = set(schema_writes(schema))
    assert found - set(WRITES) == set(), "add these to WRITES"
    assert set(WRITES) - found == set(), "these are no longer in the schema"


def send(client: APIClient, method: str, url: str, probe: Probe) -> Any:
    if probe.query:
        url = f"{url}?{probe.query}"
    # The stubs type the body as text; Django sends bytes as they are (some probes are not
    # UTF-8, on purpose).
    return client.generic(method, url, probe.body, content_type=probe.content_type)  # type: ignore[arg-type]


def client_for(trial: Trial, write: Write) -> APIClient:
    client = APIClient() if write.role is None else api_client(trial.user(write.role))
    client.raise_request_exception = False
    return client


def probes_for(
    schema: dict[str, Any], operation: dict[str, Any], write: Write, good: Any
) -> list[Probe]:
    if write.content_type != JSON:
        found: list[Probe] = []  # files: tests/invariants/test_uploads.py
    else:
        content = operation.get("requestBody", {}).get("content", {})
        body_schema = content.get(JSON, {}).get("schema")
        found = list(body_probes(schema, body_schema, good))
        if not write.reads_body:
            found = [Probe(p.label, p.body, False, p.query, p.content_type) for p in found]
    raw = good if isinstance(good, bytes) else encode(good)
    found += query_probes(operation.get("parameters", []), raw, write.content_type)
    return found


@pytest.mark.parametrize("key", sorted(WRITES), ids=lambda k: f"{k[0]} {k[1]}")
def test_bad_input_gets_a_clear_refusal_and_writes_nothing(
    key: tuple[str, str], trial: Trial, schema: dict[str, Any], db: None
) -> None:
    method, _ = key
    write = WRITES[key]
    operation = schema_writes(schema)[key]
    client = client_for(trial, write)
    url = write.path(trial)
    good = write.body(trial)
    raw = good if isinstance(good, bytes) else encode(good)

    with rolled_back():
        answer = send(client, method, url, Probe("valid", raw, content_type=write.content_type))
        assert answer.status_code in write.valid, (answer.status_code, answer.content[:500])

    problems: list[str] = []
    before = row_counts()  # every probe is rolled back, so this holds for each
    for probe in probes_for(schema, operation, write, good):
        with rolled_back():
            answer = send(client, method, url, probe)
            status = answer.status_code
            if status >= 500:
                exc = getattr(answer, "exc_info", None)
                problems.append(f"{probe.label}: {status} {exc[1] if exc else ''!r}")
                continue
            changed = changed_tables(before, row_counts())
        if status < 400:
            if probe.must_refuse:
                problems.append(f"{probe.label}: accepted ({status})")
            continue
        if status not in REFUSALS:
            problems.append(f"{probe.label}: {status}, not one of API.md's statuses")
        try:
            data = json.loads(answer.content)
        except ValueError:
            data = None
        if not is_error_body(data):
            problems.append(f"{probe.label}: {status} with the body {answer.content[:200]!r}")
        if changed:
            problems.append(f"{probe.label}: refused ({status}) but wrote {changed}")
    assert not problems, f"{method} {url}:\n" + "\n".join(problems)
