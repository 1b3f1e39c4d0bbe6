"""A careful user's walk through the whole application, as every role of DESIGN.md and as a
person who is both coordinator and assessor at one site (blinded wins).

The trial is the demo trial (`manage.py demo_data`, demo/): thirty participants at the
three sites in every status, forms, queries, an IMR group per site with attendance, fidelity
ratings, an unblinding report, all made through the real services. It is built once for this
module (it takes a while) inside a transaction that is rolled back at the end; each test runs
in a savepoint of it, and each role's walk is made once.

Each role logs in and follows, breadth first, every same-origin GET link (`href`, `hx-get`)
from the home page (the menu is on it) and from the pages it finds, a few of each kind: one URL
per route and kind of object (a participant's status, a timepoint, an instrument), at most
PER_ROUTE per route. Then the API's endpoints without parameters, and the API links in their
answers. For every answer:
- never a server error;
- a link that a page offers answers 200 (or redirects to a page): a page never offers what
  the role may not open;
- the pages of the other roles' menus answer 403 or 404 (404 when they exist only for the IMR
  arm and the user is blinded);
- a user who works at one site meets no participant of another, and gets 404 for one;
- no page shows a choice's code where its label belongs ("lost_to_follow_up", "data_manager");
- for blinded users (assessor, data manager, monitor, admin, and anyone who also holds one of
  those roles), no answer holds anything that reveals an allocation: an arm, a randomisation
  code, an IMR group's name or notes, a link into the IMR pages, attendance, exposure or
  fidelity; the IMR delivery pages and endpoints answer them 404. Every URL the statistician
  (who sees every arm) reached is tried by them too. The assessors' blinding guesses are set
  aside: the guess form offers both arms, and a guess is not an arm
  (tests/randomization/test_assessor_blinding.py proves that no page differs by arm).
"""

from __future__ import annotations

import html
import json
import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from io import StringIO
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import transaction
from django.test.utils import override_settings
from django.urls import Resolver404, resolve, reverse

from participants.models import Participant
from randomization.models import Allocation
from tests.conftest import TrialClient
from tests.factories import make_staff
from tests.randomization.test_assessor_blinding import routes
from trial import navigation
from trial.access import may_see_allocation
from trial.roles import BLINDED_ROLES, SITE_SCOPED_ROLES, Role

# The demo trial takes a while to build: once per module, so all cases on one xdist worker.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("role_walk")]

# How far a walk goes: a few URLs of each route.
PER_ROUTE = 4
PER_WALK = 400

ROLE_SETS: dict[str, tuple[str, ...]] = {
    "coordinator": (Role.COORDINATOR,),
    "assessor": (Role.ASSESSOR,),
    "clinician": (Role.CLINICIAN,),
    "instructor": (Role.INSTRUCTOR,),
    "fidelity_rater": (Role.FIDELITY_RATER,),
    "data_manager": (Role.DATA_MANAGER,),
    "statistician": (Role.STATISTICIAN,),
    "monitor": (Role.MONITOR,),
    "investigator": (Role.INVESTIGATOR,),
    "admin": (Role.ADMIN,),
    "coordinator+assessor": (Role.COORDINATOR, Role.ASSESSOR),
}
BLINDED = [
    name for name, roles in ROLE_SETS.items() if set(roles) & BLINDED_ROLES or Role.ADMIN in roles
]
# The demo users work at every site; the combination works at Ballerup only.
COMBINATION_SITE = "BAL"

# Not pages to read: logging out (POST), static files, the API's own documentation (no trial
# data, slow to build).
SKIPPED = ("/static/", "/accounts/logout/", "/admin/logout/", "/api/v1/docs/", "/api/v1/schema/")
LINK = re.compile(r'\b(?:href|hx-get)="([^"]*)"')
START = "(start)"


@dataclass
class Answer:
    url: str
    status: int
    found_on: str
    route: str
    body: str = ""
    location: str = ""


@dataclass
class Trial:
    users: dict[str, Any]
    arm_codes: list[str]
    group_names: list[str]
    imr_texts: list[str]  # what instructors and raters wrote about the groups
    status_of: dict[int, str]  # participant id -> status
    site_of: dict[int, str]  # participant id -> site code
    walks: dict[str, dict[str, Answer]] = field(default_factory=dict)


