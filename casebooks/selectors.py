"""Reads for printing and signatures, limited to what the user may see. Nothing here returns an
arm: a signature's manifestation is who, when, meaning and whether it still holds."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from assessments import permissions as assessment_permissions
from assessments import selectors as assessment_selectors
from assessments.models import InstrumentResponse, ResponseStatus, Timepoint
from casebooks import canonical, permissions
from casebooks.models import Signature, Subject
from instruments import registry
from instruments.base import Instrument
from participants.models import Participant
from trial import access
from trial.roles import Role

DONE = (ResponseStatus.COMPLETE, ResponseStatus.VERIFIED)


def visit_instruments(timepoint: str) -> tuple[Instrument, ...]:
    """The forms scheduled at a timepoint (register data is imported, never signed here)."""
    return tuple(i for i in registry.for_timepoint(timepoint) if i.form_entry)


# -- the state of a signature ------------------------------------------------------------------
@dataclass(frozen=True)
class Change:
    """A change that broke a signature: which form, now at which version, by whom and why."""

    instrument: str
    instrument_name: str
    signed_version: int | None
    current_version: int | None
    at: datetime | None = None
    user: str = ""
    reason: str = ""

    @property
    def text(self) -> str:
        if self.signed_version is None:
            return (
                f"{self.instrument_name} was added after signing (version {self.current_version})"
            )
        if self.current_version is None:
            return f"{self.instrument_name} (version {self.signed_version}) is gone"
        return (
            f"{self.instrument_name} changed from version {self.signed_version} "
            f"to {self.current_version}"
        )


@dataclass(frozen=True)
class SignatureState:
    signature: Signature
    intact: bool
    changes: tuple[Change, ...] = field(default=())

    @property
    def status(self) -> str:
        return "intact" if self.intact else "broken"


def _first_change(response: InstrumentResponse, after_version: int | None) -> dict[str, Any]:
    """Who made the first version after the signed one, when and why (pghistory events)."""
    events = response.events.order_by("pgh_id")
    if after_version is not None:
        events = events.filter(version__gt=after_version)
    event = events.first()
    if event is None:
        return {}
    context = event.pgh_context or {}
    return {
        "at": event.pgh_created_at,
        "user": context.get("username", ""),
        "reason": context.get("reason", ""),
    }


def visit_changes(signature: Signature, responses: list[InstrumentResponse]) -> tuple[Change, ...]:
    """The forms whose version differs from the signed one. A form whose content changed but
    whose version did not (impossible through the services) is named with equal versions."""
    signed: dict[str, int] = dict(signature.manifest.get("forms", {}))
    current = {r.instrument: r for r in responses}
    changes = []
    for code in sorted(set(signed) | set(current)):
        response = current.get(code)
        version = response.version if response is not None else None
        if signed.get(code) == version:
            continue
        found = registry.find(code)
        details = _first_change(response, signed.get(code)) if response is not None else {}
        changes.append(
            Change(
                instrument=code,
                instrument_name=str(found.short_name) if found else code,
                signed_version=signed.get(code),
                current_version=version,
                **details,
            )
        )
    return tuple(changes)


def visit_signature_states(participant: Participant) -> dict[str, list[SignatureState]]:
    """timepoint -> the visit's signatures, newest first, each intact or broken (and by what)."""
    signatures = list(
        Signature.objects.filter(subject=Subject.VISIT, participant=participant).order_by(
            "-signed_at", "-id"
        )
    )
    if not signatures:
        return {}
    responses: dict[str, list[InstrumentResponse]] = defaultdict(list)
    for response in InstrumentResponse.objects.filter(participant=participant):
        responses[response.timepoint].append(response)
    hashes: dict[str, str] = {}
    states: dict[str, list[SignatureState]] = defaultdict(list)
    for signature in signatures:
        timepoint = signature.timepoint
        if timepoint not in hashes:
            hashes[timepoint] = canonical.sha256_of(canonical.visit_content(participant, timepoint))
        intact = hashes[timepoint] == signature.content_sha256
        changes = () if intact else visit_changes(signature, responses[timepoint])
        states[timepoint].append(SignatureState(signature, intact, changes))
    return dict(states)


def needs_verification(instrument: Instrument) -> bool:
    """Source-data verification is done by blinded roles (assessments.permissions.VERIFIERS),
    who may not read IMRS_C: a form they cannot read is never verified, and its completion is
    all a visit can wait for."""
    return instrument.blinded_readable


def visit_is_complete(participant: Participant, timepoint: str) -> bool:
    """Every scheduled form of the visit is complete or verified."""
    codes = {i.code for i in visit_instruments(timepoint)}
    done = set(
        InstrumentResponse.objects.filter(
            participant=participant, timepoint=timepoint, instrument__in=codes, status__in=DONE
        ).values_list("instrument", flat=True)
    )
    return bool(codes) and codes <= done


