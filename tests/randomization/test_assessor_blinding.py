"""For every page and endpoint a blinded user can reach, the answer for an IMR participant and
for a TAU participant is the same apart from identifiers and times.

The routes are not listed here: the test walks the project's URL configuration, so pages and
endpoints that other apps add later are covered without editing it. It GETs
- every route without parameters (lists, home, menus: "list pages"), and
- every route that takes a participant id (the parameter right after `participants/`), with
  each plausible value of its other parameters (timepoints, instrument codes),
and every route whose parameters are the ids of the world's queries,
as an assessor, a data manager and a monitor, in two worlds built the same way except that the
two participants' arms are swapped:
1. world A must answer byte for byte as world B (after blanking times and CSRF tokens): no
   page or count anywhere depends on which participant got which arm;
2. within a world, the IMR participant's pages equal the TAU participant's after identifiers
   (database ids, study ids) are blanked as well.

Apps can make the worlds richer (e.g. group membership and attendance for the IMR arm) by
providing `tests/<app>/blinding_scenario.py` with `arm_specific_data(participant, arm)`."""

from __future__ import annotations

import importlib
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from io import BytesIO, StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test import Client
from django.test.utils import override_settings
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RoutePattern
from django.utils import timezone
from pypdf import PdfReader

from assessments.models import Query, Timepoint
from participants import services as participant_services
from participants.models import Participant
from randomization.models import BlindingGuess, UnblindingIncident
from tests.conftest import FAST_HASHERS
from tests.factories import ELIGIBLE_ANSWERS, allocate, complete_baseline, make_staff, page_client
from trial.roles import Role

# The worlds take minutes to build and visit: once per module, so all cases on one xdist worker.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("assessor_blinding")]

# The apps that may add arm-specific data to the scenario (tests/<app>/blinding_scenario.py).
APPS = ("participants", "randomization", "assessments", "fidelity", "exports")

# Instrument codes of tests/instruments/data/instruments.json (the instruments app's registry).
INSTRUMENTS = (
    "GAF",
    "PSP",
    "PANSS",
    "HAMD6",
    "YMRS",
    "IMRS_P",
    "IMRS_C",
    "MHRM",
    "SHS",
    "CSQ8",
    "SERVICE_USE",
    "DEMOG",
    "ELIG",
)
CANDIDATES: dict[str, tuple[str, ...]] = {
    "timepoint": tuple(Timepoint.values),
    "instrument": INSTRUMENTS,
    "code": INSTRUMENTS,
}
PARTICIPANT_PARAMETER = re.compile(r"participants/<(?:int:)?(\w+)>")
PARAMETER = re.compile(r"<(?:(\w+):)?(\w+)>")
# The other objects whose pages are visited: the queries (on the two participants' forms).
OBJECT_PARAMETER = "query_id"
# Static documentation of the API: no data in it, and slow to build.
SKIPPED_NAMES = {"schema", "api-docs"}

BLINDED = {
    "assessor": (Role.ASSESSOR,),
    "data_manager": (Role.DATA_MANAGER,),
    "monitor": (Role.MONITOR,),
}


def routes() -> Iterator[tuple[str, URLPattern]]:
    def walk(patterns: list[Any], prefix: str) -> Iterator[tuple[str, URLPattern]]:
        for entry in patterns:
            if not isinstance(entry.pattern, RoutePattern):
                continue  # regex routes: only the admin's, which needs is_staff
            route = prefix + str(entry.pattern)
            if isinstance(entry, URLResolver):
                yield from walk(entry.url_patterns, route)
            else:
                yield route, entry

    yield from walk(get_resolver().url_patterns, "/")


def fill(route: str, values: dict[str, str]) -> str:
    return PARAMETER.sub(lambda m: values[m.group(2)], route)


def requests_to_make(
    labels: dict[str, int], objects: dict[str, list[str]] | None = None
) -> list[tuple[str, str | None, str]]:
    """(route, participant label or None, url) for every GET the blinded users make.
    `objects` gives the ids of the world's other objects by parameter name (e.g. the queries'
    `query_id`): routes whose parameters are all among them are visited for each."""
    planned: list[tuple[str, str | None, str]] = []
    objects = objects or {}
    for route, pattern in routes():
        if pattern.name in SKIPPED_NAMES:
            continue
        names = [m.group(2) for m in PARAMETER.finditer(route)]
        if not names:
            planned.append((route, None, route))
            continue
        found = PARTICIPANT_PARAMETER.search(route)
        if not found:
            if all(name in objects for name in names):
                for combination in itertools.product(*(objects[name] for name in names)):
                    values = dict(zip(names, combination, strict=True))
                    planned.append((route, None, fill(route, values)))
            continue
        others = [n for n in names if n != found.group(1)]
        choices = [CANDIDATES.get(name, ("1",)) for name in others]
        for combination in itertools.product(*choices):
            for label, pk in labels.items():
                values = dict(zip(others, combination, strict=True))
                values[found.group(1)] = str(pk)
                planned.append((route, label, fill(route, values)))
    return planned