@pytest.fixture(scope="module")
def demo_trial(django_db_setup: Any, django_db_blocker: Any) -> Iterator[Trial]:
    from fidelity.models import FidelityRating, GroupSession, ImrGroup

    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            # demo_data runs on development machines only; the demo users' password hashing
            # (Argon2) is not what this test is about.
            fast = ["django.contrib.auth.hashers.MD5PasswordHasher"]
            with override_settings(DEBUG=True, PASSWORD_HASHERS=fast):
                call_command("setup_trial", stdout=StringIO())
                out = StringIO()
                call_command("demo_data", stdout=out)
            # demo_data builds its trial only in an empty database: a fixture of another
            # package still open here would leave this walk with nothing to walk.
            assert "Demo trial created" in out.getvalue(), out.getvalue()
            users = {
                name: get_user_model().objects.get(username="demo-" + roles[0].replace("_", "-"))
                for name, roles in ROLE_SETS.items()
                if len(roles) == 1
            }
            users["coordinator+assessor"] = make_staff(
                "walk-coordinator-assessor", *ROLE_SETS["coordinator+assessor"],
                sites=[COMBINATION_SITE],
            )  # fmt: skip
            imr_texts = [
                *FidelityRating.objects.exclude(notes="").values_list("notes", flat=True),
                *GroupSession.objects.exclude(cancel_reason="").values_list(
                    "cancel_reason", flat=True
                ),
            ]
            yield Trial(
                users=users,
                arm_codes=list(Allocation.objects.values_list("randomization_code", flat=True)),
                group_names=list(ImrGroup.objects.values_list("name", flat=True)),
                imr_texts=imr_texts,
                status_of=dict(Participant.objects.values_list("pk", "status")),
                site_of=dict(Participant.objects.values_list("pk", "site__code")),
            )
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


# --- walking ----------------------------------------------------------------------------------


def page_links(body: str, base: str) -> list[str]:
    links = []
    for raw in LINK.findall(body):
        url = urljoin("http://testserver" + base, html.unescape(raw).strip())
        if url.startswith("http://testserver/"):
            links.append(url.removeprefix("http://testserver").split("#", 1)[0])
    return links


def api_links(body: str) -> list[str]:
    """API URLs in a JSON answer (`next` of a page, `url` fields)."""
    try:
        data = json.loads(body)
    except ValueError:
        return []
    found: list[str] = []

    def visit(value: Any) -> None:
        if isinstance(value, dict):
            for item in value.values():
                visit(item)
        elif isinstance(value, list):
            for item in value[:20]:
                visit(item)
        elif isinstance(value, str):
            url = value.removeprefix("http://testserver")
            if url.startswith("/api/v1/"):
                found.append(url)

    visit(data)
    return found


def route_of(url: str) -> str | None:
    try:
        return resolve(urlsplit(url).path).route
    except Resolver404:
        return None


def kind_of(url: str, trial: Trial) -> tuple[Any, ...]:
    """What kind of page a URL is: its route, the values of its parameters that are not ids,
    for a participant's page the participant's status, and the names of its query
    parameters."""
    parts = urlsplit(url)
    match = resolve(parts.path)
    kind: list[Any] = [match.route]
    for name, value in sorted(match.kwargs.items()):
        if name == "pk" and "participants/" in match.route:
            kind.append(trial.status_of.get(int(value)))
        elif name != "pk" and not name.endswith("_id"):
            kind.append(str(value))
    kind.append(tuple(sorted(name for name, _ in parse_qsl(parts.query))))
    return tuple(kind)


def walk(
    client: TrialClient, starts: list[str], trial: Trial, *, follow: bool = True
) -> dict[str, Answer]:
    answers: dict[str, Answer] = {}
    seen_kinds: set[tuple[Any, ...]] = set()
    per_route: dict[str, int] = {}
    queue: deque[tuple[str, str]] = deque((url, START) for url in starts)
    queued = set(starts)
    while queue and len(answers) < PER_WALK:
        url, found_on = queue.popleft()
        response = client.get(url)
        body = "" if response.streaming else response.content.decode(errors="replace")
        location = response.get("Location", "")
        answer = Answer(url, response.status_code, found_on, route_of(url) or "", body, location)
        answers[url] = answer
        content_type = response.get("Content-Type", "")
        if not follow:
            continue
        if answer.status in (301, 302):
            links = [answer.location] if answer.location.startswith("/") else []
        elif answer.status == 200 and "html" in content_type:
            links = page_links(body, url)
        elif answer.status == 200 and "json" in content_type:
            links = api_links(body)
        else:
            links = []
        for link in links:
            if link in queued or link.startswith(SKIPPED):
                continue
            if route_of(link) is not None:
                kind = kind_of(link, trial)
                if kind in seen_kinds or per_route.get(kind[0], 0) >= PER_ROUTE:
                    continue
                seen_kinds.add(kind)
                per_route[kind[0]] = per_route.get(kind[0], 0) + 1
            queued.add(link)  # (a link to nothing is followed: it answers 404, a defect)
            queue.append((link, url))
    return answers


