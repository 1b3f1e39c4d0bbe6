"""What the apps above add to a participant's own representation (the participant API and the
overview page), without this app importing them: each registers a function in its
`AppConfig.ready()` (trial.registry). The randomization app adds the arm and the
randomisation code, for users who may see allocation only, and its panel on the overview (the
way into randomisation, the blinding guesses)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from participants.models import Participant
from trial.access import Viewer
from trial.registry import Registry

# (participant, user) -> fields for this user; the function decides what the user may see.
ParticipantFields = Callable[[Participant, Any], dict[str, Any]]

representation_fields: Registry[ParticipantFields] = Registry("fields of a participant")

# (user) -> names of the participant's relations those fields read for this user, so that a
# list reads them with its own query (select_related) instead of one query per participant.
RelatedNames = Callable[[Any], list[str]]

representation_related: Registry[RelatedNames] = Registry("relations of a participant's fields")


def related_for(user: Viewer) -> list[str]:
    """The relations to select with a list of participants shown to this user."""
    return [name for names in representation_related for name in names(user)]


def fields_for(participant: Participant, user: Viewer) -> dict[str, Any]:
    """The participant's own arm-free facts every reader gets, and what each app above adds
    for this user."""
    found: dict[str, Any] = {}
    if participant.randomized_at is not None:
        found["randomized_at"] = participant.randomized_at
    for contribute in representation_fields:
        found.update(contribute(participant, user))
    return found


@dataclass(frozen=True)
class Panel:
    """A block that an app above adds to the participant overview: the template it is drawn
    with (the app's own) and that template's context."""

    template: str
    context: dict[str, Any]


# (participant, user) -> the app's panel for this user, or None when it has nothing to show.
ParticipantPanel = Callable[[Participant, Any], Panel | None]

overview_panels: Registry[ParticipantPanel] = Registry("panels of the participant overview")


def panels_for(participant: Participant, user: Viewer) -> list[Panel]:
    """The panels of the apps above, in registration order (INSTALLED_APPS)."""
    panels = (contribute(participant, user) for contribute in overview_panels)
    return [panel for panel in panels if panel is not None]