TIME = re.compile(
    r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)?|\b\d\d:\d\d(:\d\d)?\b"
)
CSRF = re.compile(r'(csrfmiddlewaretoken" value="|"X-CSRFToken": ")[^"]+')
IDENTIFIER = re.compile(r"\b[1-9]\d{5,}\b")  # every database id in these worlds is >= 100000


def blank_times(text: str) -> str:
    return CSRF.sub(r"\1<CSRF>", TIME.sub("<TIME>", text))


def blank_identifiers(text: str, study_ids: list[str]) -> str:
    for study_id in study_ids:
        text = text.replace(study_id, "<STUDY-ID>")
    return IDENTIFIER.sub("<ID>", text)


def reset_sequences() -> None:
    """Every table's ids start at the same, distinctive values in both worlds."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT schemaname || '.' || sequencename FROM pg_sequences "
            "WHERE schemaname = 'public' ORDER BY sequencename"
        )
        for index, (name,) in enumerate(cursor.fetchall()):
            cursor.execute("SELECT setval(%s, %s, false)", [name, 100_000 + 10_000 * index])


def scenario_hooks() -> list[Any]:
    hooks = []
    for app in APPS:
        try:
            module = importlib.import_module(f"tests.{app}.blinding_scenario")
        except ModuleNotFoundError:
            continue
        hooks.append(module.arm_specific_data)
    return hooks


def build_world(arms: tuple[str, str], coordinator: Any, assessor: Any) -> list[Participant]:
    participants = []
    for serial, arm in zip(("1001", "1002"), arms, strict=True):
        # Same birth date and sex: only the serial differs (and it is never shown).
        participant = participant_services.participant_register(
            user=coordinator, site_code="BAL", cpr=f"010170-{serial}", sex="female"
        )
        participant_services.participant_screen(
            user=coordinator, participant=participant, answers=dict(ELIGIBLE_ANSWERS)
        )
        participant_services.participant_record_consent(
            user=coordinator, participant=participant, consent_date=timezone.localdate()
        )
        complete_baseline(participant, user=assessor)
        allocate(participant, arm, user=coordinator)
        BlindingGuess.objects.create(
            participant=participant,
            timepoint="post",
            assessor=assessor,
            guess="dont_know",
            recorded_at=timezone.now(),
        )
        for hook in scenario_hooks():
            hook(participant, arm)
        participants.append(participant)
    UnblindingIncident.objects.create(
        person=assessor,
        learned_on=date(2012, 1, 1),
        how="overheard",
        description="Heard something in the waiting room",
        reported_by=assessor,
    )
    return participants


def pdf_contents(content: bytes) -> str:
    """What a reader of a PDF gets: its document information (title, author, dates...) and
    the text of every page. The bytes themselves cannot be compared once times are blanked:
    the page streams are compressed, and the file's /ID is a digest of the whole file."""
    reader = PdfReader(BytesIO(content))
    info = sorted((str(k), str(v)) for k, v in (reader.metadata or {}).items())
    pages = [page.extract_text() for page in reader.pages]
    return "\n".join([repr(info), f"{len(pages)} pages", *pages])


def answer(client: Client, url: str) -> tuple[int, str, str, str]:
    response = client.get(url)
    if not hasattr(response, "content"):
        body = ""
    elif response.get("Content-Type", "") == "application/pdf" and response.status_code == 200:
        body = pdf_contents(response.content)
    else:
        body = response.content.decode(errors="replace")
    return (
        response.status_code,
        response.get("Content-Type", ""),
        response.get("Location", ""),
        blank_times(body),
    )


Seen = tuple[int, str, str, str]  # status, content type, location, body (times blanked)
Key = tuple[str, str, str | None, str]  # role, route, participant label, url


def visit_world(
    arms: tuple[str, str], users: dict[str, Any], coordinator: Any
) -> tuple[dict[Key, Seen], list[str], list[str]]:
    with transaction.atomic():
        reset_sequences()
        participants = build_world(arms, coordinator, users["assessor"])
        labels = {"first": participants[0].pk, "second": participants[1].pk}
        # The queries on the two participants' forms (tests/assessments/blinding_scenario.py).
        queries = [str(pk) for pk in Query.objects.order_by("pk").values_list("pk", flat=True)]
        planned = requests_to_make(labels, {OBJECT_PARAMETER: queries})
        answers = {}
        for role, user in users.items():
            client = page_client(user)
            for route, label, url in planned:
                answers[(role, route, label, url)] = answer(client, url)
        transaction.set_rollback(True)
    return answers, [p.study_id for p in participants], [route for route, _, _ in planned]


@dataclass(frozen=True)
class Worlds:
    """What the blinded users saw in the two worlds (A: first participant IMR, B: swapped)."""

    a: dict[Key, Seen]
    b: dict[Key, Seen]
    study_ids: list[str]
    covered: list[str]