def logged_in(user: Any) -> TrialClient:
    client = TrialClient()
    client.force_login(user)  # with the second factor for the roles that need one
    return client


def api_endpoints() -> list[str]:
    """The API's endpoints without parameters: the lists and the fixed endpoints."""
    return sorted(
        route
        for route, _pattern in routes()
        if route.startswith("/api/v1/") and "<" not in route and not route.startswith(SKIPPED)
    )


def walk_as(name: str, trial: Trial) -> dict[str, Answer]:
    """The role's walk through the pages and the API (made once per module)."""
    if name not in trial.walks:
        client = logged_in(trial.users[name])
        trial.walks[name] = walk(client, ["/"], trial) | walk(client, api_endpoints(), trial)
    return trial.walks[name]


# --- what a page must not show ------------------------------------------------------------------


def visible_text(body: str) -> str:
    """What a person reads on a page: no markup, scripts or the options of a select."""
    body = re.sub(r"(?s)<script.*?</script>|<select.*?</select>|<head>.*?</head>", " ", body)
    return html.unescape(re.sub(r"<[^>]*>", " ", body))


def choice_codes() -> set[str]:
    """The stored codes of every choice in the models, and the roles, where a code is not
    also a plain word ("lost_to_follow_up", "data_manager", "not_answered")."""
    codes = {role.value for role in Role}
    for model in apps.get_models():
        for model_field in model._meta.get_fields():
            for value, _label in getattr(model_field, "flatchoices", None) or ():
                codes.add(str(value))
    return {code for code in codes if "_" in code}


def codes_shown(answer: Answer, codes: set[str]) -> list[str]:
    if answer.status != 200 or not answer.body.lstrip().lower().startswith("<!doctype"):
        return []
    words = set(re.findall(r"\b[a-z0-9]+(?:_[a-z0-9]+)+\b", visible_text(answer.body)))
    return sorted(words & codes)


GUESS_FORM = re.compile(r'(?s)<section class="panel blinding-guess".*?</section>')
GUESS_SHOWN = re.compile(
    r"(?s)((?:Blinding guess|<td>Guess</td>)(?:(?!</li>|</tr>).){0,200}?)"
    r"(?:IMR \+ treatment as usual|Treatment as usual)"
)
GUESS_CHOICES = re.compile(r'IMR \+ treatment as usual|Treatment as usual|value="(?:IMR|TAU)"')
REVEALING = (
    (re.compile(r"IMR \+ treatment as usual|Treatment as usual|\bTAU\b"), "an arm"),
    (re.compile(r"\bIMR arm\b|<dt>Arm</dt>|\"arm\":\s*\""), "an arm"),
    (re.compile(r'href="/imr/'), "a link to the IMR pages"),
    (re.compile(r"(?i)\battendance\b|\battended\b"), "attendance"),
    (re.compile(r"(?i)\bexposure\b"), "exposure"),
    (re.compile(r"(?i)\bfidelity\b(?![ _-]rater)"), "fidelity"),  # (the role is no secret)
)


def without_blinding_guesses(answer: Answer) -> str:
    body = GUESS_SHOWN.sub(r"\1", GUESS_FORM.sub("", answer.body))
    if "blinding-guess" in answer.route:  # the page of the assessor's own guess
        body = GUESS_CHOICES.sub("", re.sub(r'"guess":\s*"\w+"', "", body))
    return body


def leaks(answer: Answer, trial: Trial) -> list[str]:
    """What in an answer reveals an allocation (nothing: an empty list)."""
    body = without_blinding_guesses(answer)
    found = [f"the randomisation code {c}" for c in trial.arm_codes if re.search(rf"\b{c}\b", body)]
    found += [f"the group {name!r}" for name in trial.group_names if name in body]
    found += [f"IMR delivery notes {text!r}" for text in trial.imr_texts if text in body]
    for pattern, what in REVEALING:
        hit = pattern.search(body)
        if hit:
            found.append(f"{what}: …{body[max(hit.start() - 60, 0) : hit.end() + 60]!r}…")
    return found


# --- what each role may open ------------------------------------------------------------------


