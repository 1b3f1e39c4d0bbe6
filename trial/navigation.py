"""The main menu. An entry shows when the user holds one of its roles and its page exists;
blinded users never get an entry that exists only for the IMR arm."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.urls import NoReverseMatch, reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from trial import access
from trial.access import Viewer
from trial.roles import Role


@dataclass(frozen=True)
class Entry:
    label: StrOrPromise
    url_name: str
    roles: tuple[str, ...]
    unblinded_only: bool = False


# A page's own access rule, `(user) -> bool`, when holding one of the entry's roles is not
# enough: registered by the app that owns the page (AppConfig.ready()), keyed by its URL name.
StrOrPromise = str | Promise
PageRule = Callable[[Any], bool]
page_rules: dict[str, PageRule] = {}


def register_page_rule(url_name: str, rule: PageRule) -> None:
    page_rules[url_name] = rule


ENTRIES: tuple[Entry, ...] = (
    Entry(
        _("Participants"),
        "participants:list",
        (
            Role.COORDINATOR,
            Role.ASSESSOR,
            Role.CLINICIAN,
            Role.INSTRUCTOR,
            Role.DATA_MANAGER,
            Role.STATISTICIAN,
            Role.MONITOR,
            Role.INVESTIGATOR,
        ),
    ),
    Entry(_("Worklist"), "assessments:worklist", (Role.ASSESSOR, Role.CLINICIAN, Role.COORDINATOR)),
    Entry(
        _("Queries"),
        "assessments:queries",
        (Role.DATA_MANAGER, Role.MONITOR, Role.COORDINATOR, Role.ASSESSOR, Role.CLINICIAN),
    ),
    Entry(_("Verification"), "assessments:sdv", (Role.MONITOR, Role.DATA_MANAGER)),
    Entry(
        _("IMR groups"),
        "fidelity:groups",
        (Role.INSTRUCTOR, Role.FIDELITY_RATER, Role.COORDINATOR, Role.STATISTICIAN),
        unblinded_only=True,
    ),
    Entry(
        _("Fidelity"),
        "fidelity:ratings",
        (Role.FIDELITY_RATER, Role.STATISTICIAN),
        unblinded_only=True,
    ),
    Entry(
        _("Allocation lists"),
        "randomization:lists",
        (Role.STATISTICIAN,),
        # A statistician who also enrols (coordinator) is refused the lists: the
        # randomization app registers that rule (page_rules).
        unblinded_only=True,
    ),
    Entry(
        _("Unblinding reports"),
        "randomization:incidents",
        (Role.ASSESSOR, Role.DATA_MANAGER, Role.MONITOR, Role.STATISTICIAN),
    ),
    Entry(_("Visits to sign"), "casebooks:worklist", (Role.INVESTIGATOR,), unblinded_only=True),
    Entry(_("Broken signatures"), "casebooks:broken", (Role.DATA_MANAGER,)),
    Entry(_("Register data"), "assessments:register_import", (Role.DATA_MANAGER,)),
    Entry(_("Freeze & lock"), "exports:lock", (Role.DATA_MANAGER, Role.STATISTICIAN)),
    Entry(_("Exports"), "exports:list", (Role.DATA_MANAGER, Role.STATISTICIAN)),
    Entry(
        _("Trial overview"),
        "reports:overview",
        (
            Role.COORDINATOR,
            Role.ASSESSOR,
            Role.CLINICIAN,
            Role.INSTRUCTOR,
            Role.FIDELITY_RATER,
            Role.DATA_MANAGER,
            Role.STATISTICIAN,
            Role.MONITOR,
            Role.INVESTIGATOR,
        ),
    ),
    Entry(_("Accounts"), "admin:index", (Role.ADMIN,)),
)


def menu_for(user: Viewer, path: str = "") -> list[dict[str, Any]]:
    """The user's entries; the one whose address is the longest prefix of `path` is current."""
    if not getattr(user, "is_authenticated", False):
        return []
    blinded = access.is_blinded(user)
    items: list[dict[str, Any]] = []
    for entry in ENTRIES:
        if entry.unblinded_only and blinded:
            continue
        if not access.has_role(user, *entry.roles):
            continue
        rule = page_rules.get(entry.url_name)
        if rule is not None and not rule(user):
            continue
        try:
            items.append({"label": entry.label, "url": reverse(entry.url_name), "current": False})
        except NoReverseMatch:
            continue
    matching = [item for item in items if path.startswith(item["url"])]
    if matching:
        max(matching, key=lambda item: len(item["url"]))["current"] = True
    return items