def participant_get(*, user: Any, pk: Any) -> Participant:
    """The participant when the user reads forms at its site (404 otherwise)."""
    return assessment_selectors.participant_get(user=user, pk=pk)


def signatures_for(user: Any, participant: Participant) -> dict[str, list[SignatureState]]:
    if not access.has_role_at(user, participant.site_id, *permissions.SIGNATURE_READERS):
        return {}
    return visit_signature_states(participant)


# -- the investigator's worklist ---------------------------------------------------------------
@dataclass(frozen=True)
class UnsignedVisit:
    participant_id: int
    study_id: str
    site: str
    timepoint: str
    timepoint_label: str
    forms: int
    last_change: datetime | None
    broken: bool  # signed before, but changed since


def unsigned_visits(*, user: Any) -> list[UnsignedVisit]:
    """Visits at the investigator's sites whose forms are all complete and source-verified and
    that carry no intact signature, oldest change first (the one waiting longest)."""
    site_ids = access.site_ids(user, Role.INVESTIGATOR)
    participants = {
        p.pk: p
        # Participants who ended (withdrawn, lost) keep the visits they had: signed too.
        for p in Participant.objects.filter(site_id__in=site_ids).select_related("site")
    }
    by_visit: dict[tuple[int, str], list[InstrumentResponse]] = defaultdict(list)
    for response in InstrumentResponse.objects.filter(participant_id__in=list(participants)):
        by_visit[(response.participant_id, response.timepoint)].append(response)
    signed: dict[tuple[int, str], list[Signature]] = defaultdict(list)
    for signature in Signature.objects.filter(
        subject=Subject.VISIT, participant_id__in=list(participants)
    ):
        signed[(signature.participant_id, signature.timepoint)].append(signature)
    rows = []
    for (participant_id, timepoint), responses in by_visit.items():
        instruments = visit_instruments(timepoint)
        codes = {i.code for i in instruments}
        statuses = {r.instrument: r.status for r in responses}
        wanted = {
            i.code: (ResponseStatus.VERIFIED,) if needs_verification(i) else DONE
            for i in instruments
        }
        if not codes or any(statuses.get(c) not in wanted[c] for c in codes):
            continue
        participant = participants[participant_id]
        content_hash = ""
        earlier = signed.get((participant_id, timepoint), [])
        if earlier:
            content_hash = canonical.sha256_of(canonical.visit_content(participant, timepoint))
            if any(s.content_sha256 == content_hash for s in earlier):
                continue
        rows.append(
            UnsignedVisit(
                participant_id=participant_id,
                study_id=participant.study_id,
                site=participant.site.code,
                timepoint=timepoint,
                timepoint_label=str(Timepoint(timepoint).label),
                forms=len(codes),
                last_change=max(r.updated_at for r in responses),
                broken=bool(earlier),
            )
        )
    rows.sort(key=lambda r: (r.last_change or datetime.min, r.study_id))
    return rows


# -- the data manager's list of broken signatures ---------------------------------------------
@dataclass(frozen=True)
class BrokenSignature:
    state: SignatureState
    participant_id: int
    study_id: str
    site: str
    timepoint_label: str


def broken_signatures() -> list[BrokenSignature]:
    """Every visit signature whose visit has changed since and has no newer intact signature
    with the same meaning: what the investigators must sign again. Trial-wide (data managers
    work at every site)."""
    participant_ids = (
        Signature.objects.filter(subject=Subject.VISIT)
        .values_list("participant_id", flat=True)
        .distinct()
    )
    found = []
    for participant in Participant.objects.filter(pk__in=participant_ids).select_related("site"):
        for timepoint, states in visit_signature_states(participant).items():
            if any(s.intact for s in states):
                continue
            newest = states[0]
            found.append(
                BrokenSignature(
                    state=newest,
                    participant_id=participant.pk,
                    study_id=participant.study_id,
                    site=participant.site.code,
                    timepoint_label=str(Timepoint(timepoint).label),
                )
            )
    found.sort(key=lambda b: (b.study_id, Timepoint.values.index(b.state.signature.timepoint)))
    return found


# -- signatures of the lock and the key's release ----------------------------------------------
def lock_signatures() -> QuerySet[Signature]:
    return Signature.objects.filter(subject__in=(Subject.LOCK, Subject.MASKING_KEY)).order_by(
        "-signed_at", "-id"
    )


def lock_signature_state(signature: Signature) -> SignatureState:
    if signature.subject != Subject.LOCK:
        return SignatureState(signature, True)
    assert signature.dataset_lock is not None
    current = canonical.sha256_of(canonical.lock_content(signature.dataset_lock))
    return SignatureState(signature, current == signature.content_sha256)


# -- printing ----------------------------------------------------------------------------------
def readable_instruments(user: Any, participant: Participant, timepoint: str) -> list[Instrument]:
    """The forms of a visit whose values the user may read (blinded users: never IMRS_C)."""
    return [
        i
        for i in visit_instruments(timepoint)
        if assessment_permissions.may_read_values(user, participant.site_id, i)
    ]