@pytest.fixture(scope="module")
def worlds(django_db_setup: Any, django_db_blocker: Any) -> Worlds:
    """Both worlds, built and visited once for the module (the visits are most of the time),
    in a transaction rolled back before the cases compare what was seen."""
    with (
        django_db_blocker.unblock(),
        override_settings(PASSWORD_HASHERS=FAST_HASHERS),
        transaction.atomic(),
    ):
        call_command("setup_trial", stdout=StringIO())
        coordinator = make_staff("coordinator", Role.COORDINATOR, sites=["BAL"])
        users = {name: make_staff(name, *roles, sites=["BAL"]) for name, roles in BLINDED.items()}
        world_a, study_ids, covered = visit_world(("IMR", "TAU"), users, coordinator)
        world_b, study_ids_b, _ = visit_world(("TAU", "IMR"), users, coordinator)
        transaction.set_rollback(True)
    assert study_ids == study_ids_b
    return Worlds(world_a, world_b, study_ids, covered)


def visited_routes() -> list[str]:
    """The routes `requests_to_make` visits, known before any world exists (one test case
    each per role): those without parameters, those of a participant, those of a query."""
    found = set()
    for route, pattern in routes():
        names = [m.group(2) for m in PARAMETER.finditer(route)]
        if pattern.name in SKIPPED_NAMES:
            continue
        if not names or PARTICIPANT_PARAMETER.search(route) or set(names) == {OBJECT_PARAMETER}:
            found.add(route)
    return sorted(found)


def test_the_worlds_cover_the_participant_pages_and_the_queries(worlds: Worlds) -> None:
    assert set(worlds.covered) == set(visited_routes())
    for expected in (
        "/participants/<int:pk>/",
        "/api/v1/participants/<int:pk>/",
        "/api/v1/participants/",
        "/randomisation/participants/<int:pk>/blinding-guess/<str:timepoint>/",
        "/api/v1/participants/<int:pk>/randomize/",
        "/randomisation/incidents/",
        "/assessments/queries/<int:query_id>/",
        "/api/v1/queries/<int:query_id>/",
    ):
        assert expected in worlds.covered, expected
    overviews = [
        seen
        for (role, route, _label, _url), seen in worlds.a.items()
        if route == "/participants/<int:pk>/" and role == "assessor"
    ]
    assert [seen[0] for seen in overviews] == [200, 200]
    # ... and the data manager really reads the queries on both participants' forms.
    query_pages = [
        seen[0]
        for (role, route, _label, _url), seen in worlds.a.items()
        if route == "/assessments/queries/<int:query_id>/" and role == "data_manager"
    ]
    assert query_pages and set(query_pages) == {200}
    assert worlds.a.keys() == worlds.b.keys()


@pytest.mark.parametrize("role", list(BLINDED))
@pytest.mark.parametrize("route", visited_routes())
def test_a_blinded_user_gets_the_same_answer_whichever_arm_a_participant_is_in(
    route: str, role: str, worlds: Worlds
) -> None:
    mine = {key: seen for key, seen in worlds.a.items() if key[:2] == (role, route)}
    assert mine, f"{route} was not visited"
    # 1. Swapping the arms changes nothing.
    for key, seen in mine.items():
        assert seen == worlds.b.get(key), f"{key[3]} depends on the arms"
    # 2. Within a world, the IMR participant's pages equal the TAU participant's.
    for (_role, _route, label, url), seen in mine.items():
        if label != "first":
            continue
        twin = next(
            value
            for (_r, _rt, lb, u), value in mine.items()
            if lb == "second" and _same_other_parameters(route, url, u)
        )
        first = seen[:2] + tuple(blank_identifiers(part, worlds.study_ids) for part in seen[2:])
        second = twin[:2] + tuple(blank_identifiers(part, worlds.study_ids) for part in twin[2:])
        assert first == second, f"{url}: the IMR and TAU participants differ"


def _same_other_parameters(route: str, url_a: str, url_b: str) -> bool:
    """Whether two URLs of `route` differ only in the participant id."""
    found = PARTICIPANT_PARAMETER.search(route)
    assert found
    parts_a = re.fullmatch(_as_regex(route), url_a)
    parts_b = re.fullmatch(_as_regex(route), url_b)
    assert parts_a and parts_b, (route, url_a, url_b)
    name = found.group(1)
    return all(
        parts_a.group(key) == parts_b.group(key) for key in parts_a.groupdict() if key != name
    )


def _as_regex(route: str) -> str:
    out = []
    position = 0
    for match in PARAMETER.finditer(route):
        out.append(re.escape(route[position : match.start()]))
        out.append(f"(?P<{match.group(2)}>[^/]+)")
        position = match.end()
    out.append(re.escape(route[position:]))
    return "".join(out)
