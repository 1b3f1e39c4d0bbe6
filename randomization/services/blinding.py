"""Writes that protect and measure blinding: unblinding incidents and the assessors' guesses
of the arm. Nothing here reads an allocation's arm, so no answer or error can reveal one."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from participants.models import Participant
from randomization.models import (
    Allocation,
    BlindingGuess,
    Guess,
    GuessTimepoint,
    IncidentHow,
    UnblindingIncident,
)
from trial import access
from trial.access import Viewer
from trial.audit import audit_context
from trial.errors import Conflict, Forbidden, Invalid
from trial.roles import BLINDED_ROLES, Role

# Trial managers see every unblinding report and may record one for someone else.
TRIAL_MANAGERS = (Role.STATISTICIAN, Role.DATA_MANAGER)


def holds_blinded_role(user: Viewer) -> bool:
    return access.has_role(user, *BLINDED_ROLES)


def unblinding_incident_report(
    *,
    user: Viewer,
    learned_on: date,
    how: str,
    description: str = "",
    participant: Participant | None = None,
    person: User | None = None,
) -> UnblindingIncident:
    """Record that a blinded person learned (or may have learned) an allocation. Blinded
    staff report for themselves; a trial manager may record a report for a blinded person."""
    target = person or user
    if target.pk != user.pk and not access.has_role(user, *TRIAL_MANAGERS):
        raise Forbidden(_("Only the statistician or a data manager can report for someone else."))
    errors: dict[str, list[str | Promise]] = {}
    if not holds_blinded_role(target):
        errors["person" if target.pk != user.pk else "detail"] = [
            _(
                "Unblinding is reported for people who must stay blinded (assessors, "
                "data managers, monitors)."
            )
        ]
    if learned_on > timezone.localdate():
        errors["learned_on"] = [_("The date cannot be in the future.")]
    if how not in IncidentHow.values:
        errors["how"] = [_("Choose one of: {join}.").format(join=", ".join(IncidentHow.values))]
    description = (description or "").strip()
    if how == IncidentHow.OTHER and not description:
        errors["description"] = [_("Describe how the allocation became known.")]
    if len(description) > 4000:
        errors["description"] = [_("At most 4000 characters.")]
    if errors:
        if list(errors) == ["detail"]:
            raise Forbidden(errors["detail"][0])
        raise Invalid(_("The report has errors."), fields=errors)
    with transaction.atomic(), audit_context(user=user, reason="Unblinding reported"):
        return UnblindingIncident.objects.create(
            person=access.signed_in(target),
            participant=participant,
            learned_on=learned_on,
            how=how,
            description=description,
            reported_by=access.signed_in(user),
        )


def resolve_person(username: str | None) -> Any:
    if not username:
        return None
    person = get_user_model().objects.filter(username=username, is_active=True).first()
    if person is None:
        raise Invalid(
            _("Unknown person."),
            fields={"person": [_("No active user {username!r}.").format(username=username)]},
        )
    return person


def blinding_guess_record(
    *, user: Viewer, participant: Participant, timepoint: str, guess: str, reason: str = ""
) -> tuple[BlindingGuess, bool]:
    """Record (or, with a reason, correct) the assessor's guess of the arm at a post-
    intervention or follow-up assessment. Returns the guess and whether it was created."""
    if not access.has_role_at(user, participant.site_id, Role.ASSESSOR):
        raise Forbidden(_("Only an assessor at the participant's site records the blinding guess."))
    errors: dict[str, list[str | Promise]] = {}
    if timepoint not in GuessTimepoint.values:
        errors["timepoint"] = [_("The guess is recorded at 'post' or 'followup'.")]
    if guess not in Guess.values:
        errors["guess"] = [_("Guess 'IMR', 'TAU' or 'dont_know'.")]
    if errors:
        raise Invalid(_("The blinding guess has errors."), fields=errors)
    # Whether someone is randomised is arm-free (every role sees the status).
    if not Allocation.objects.filter(participant=participant).exists():
        raise Invalid(
            _(
                "The participant is not randomised: a blinding guess belongs to a "
                "post-intervention or follow-up assessment."
            )
        )
    reason = (reason or "").strip()
    try:
        with (
            transaction.atomic(),
            audit_context(user=user, reason=reason or "Blinding guess recorded"),
        ):
            existing = (
                BlindingGuess.objects.select_for_update()
                .filter(participant=participant, timepoint=timepoint)
                .first()
            )
            if existing is None:
                created = BlindingGuess.objects.create(
                    participant=participant,
                    timepoint=timepoint,
                    assessor=access.signed_in(user),
                    guess=guess,
                    recorded_at=timezone.now(),
                )
                return created, True
            if existing.guess == guess:
                return existing, False
            if not reason:
                raise Invalid(
                    _("A recorded guess can only be changed with a reason."),
                    fields={"reason": [_("Give the reason for changing the recorded guess.")]},
                )
            existing.guess = guess
            existing.assessor = access.signed_in(user)
            existing.recorded_at = timezone.now()
            existing.save(update_fields=["guess", "assessor", "recorded_at"])
            return existing, False
    except IntegrityError:
        raise Conflict(_("The guess was recorded at the same moment by someone else.")) from None
