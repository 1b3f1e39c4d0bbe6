"""`{% randomization_panel participant %}` for the participant overview: the coordinator's
way into randomisation and the assessor's links to the blinding guesses. What it shows depends
on the user's role and on whether the participant is randomised, never on the arm."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse

from randomization import permissions, selectors
from randomization.models import BlindingGuess, GuessTimepoint
from trial import access
from trial.roles import Role

register = template.Library()


@register.inclusion_tag("randomization/_participant_panel.html", takes_context=True)
def randomization_panel(context: dict[str, Any], participant: Any) -> dict[str, Any]:
    user = context["request"].user
    randomized = selectors.allocation_of(participant) is not None
    panel: dict[str, Any] = {"randomized": randomized, "randomize_url": "", "guess_links": []}
    if permissions.may_randomize(user, participant):
        name = "randomization:result" if randomized else "randomization:randomize"
        panel["randomize_url"] = reverse(name, args=[participant.pk])
    if randomized and access.has_role_at(user, participant.site_id, Role.ASSESSOR):
        recorded = set(
            BlindingGuess.objects.filter(participant=participant).values_list(
                "timepoint", flat=True
            )
        )
        panel["guess_links"] = [
            {
                "label": label,
                "url": reverse("randomization:blinding_guess", args=[participant.pk, value]),
                "recorded": value in recorded,
            }
            for value, label in GuessTimepoint.choices
        ]
    return {"panel": panel}