def other_menus(user: Any) -> list[tuple[navigation.Entry, str]]:
    """The menu pages of the other roles, which this user is not offered (the admin site sends
    everyone else to log in as an administrator)."""
    mine = {item["url"] for item in navigation.menu_for(user)}
    pages = [(entry, reverse(entry.url_name)) for entry in navigation.ENTRIES]
    return [(entry, url) for entry, url in pages if url not in mine and url != "/admin/"]


def refusals_for(user: Any, entry: navigation.Entry) -> set[int]:
    if entry.unblinded_only and not may_see_allocation(user):
        return {404}
    return {403, 404}


def is_imr_delivery(route: str) -> bool:
    """A page or endpoint of the IMR delivery app (groups, sessions, attendance, exposure,
    fidelity): blinded users get 404 from every one, as for something that does not exist."""
    from fidelity import urls

    api_routes = {"api/v1/" + str(pattern.pattern) for pattern in urls.api_urlpatterns}
    return route.startswith("imr/") or route in api_routes


def participant_ids(answers: dict[str, Answer]) -> set[int]:
    found = set()
    for answer in answers.values():
        match = resolve(urlsplit(answer.url).path) if answer.route else None
        if match and "participants/" in answer.route and "pk" in match.kwargs:
            found.add(int(match.kwargs["pk"]))
    return found


# --- the tests ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(ROLE_SETS))
def test_a_role_walks_every_page_it_is_offered_without_an_error_or_a_refusal(
    name: str, demo_trial: Trial, db: None
) -> None:
    trial = demo_trial
    user = trial.users[name]
    answers = walk_as(name, trial)
    problems = []
    codes = choice_codes()
    for answer in answers.values():
        if answer.status >= 500:
            problems.append(f"{answer.status} at {answer.url} (from {answer.found_on})")
        elif answer.found_on != START and answer.status not in (200, 301, 302):
            problems.append(f"{answer.found_on} offers {answer.url}, which answers {answer.status}")
        elif answer.found_on == START and answer.status not in (200, 400, 403, 404, 405, 409):
            # Every API endpoint is tried whatever the role: 403 and 404 refuse, 405 is a
            # POST-only endpoint, 409 needs the lock, 400 needs a parameter (?site=).
            problems.append(f"{answer.url} answers {answer.status}")
        for code in codes_shown(answer, codes):
            problems.append(f"{answer.url} shows the code {code!r} instead of its label")
    pages = [a for a in answers.values() if a.status == 200 and not a.url.startswith("/api/")]
    assert len(pages) >= 5, f"{name} reached hardly any page: {sorted(answers)}"

    client = logged_in(user)
    for entry, url in other_menus(user):
        status = client.get(url).status_code
        if status not in refusals_for(user, entry):
            expected = sorted(refusals_for(user, entry))
            problems.append(f"{url} ({entry.label}) answers {status}, not {expected}")

    held = {role for role in ROLE_SETS[name] if role in SITE_SCOPED_ROLES}
    if held and user.username.startswith("walk-"):
        reached = {trial.site_of[pk] for pk in participant_ids(answers) if pk in trial.site_of}
        assert reached == {COMBINATION_SITE}, f"{name} reached participants at {reached}"
        elsewhere = next(pk for pk, site in trial.site_of.items() if site != COMBINATION_SITE)
        for url in (f"/participants/{elsewhere}/", f"/api/v1/participants/{elsewhere}/"):
            if client.get(url).status_code != 404:
                problems.append(f"{url} (another site's participant) does not answer 404")
    assert not problems, f"{name}:\n" + "\n".join(problems)


@pytest.mark.parametrize("name", BLINDED)
def test_a_blinded_user_meets_no_arm_anywhere(name: str, demo_trial: Trial, db: None) -> None:
    trial = demo_trial
    user = trial.users[name]
    assert not may_see_allocation(user)
    own = walk_as(name, trial)
    unblinded = walk_as("statistician", trial)
    # What the statistician reads does show arms: the search below finds them.
    assert any(leaks(answer, trial) for answer in unblinded.values())
    tried = walk(logged_in(user), [url for url in unblinded if url not in own], trial, follow=False)
    problems = []
    for answer in [*own.values(), *tried.values()]:
        if answer.status >= 500:
            problems.append(f"{answer.status} at {answer.url}")
        if is_imr_delivery(answer.route) and answer.status != 404:
            problems.append(f"{answer.url} (IMR delivery) answers {answer.status}, not 404")
        problems += [
            f"{answer.url} ({answer.status}) shows {leak}" for leak in leaks(answer, trial)
        ]
    assert not problems, f"{name}:\n" + "\n".join(problems)
