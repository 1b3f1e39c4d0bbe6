"""Who may randomise whom, and why not: the one rule. The randomise page (selectors.readiness,
selectors.may_randomize) and the randomise service (services.allocation, under the
participant's row lock) both ask these functions, so the page never promises what the service
refuses, nor the other way round."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from django.utils.translation import gettext as _

from participants.models import CLOSED_STATUSES, Participant, Status
from randomization.models import RandomizationLogEntry
from trial import access
from trial.access import Viewer
from trial.errors import Conflict, Forbidden, Invalid, TrialError
from trial.models import DatasetLock
from trial.roles import Role

Kind = RandomizationLogEntry.Kind


@dataclass(frozen=True)
class Refusal:
    """Why not: the error (and so the HTTP status), the kind of the randomisation log entry
    the service writes for it, and the message shown on the page and in the API."""

    error: type[TrialError]
    kind: str
    message: str

    def exception(self) -> TrialError:
        error = self.error(self.message)
        error.log_kind = self.kind  # type: ignore[attr-defined]
        return error


class ScreeningFacts(Protocol):
    """The latest eligibility screening: a participants.EligibilityScreening, or the
    participants.services.LatestScreening read under the row lock."""

    @property
    def eligible(self) -> bool: ...

    @property
    def reasons(self) -> Any: ...


def randomizer_refusal(user: Viewer, participant: Participant) -> Refusal | None:
    """Only a coordinator at the participant's site who may see allocation (whoever
    randomises sees the arm) and who is not the list custodian (RANDOMISATION.md §4: whoever
    can read the list could choose whom to randomise next)."""
    if not access.has_role_at(user, participant.site_id, Role.COORDINATOR):
        return Refusal(
            Forbidden,
            Kind.REFUSED_NOT_ALLOWED,
            _("Only a coordinator at %(site)s can randomise this participant.")
            % {"site": participant.site.name},
        )
    if not access.may_see_allocation(user):
        return Refusal(
            Forbidden,
            Kind.REFUSED_NOT_ALLOWED,
            _("You hold a blinded role, so you cannot randomise (the arm would be shown to you)."),
        )
    if access.has_role(user, Role.STATISTICIAN):
        return Refusal(
            Forbidden,
            Kind.REFUSED_NOT_ALLOWED,
            _(
                "You hold the statistician role and can read the allocation lists, so you "
                "cannot randomise."
            ),
        )
    return None


def may_randomize(user: Viewer, participant: Participant) -> bool:
    return randomizer_refusal(user, participant) is None


def lock_refusal(level: str) -> Refusal:
    state = _("locked") if level == DatasetLock.Level.LOCK else _("frozen")
    return Refusal(
        Conflict,
        Kind.REFUSED_LOCKED,
        _("The trial database is %(state)s: nobody can be randomised.") % {"state": state},
    )


def readiness_refusals(
    *,
    participant: Participant,
    screening: ScreeningFacts | None,
    already_randomized: bool,
    baseline_missing: Sequence[str],
    lock_level: str | None,
) -> list[Refusal]:
    """Everything that stands in the way, in the order the service refuses them (it raises
    the first). `lock_level` None: left to the database, whose lock trigger refuses the
    allocation (the service does not read the lock before every randomisation)."""
    if already_randomized:
        return [
            Refusal(
                Conflict,
                Kind.REFUSED_DUPLICATE,
                _("%(study_id)s is already randomised; a randomisation can never be repeated.")
                % {"study_id": participant.study_id},
            )
        ]
    if participant.status in CLOSED_STATUSES:
        return [
            Refusal(
                Conflict,
                Kind.REFUSED_CLOSED,
                _("The participant is %(status)s and cannot be randomised.")
                % {"status": participant.get_status_display().lower()},
            )
        ]
    found = []
    if screening is None:
        found.append(
            Refusal(
                Invalid,
                Kind.REFUSED_INELIGIBLE,
                _("Not eligible: the participant has not been screened for eligibility."),
            )
        )
    elif not screening.eligible:
        text = " ".join(screening.reasons or []) or _(
            "the latest screening found them not eligible."
        )
        found.append(
            Refusal(Invalid, Kind.REFUSED_INELIGIBLE, _("Not eligible: %(why)s") % {"why": text})
        )
    if participant.status != Status.CONSENTED or participant.consent_date is None:
        found.append(
            Refusal(
                Invalid,
                Kind.REFUSED_NOT_CONSENTED,
                _("Not consented: record the participant's written informed consent first."),
            )
        )
    if baseline_missing:
        found.append(
            Refusal(
                Invalid,
                Kind.REFUSED_BASELINE,
                _("Baseline missing: complete the baseline forms first (%(forms)s).")
                % {"forms": ", ".join(baseline_missing)},
            )
        )
    if lock_level is not None and lock_level != DatasetLock.Level.OPEN:
        found.append(lock_refusal(lock_level))
    return found
