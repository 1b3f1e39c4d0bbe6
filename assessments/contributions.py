"""What the apps above add to the assessment pages and API, without this app importing them:
each registers a function in its `AppConfig.ready()` (trial.registry). The randomization app,
which records unblinding reports, flags the responses whose rater had reported being unblinded
on or before the day of the assessment."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.http import HttpRequest

from assessments.models import InstrumentResponse
from trial.registry import Registry

# responses -> {response id: flagged}; one query for any number of responses.
UnblindingFlags = Callable[[Sequence[InstrumentResponse]], dict[int, bool]]

unblinding_flaggers: Registry[UnblindingFlags] = Registry("unblinding flags of responses")


def unblinding_flags(responses: Sequence[InstrumentResponse]) -> dict[int, bool]:
    """Per response id: True when any registered source flags it."""
    flags = {response.pk: False for response in responses}
    for flag in unblinding_flaggers:
        for pk, flagged in flag(responses).items():
            flags[pk] = flags.get(pk, False) or flagged
    return flags


# (request, participant, timepoint) -> HTML for the visit's section of the participant's
# assessment page (the casebooks app: the visit's signatures and the printed CRFs), "" for none.
VisitPanel = Callable[[HttpRequest, Any, str], str]

visit_panels: Registry[VisitPanel] = Registry("panels of a visit on the assessment page")


def visit_panel_html(request: HttpRequest, participant: Any, timepoint: str) -> str:
    return "".join(panel(request, participant, timepoint) for panel in visit_panels)
