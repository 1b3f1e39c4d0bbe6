"""DESIGN.md invariant 6 for the HTML pages: every page route of the URL resolver gets POSTs of
bad input from a user who may use it, and every form the pages render is sent back filled with
garbage (NUL characters, numbers and dates no field can hold, unknown choices, over-long text),
field by field for the typed fields. No answer may be a server error; garbage that no reading
makes valid must leave the database unchanged.

A new page fails `test_every_page_route_has_a_user_and_an_address` until PAGES says who uses it
and on what object."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from django.test import Client
from django.urls import Resolver404, resolve, reverse

from tests.factories import page_client
from tests.invariants.probes import NUL
from tests.invariants.routes import routes
from tests.invariants.world import Trial, changed_tables, rolled_back, row_counts
from trial.roles import Role

ANONYMOUS = "anonymous"
LOGIN = "/accounts/login/"
Args = Callable[[Trial], dict[str, Any]]
NONE: Args = lambda t: {}  # noqa: E731

# Page route name -> [(who, the route's arguments)]. "unverified" and "unenrolled" are data
# managers who gave their password but not yet a code (DEVELOPERS.md, two-factor).
PAGES: dict[str, list[tuple[str, Args]]] = {
    "home": [(Role.COORDINATOR, NONE)],
    "account": [(Role.COORDINATOR, NONE)],
    "login": [(ANONYMOUS, NONE)],
    "set_language": [(ANONYMOUS, NONE)],
    "logout": [(Role.COORDINATOR, NONE)],
    "otp_verify": [("unverified", NONE)],
    "otp_enrol": [("unenrolled", NONE)],
    "password_change": [(Role.COORDINATOR, NONE)],
    "participants:list": [(Role.COORDINATOR, NONE)],
    "participants:register": [(Role.COORDINATOR, NONE)],
    "participants:overview": [(Role.COORDINATOR, lambda t: {"pk": t.consented.pk})],
    "participants:screening": [(Role.COORDINATOR, lambda t: {"pk": t.registered.pk})],
    "participants:consent": [(Role.COORDINATOR, lambda t: {"pk": t.eligible.pk})],
    "participants:status": [(Role.COORDINATOR, lambda t: {"pk": t.tau.pk})],
    "participants:audit": [(Role.DATA_MANAGER, lambda t: {"pk": t.rated.pk})],
    "randomization:randomize": [(Role.COORDINATOR, lambda t: {"pk": t.randomizable.pk})],
    "randomization:result": [(Role.COORDINATOR, lambda t: {"pk": t.member.pk})],
    "randomization:blinding_guess": [
        (Role.ASSESSOR, lambda t: {"pk": t.tau.pk, "timepoint": "post"})
    ],
    "randomization:lists": [(Role.STATISTICIAN, NONE)],
    "randomization:generate": [(Role.STATISTICIAN, NONE)],
    "randomization:import": [(Role.STATISTICIAN, NONE)],
    "randomization:verify": [(Role.STATISTICIAN, NONE)],
    "randomization:package": [(Role.STATISTICIAN, NONE)],
    "randomization:list_csv": [
        (Role.STATISTICIAN, lambda t: {"pk": t.extras["allocation_list"].pk})
    ],
    "randomization:list_seed": [
        (Role.STATISTICIAN, lambda t: {"pk": t.extras["allocation_list"].pk})
    ],
    "randomization:log": [(Role.STATISTICIAN, NONE)],
    "randomization:blinding_index": [(Role.STATISTICIAN, NONE)],
    "randomization:methods": [(Role.STATISTICIAN, NONE)],
    "randomization:incidents": [(Role.ASSESSOR, NONE), (Role.DATA_MANAGER, NONE)],
    "assessments:worklist": [(Role.ASSESSOR, NONE)],
    "assessments:participant": [(Role.ASSESSOR, lambda t: {"pk": t.consented.pk})],
    "assessments:form": [
        (Role.ASSESSOR, lambda t: {"pk": t.consented.pk, "timepoint": "baseline", "code": "GAF"}),
        (
            Role.COORDINATOR,
            lambda t: {"pk": t.consented.pk, "timepoint": "baseline", "code": "DEMOG"},
        ),
    ],
    "assessments:verify": [
        (Role.MONITOR, lambda t: {"pk": t.rated.pk, "timepoint": "baseline", "code": "GAF"})
    ],
    "assessments:verify_fields": [
        (Role.MONITOR, lambda t: {"pk": t.rated.pk, "timepoint": "baseline", "code": "GAF"})
    ],
    "assessments:sdv": [(Role.MONITOR, NONE), (Role.DATA_MANAGER, NONE)],
    "assessments:raise_query": [
        (Role.DATA_MANAGER, lambda t: {"pk": t.rated.pk, "timepoint": "baseline", "code": "GAF"})
    ],
    "assessments:autosave": [
        (Role.ASSESSOR, lambda t: {"pk": t.consented.pk, "timepoint": "baseline", "code": "PANSS"})
    ],
    "assessments:psp_interval": [(Role.ASSESSOR, NONE)],
    "assessments:queries": [(Role.DATA_MANAGER, NONE)],
    "assessments:query": [
        (Role.ASSESSOR, lambda t: {"query_id": t.open_query.pk}),
        (Role.DATA_MANAGER, lambda t: {"query_id": t.closed_query.pk}),
    ],
    "assessments:register_import": [(Role.DATA_MANAGER, NONE)],
    "fidelity:groups": [(Role.COORDINATOR, NONE)],
    "fidelity:group_new": [(Role.COORDINATOR, NONE)],
    "fidelity:group": [(Role.COORDINATOR, lambda t: {"pk": t.group.pk})],
    "fidelity:group_edit": [(Role.COORDINATOR, lambda t: {"pk": t.group.pk})],
    "fidelity:member_add": [(Role.COORDINATOR, lambda t: {"pk": t.group.pk})],
    "fidelity:member_remove": [
        (
            Role.COORDINATOR,
            lambda t: {"pk": t.empty_group.pk, "participant_id": t.removable.pk},
        )
    ],
    "fidelity:session_add": [(Role.INSTRUCTOR, lambda t: {"pk": t.group.pk})],
    "fidelity:schedule": [(Role.COORDINATOR, lambda t: {"pk": t.empty_group.pk})],
    "fidelity:session": [(Role.INSTRUCTOR, lambda t: {"pk": t.held.pk})],
    "fidelity:session_edit": [(Role.INSTRUCTOR, lambda t: {"pk": t.planned.pk})],
    "fidelity:session_cancel": [(Role.INSTRUCTOR, lambda t: {"pk": t.planned.pk})],
    "fidelity:exposure": [(Role.STATISTICIAN, NONE)],
    "fidelity:ratings": [(Role.FIDELITY_RATER, NONE)],
    "fidelity:rating": [("rater2", lambda t: {"pk": t.group.pk, "timepoint": "midway"})],
    "exports:lock": [(Role.DATA_MANAGER, NONE)],
    "exports:list": [(Role.DATA_MANAGER, NONE)],
    "exports:job": [(Role.DATA_MANAGER, lambda t: {"pk": t.extras["export"].pk})],
    "exports:job_progress": [(Role.DATA_MANAGER, lambda t: {"pk": t.extras["export"].pk})],
    "exports:download": [
        (Role.DATA_MANAGER, lambda t: {"pk": t.extras["export"].pk, "name": "participants.csv"})
    ],
    "exports:masking_key": [(Role.STATISTICIAN, NONE)],
    "casebooks:blank": [(Role.ASSESSOR, lambda t: {"code": "GAF"})],
    "casebooks:casebook": [(Role.DATA_MANAGER, lambda t: {"pk": t.rated.pk})],
    "casebooks:visit_pdf": [(Role.ASSESSOR, lambda t: {"pk": t.rated.pk, "timepoint": "baseline"})],
    "casebooks:form_pdf": [
        (Role.ASSESSOR, lambda t: {"pk": t.rated.pk, "timepoint": "baseline", "code": "GAF"})
    ],
    "casebooks:sign": [(Role.INVESTIGATOR, lambda t: {"pk": t.rated.pk, "timepoint": "baseline"})],
    "casebooks:worklist": [(Role.INVESTIGATOR, NONE)],
    "casebooks:broken": [(Role.DATA_MANAGER, NONE)],
    "exports:data_dictionary": [(Role.DATA_MANAGER, NONE)],
    "reports:overview": [(Role.DATA_MANAGER, NONE)],
    "reports:consort": [(Role.STATISTICIAN, NONE)],
    "reports:matrix": [(Role.MONITOR, NONE)],
    "reports:tables": [(Role.DATA_MANAGER, NONE)],
    "reports:table": [(Role.DATA_MANAGER, lambda t: {"name": "baseline"})],
    "reports:table_download": [(Role.DATA_MANAGER, lambda t: {"name": "baseline", "fmt": "csv"})],
    "reports:picture": [(Role.COORDINATOR, lambda t: {"name": "consort", "fmt": "svg"})],
}
# Page routes whose POST ends the session, as it should.
ENDS_SESSION = {"logout"}
# Page routes without a form or input of their own.
NOT_PAGES = {"favicon.ico", "healthz"}


def page_routes() -> list[Any]:
    return [r for r in routes() if not r.is_api and not r.is_admin]


def test_every_page_route_has_a_user_and_an_address() -> None:
    names = {r.name or r.route for r in page_routes()}
    assert names - set(PAGES) - NOT_PAGES == set(), "add these to PAGES"
    assert set(PAGES) - names == set(), "these pages are gone"


# --- reading the forms a page renders --------------------------------------------------------


@dataclass
class Input:
    name: str
    kind: str  # text, number, date, select, radio, checkbox, textarea, hidden, file...
    value: str | None  # what the browser sends as rendered (None: nothing)
    choice: str = ""  # a valid value to fill in when empty (a radio's or an option's value)


@dataclass
class Form:
    action: str
    inputs: list[Input] = field(default_factory=list)
    buttons: list[tuple[str, str]] = field(default_factory=list)

    TYPED = ("number", "date", "datetime-local", "select", "radio", "checkbox", "email")

    def data(self, button: tuple[str, str] | None, today: str) -> dict[str, list[str]]:
        """What the browser sends, with empty fields filled as a user would (some text, today,
        1, the first choice), so that a bad value in one field is the only thing wrong."""
        values: dict[str, list[str]] = {}
        for i in self.inputs:
            if i.kind == "file":
                continue
            sent = values.setdefault(i.name, [])
            if i.value:
                sent.append(i.value)
        for i in self.inputs:
            # A select whose first option is empty is optional: it stays empty.
            if values.get(i.name) or i.kind in ("file", "checkbox", "hidden", "select"):
                continue
            filler = {"date": today, "number": "1", "radio": i.choice}
            values[i.name] = [filler.get(i.kind, "Checked with the source.")]
        if button is not None:
            values[button[0]] = [button[1]]
        return values

    @property
    def typed(self) -> dict[str, str]:
        return {i.name: i.kind for i in self.inputs if i.kind in self.TYPED}


class FormReader(HTMLParser):
    """The POST forms of a page with what a browser would send unchanged."""

    def __init__(self, page_url: str) -> None:
        super().__init__()
        self.page_url = page_url
        self.forms: list[Form] = []
        self.form: Form | None = None
        self.select: Input | None = None
        self.textarea: Input | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("method", "get").lower() == "post":
            self.form = Form(urljoin(self.page_url, a.get("action") or self.page_url))
            self.forms.append(self.form)
        if tag == "option" and self.select is not None:
            value = a.get("value", "")
            if value and not self.select.choice:
                self.select.choice = value
            if self.select.value is None or "selected" in a:
                self.select.value = value
            return
        if self.form is None or not a.get("name") or a["name"] == "csrfmiddlewaretoken":
            return
        name = a["name"]
        if tag == "input":
            kind = a.get("type", "text").lower()
            value = a.get("value", "on" if kind in ("checkbox", "radio") else "")
            if kind in ("submit", "button", "image"):
                self.form.buttons.append((name, value))
            elif kind in ("checkbox", "radio"):
                self.form.inputs.append(Input(name, kind, value if "checked" in a else None, value))
            else:
                self.form.inputs.append(Input(name, kind, value))
        elif tag == "button":
            self.form.buttons.append((name, a.get("value", "")))
        elif tag == "select":
            self.select = Input(name, "select", None)
            self.form.inputs.append(self.select)
        elif tag == "textarea":
            self.textarea = Input(name, "textarea", "")
            self.form.inputs.append(self.textarea)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.form = None
        elif tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None

    def handle_data(self, data: str) -> None:
        if self.textarea is not None:
            self.textarea.value = data.strip()


def forms_of(url: str, html: str) -> list[Form]:
    reader = FormReader("http://testserver" + url)
    reader.feed(html)
    found = []
    seen = set()
    for form in reader.forms:
        path = urlsplit(form.action).path
        try:
            match = resolve(path)
        except Resolver404:
            continue
        # One of each kind of form (a page may list the same button for every row).
        kind = (match.view_name, tuple(i.name for i in form.inputs), tuple(form.buttons))
        if kind in seen:
            continue
        seen.add(kind)
        # The menu's log-out button would end the session the rest of the page is tried in.
        if match.url_name != "logout" and not match.route.startswith(("api/", "admin/")):
            form.action = path + (
                f"?{urlsplit(form.action).query}" if urlsplit(form.action).query else ""
            )
            found.append(form)
    return found


# --- what is sent -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Post:
    label: str
    data: dict[str, Any]
    must_refuse: bool


NINES = ("40 nines", "9" * 40)
# Per kind of input, values a browser's own checks would stop but a client can send.
ODD_VALUES = {
    "number": [NINES, ("a superscript digit", "²"), ("minus one", "-1")],
    "date": [NINES, ("year 9999", "9999-12-31"), ("year 1", "0001-01-01")],
    "datetime-local": [NINES, ("year 9999", "9999-12-31T23:59")],
    "select": [NINES, ("an unknown choice", "not-a-choice")],
    "radio": [("an unknown choice", "not-a-choice")],
    "checkbox": [("an unknown choice", "not-a-choice")],
}


def garbage(form: Form, today: str) -> list[Post]:
    """Whole-form and field-by-field bad input for one form (each with every button)."""
    posts: list[Post] = []
    for number, button in enumerate(form.buttons or [None]):
        base = form.data(button, today)
        names = [n for n in base if not (button and n == button[0])]
        tag = f" [{button[0]}={button[1]}]" if button else ""

        def every(value: str, names: list[str] = names, base: dict = base) -> dict[str, Any]:
            return {**base, **{n: value for n in names}}

        posts.append(Post(f"as rendered and filled in{tag}", base, False))
        posts.append(Post(f"every field empty{tag}", every(""), False))
        posts.append(Post(f"every field a NUL character{tag}", every(NUL), bool(names)))
        posts.append(Post(f"every field 20000 characters{tag}", every("x" * 20000), False))
        # Field by field with the first button only: the others (draft / complete, freeze /
        # lock) reach the same field checks.
        for name, kind in form.typed.items() if number == 0 else ():
            if button and name == button[0]:
                continue
            for label, value in ODD_VALUES.get(kind, ODD_VALUES["select"]):
                posts.append(Post(f"{name}: {label}{tag}", {**base, name: value}, False))
    return posts


def client_for(trial: Trial, who: str) -> Client:
    if who == ANONYMOUS:
        client = Client()
    elif who in ("unverified", "unenrolled"):
        client = Client()
        client.force_login(trial.extras[who])
    else:
        client = page_client(trial.user(who))
    client.raise_request_exception = False
    return client


def crash(answer: Any) -> str:
    exc = getattr(answer, "exc_info", None)
    return f"{answer.status_code} {exc[1] if exc else ''!r}"


def cases() -> list[tuple[str, int]]:
    return [(name, i) for name in sorted(PAGES) for i in range(len(PAGES[name]))]


@pytest.mark.parametrize("name,index", cases(), ids=lambda v: str(v))
def test_bad_input_to_a_page_never_crashes_and_garbage_writes_nothing(
    name: str, index: int, trial: Trial, db: None
) -> None:
    who, args = PAGES[name][index]
    url = reverse(name, kwargs=args(trial))
    problems: list[str] = []
    before = row_counts()  # every POST below is rolled back

    def post(client: Client, target: str, item: Post) -> None:
        with rolled_back():
            answer = client.post(target, item.data)
            if answer.status_code >= 500:
                problems.append(f"POST {target} {item.label}: {crash(answer)}")
                return
            ended = answer.get("Location", "").startswith(LOGIN)
            if who != ANONYMOUS and name not in ENDS_SESSION and ended:
                problems.append(f"POST {target} {item.label}: the session ended; fix the test")
            changed = changed_tables(before, row_counts())
        if item.must_refuse and changed:
            problems.append(f"POST {target} {item.label}: wrote {changed}")

    client = client_for(trial, who)
    with rolled_back():
        page = client.get(url)
    if page.status_code >= 500:
        problems.append(f"GET {url}: {crash(page)}")
    # The route itself, whatever its forms: nothing, and a NUL in the usual field names.
    post(client, url, Post("an empty POST", {}, False))
    nul = {k: NUL for k in ("text", "reason", "note", "name", "date", "action", "version")}
    post(client, url, Post("NUL in common field names", nul, False))
    if page.status_code == 200 and "html" in page.get("Content-Type", ""):
        for form in forms_of(url, page.content.decode()):
            for item in garbage(form, trial.today.isoformat()):
                post(client, form.action, item)
    assert not problems, "\n".join(problems)
