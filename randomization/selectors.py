"""Reads about allocation. Everything that shows an arm goes through `allocation_fields` or
`arm_of`, and both consult trial.access.may_see_allocation. The other reads here (lists,
the randomisation log, unblinding reports, blinding guesses, the blinding index, the timeline)
check role and scope themselves."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.db.models import Count, Min, Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from assessments.selectors import baseline_missing
from participants.contributions import Panel
from participants.models import Participant, Status
from randomization import blinding_index, generator, permissions
from randomization.log import Kind, log_event
from randomization.models import (
    Allocation,
    AllocationList,
    BlindingGuess,
    GuessTimepoint,
    RandomizationLogEntry,
    SiteSequence,
    UnblindingIncident,
)
from randomization.services.lists import require_list_custodian
from randomization.tasks import confirmation_recipients
from trial import access
from trial.access import Viewer
from trial.audit import event_model
from trial.audit_trail import AuditSource
from trial.errors import Conflict, Forbidden, NotFound
from trial.models import Site
from trial.roles import BLINDED_ROLES, Role
from trial.selectors import lock_level
from trial.timeline import TimelineEntry

# Roles that may read the recorded guesses (they hold no arm). Coordinators have no need.
GUESS_READERS = (Role.ASSESSOR, Role.DATA_MANAGER, Role.MONITOR, Role.STATISTICIAN)
TRIAL_MANAGERS = (Role.STATISTICIAN, Role.DATA_MANAGER)


# --- allocation --------------------------------------------------------------------------


def allocation_of(participant: Any) -> Allocation | None:
    try:
        return participant.allocation
    except Allocation.DoesNotExist:
        return None


def allocation_fields(participant: Any, user: Viewer) -> dict[str, Any]:
    """Fields this app adds to a participant's representation (participants.contributions):
    the arm and the randomisation code, only for users who may see allocation. (The time of
    randomisation is arm-free and is the participant's own field.)"""
    if not access.may_see_allocation(user):
        return {}
    allocation = allocation_of(participant)
    if allocation is None:
        return {}
    return {"arm": allocation.arm, "randomization_code": allocation.randomization_code}


def allocation_related(user: Viewer) -> list[str]:
    """The relation `allocation_fields` reads, for lists to select in their own query (only
    for users who may see allocation: nobody else's query touches the allocations)."""
    return ["allocation"] if access.may_see_allocation(user) else []


def arm_of(participant: Any, *, user: Viewer) -> str | None:
    """The participant's arm for a user who may see it; None for everyone else."""
    if not access.may_see_allocation(user):
        return None
    allocation = allocation_of(participant)
    return allocation.arm if allocation else None


def randomization_result(*, participant: Any, user: Viewer) -> Allocation:
    """The allocation, for the coordinator's result page: coordinators at the participant's
    site who may see allocation. NotFound when the participant is not randomised."""
    if not permissions.may_randomize(user, participant):
        raise Forbidden(_("Only a coordinator at the participant's site sees this page."))
    allocation = allocation_of(participant)
    if allocation is None:
        raise NotFound(_("The participant is not randomised."))
    return allocation


def confirmation_email(allocation: Allocation) -> dict[str, Any]:
    """What the result page says about the confirmation e-mail: `sent_at` and `recipients`
    (usernames) once the task has sent it (its log entry), else the people it goes to
    (`pending`, with an address; none means no e-mail will be sent)."""
    entry = (
        RandomizationLogEntry.objects.filter(
            kind=Kind.CONFIRMATION_SENT, participant_id=allocation.participant_id
        )
        .order_by("-id")
        .first()
    )
    if entry is not None:
        return {"sent_at": entry.at, "recipients": entry.detail.get("recipients", [])}
    return {"sent_at": None, "pending": confirmation_recipients(allocation)}


def readiness(participant: Participant) -> dict[str, Any]:
    """What the coordinator checks before randomising (no arm, no list state): the problems
    are randomization.permissions' refusals, the same the service gives."""
    screening = participant.screenings.order_by("-screened_at", "-id").first()
    missing = baseline_missing(participant) if settings.RANDOMIZATION_REQUIRES_BASELINE else []
    problems = [
        refusal.message
        for refusal in permissions.readiness_refusals(
            participant=participant,
            screening=screening,
            already_randomized=(
                participant.status == Status.RANDOMIZED or allocation_of(participant) is not None
            ),
            baseline_missing=missing,
            lock_level=lock_level(),
        )
    ]
    return {
        "screening": screening,
        "consent_date": participant.consent_date,
        "baseline_required": settings.RANDOMIZATION_REQUIRES_BASELINE,
        "baseline_missing": missing,
        "problems": problems,
        "ready": not problems,
    }


# --- allocation lists (statisticians) ----------------------------------------------------


def allocation_lists_overview(*, user: Viewer) -> list[dict[str, Any]]:
    """Per site: the list versions (metadata and hash, never an arm), slots in all, used and
    left. For the list custodian only; nothing here is shown to anyone who enrols."""
    require_list_custodian(user, channel="web")
    used = dict(
        Allocation.objects.values("slot__site_id")
        .annotate(n=Count("id"))
        .values_list("slot__site_id", "n")
    )
    versions_by_site: dict[int, list[AllocationList]] = {}
    for allocation_list in AllocationList.objects.select_related("created_by").order_by(
        "site_id", "version"
    ):
        versions_by_site.setdefault(allocation_list.site_id, []).append(allocation_list)
    sequence = dict(SiteSequence.objects.values_list("site_id", "next_sequence"))
    overview = []
    for site in Site.objects.order_by("number"):
        versions = versions_by_site.get(site.pk, [])
        total = sum(v.length for v in versions)
        taken = used.get(site.pk, 0)
        overview.append(
            {
                "site": site,
                "versions": versions,
                "slots": total,
                "used": taken,
                "left": max(total - taken, 0),
                "next_sequence": sequence.get(site.pk),
            }
        )
    return overview


def allocation_lists(*, user: Viewer) -> QuerySet[AllocationList]:
    require_list_custodian(user, channel="web")
    return AllocationList.objects.select_related("site", "created_by").order_by(
        "site__number", "version"
    )


def randomization_log(
    *, user: Viewer, kind: str | None = None, site: str | None = None
) -> QuerySet[RandomizationLogEntry]:
    """The randomisation log: it names slots and arms, so statisticians only."""
    require_list_custodian(user, channel="web")
    queryset = RandomizationLogEntry.objects.select_related(
        "site", "participant", "allocation_list"
    )
    if kind:
        queryset = queryset.filter(kind=kind)
    if site:
        queryset = queryset.filter(site__code=site.strip().upper())
    return queryset


# --- unblinding incidents ----------------------------------------------------------------


def may_report_unblinding(user: Viewer) -> bool:
    return access.has_role(user, *BLINDED_ROLES) or access.has_role(user, *TRIAL_MANAGERS)


def incidents_visible_to(user: Viewer) -> QuerySet[UnblindingIncident]:
    """Trial managers (statistician, data manager) see every report; blinded staff see the
    reports about themselves or made by them."""
    queryset = UnblindingIncident.objects.select_related(
        "person", "reported_by", "participant__site"
    )
    if access.has_role(user, *TRIAL_MANAGERS):
        return queryset
    if access.has_role(user, *BLINDED_ROLES):
        return queryset.filter(person_id=user.pk) | queryset.filter(reported_by_id=user.pk)
    raise Forbidden(_("Your role does not give access to unblinding reports."))


def unblinding_dates(user_ids: Any = None) -> dict[int, date]:
    """The first day each person was unblinded (any participant), by user id."""
    queryset = UnblindingIncident.objects.all()
    if user_ids is not None:
        queryset = queryset.filter(person_id__in=list(user_ids))
    return dict(
        queryset.values("person_id")
        .annotate(first=Min("learned_on"))
        .values_list("person_id", "first")
    )


def assessor_unblinded_on(user: Viewer | None) -> date | None:
    """The first day the user learned an allocation, or None. Assessments this person makes
    from that day on are flagged (`response_is_flagged`)."""
    pk = user.pk if user is not None else None
    if pk is None:
        return None
    return unblinding_dates([pk]).get(pk)


def assessment_day(response: Any) -> date | None:
    if getattr(response, "interview_date", None):
        return response.interview_date
    moment: datetime | None = getattr(response, "first_completed_at", None) or getattr(
        response, "created_at", None
    )
    return timezone.localdate(moment) if moment else None


def response_is_flagged(response: Any, *, unblinded: dict[int, date] | None = None) -> bool:
    """True when the response's rater had reported being unblinded on or before the day of the
    assessment. Pass `unblinded` (from `unblinding_dates`) when flagging many responses."""
    rater_id = getattr(response, "rater_id", None)
    if rater_id is None:
        return False
    since = (unblinded if unblinded is not None else unblinding_dates([rater_id])).get(rater_id)
    day = assessment_day(response)
    return since is not None and day is not None and day >= since


def unblinding_flags(responses: Sequence[Any]) -> dict[int, bool]:
    """Per response id: `response_is_flagged`, with one query for any number of responses
    (registered for the assessment pages: assessments.contributions)."""
    raters = {r.rater_id for r in responses if r.rater_id is not None}
    since = unblinding_dates(raters) if raters else {}
    return {r.pk: response_is_flagged(r, unblinded=since) for r in responses}


# --- blinding guesses and the blinding index ---------------------------------------------


def may_read_guesses(user: Viewer, participant: Any) -> bool:
    return access.has_role_at(user, participant.site_id, *GUESS_READERS)


def blinding_guess_get(*, user: Viewer, participant: Any, timepoint: str) -> BlindingGuess:
    if not may_read_guesses(user, participant):
        raise Forbidden(_("Your role does not give access to blinding guesses."))
    if timepoint not in GuessTimepoint.values:
        raise NotFound(_("Blinding guesses exist for 'post' and 'followup' only."))
    guess = (
        BlindingGuess.objects.select_related("assessor")
        .filter(participant=participant, timepoint=timepoint)
        .first()
    )
    if guess is None:
        raise NotFound(_("No blinding guess is recorded for this timepoint."))
    return guess


def blinding_index_report(*, user: Viewer, channel: str = "web") -> dict[str, Any]:
    """Guess-by-arm tables with Bang's index per arm and James' index, per timepoint and
    overall. Combines guesses with arms, so: statisticians, after lock, audited."""
    require_list_custodian(user, channel=channel)
    if lock_level() != "lock":
        raise Conflict(_("The blinding index is computed only after the database is locked."))
    rows = BlindingGuess.objects.filter(participant__allocation__isnull=False).values_list(
        "timepoint", "guess", "participant__allocation__arm"
    )
    tables = {tp: blinding_index.empty_table() for tp in [*GuessTimepoint.values, "all"]}
    for timepoint, guess, arm in rows:
        for key in (timepoint, "all"):
            tables[key][guess][arm] += 1
    timepoints: list[dict[str, Any]] = []
    report = {"timepoints": timepoints}
    for key, table in tables.items():
        label = "All assessments" if key == "all" else GuessTimepoint(key).label
        timepoints.append(
            {
                "timepoint": key,
                "label": label,
                "n": sum(sum(row.values()) for row in table.values()),
                "table": table,
                "bang": {arm: blinding_index.bang(table, arm).as_dict() for arm in ("IMR", "TAU")},
                "james": blinding_index.james(table).as_dict(),
            }
        )
    log_event(
        Kind.REPORT_VIEWED,
        user=user,
        channel=channel,
        message="Blinding index viewed",
        detail={"report": "blinding_index", "n": report["timepoints"][-1]["n"]},
    )
    return report


# --- the methods sheet (RANDOMISATION.md §5) ---------------------------------------------


def methods_sheet(*, user: Viewer, channel: str = "web") -> dict[str, Any]:
    """What CONSORT 8-10 / SPIRIT 16 need: generator, algorithm, sizes and draw rule, ratio,
    strata, lists with hashes and seed commitments, who generated, enrolled and assigned, the
    concealment mechanism, deviations, and (only after lock) counts by arm and site."""
    require_list_custodian(user, channel=channel)
    locked = lock_level() == "lock"
    lists = list(
        AllocationList.objects.select_related("site", "created_by").order_by(
            "site__number", "version"
        )
    )
    enrolled_by = sorted(set(Allocation.objects.values_list("randomized_by__username", flat=True)))
    counts: dict[str, dict[str, int]] | None = None
    if locked:
        counts = {}
        for site_code, arm, n in (
            Allocation.objects.values_list("slot__site__code", "arm")
            .annotate(n=Count("id"))
            .values_list("slot__site__code", "arm", "n")
        ):
            counts.setdefault(site_code, {"IMR": 0, "TAU": 0})[arm] = n
    refusals = dict(
        RandomizationLogEntry.objects.filter(kind__startswith="refused_")
        .values("kind")
        .annotate(n=Count("id"))
        .values_list("kind", "n")
    )
    sheet = {
        "generator": (
            f"{generator.ALGORITHM} v{generator.ALGORITHM_VERSION} (docs/randomisation.md)"
        ),
        "block_sizes": list(generator.BLOCK_SIZES),
        "block_size_rule": _("uniform and independent for each block"),
        "ratio": _("1:1 within every block"),
        "strata": [site.code for site in Site.objects.order_by("number")],
        "lists": lists,
        "generated_by": sorted(
            {
                a.created_by.get_username()
                if a.created_by
                else str(a.parameters.get("generated_by") or a.parameters.get("imported_by"))
                for a in lists
            }
        ),
        "enrolled_and_assigned_by": enrolled_by,
        "concealment": _(
            "Central web randomisation: lists stored encrypted and readable only by the "
            "statistician; the arm is revealed only after the allocation is irreversibly "
            "recorded for an eligible, consented participant with a complete baseline."
        ),
        "extensions": [a for a in lists if a.source == AllocationList.Source.EXTENSION],
        "refusals": refusals,
        "locked": locked,
        "counts": counts,
    }
    log_event(
        Kind.REPORT_VIEWED,
        user=user,
        channel=channel,
        message="Methods sheet viewed" + (" (with counts by arm)" if locked else ""),
        detail={"report": "methods_sheet", "with_counts": locked},
    )
    return sheet


# --- contributions to other apps ---------------------------------------------------------


def participant_timeline(participant: Any, user: Viewer) -> list[TimelineEntry]:
    """Randomisation (the arm only for users who may see it), blinding guesses for the roles
    that read them, and unblinding reports about the participant for trial managers."""
    entries: list[TimelineEntry] = []
    allocation = allocation_of(participant)
    if allocation is not None:
        detail = ""
        url = ""
        if access.may_see_allocation(user):
            detail = f"{allocation.get_arm_display()} · code {allocation.randomization_code}"
            if permissions.may_randomize(user, participant):
                url = reverse("randomization:result", args=[participant.pk])
        entries.append(TimelineEntry(allocation.randomized_at, "Randomised", detail, url))
    if may_read_guesses(user, participant):
        # A guess names an arm; blinded readers see that it was made, not the arm word, so no
        # arm label ever sits on a blinded person's overview (the guess form shows their own).
        unblinded = access.may_see_allocation(user)
        for guess in participant.blinding_guesses.all():
            entries.append(
                TimelineEntry(
                    guess.recorded_at,
                    f"Blinding guess ({guess.get_timepoint_display()})",
                    guess.get_guess_display() if unblinded else "Recorded",
                )
            )
    if access.has_role(user, *TRIAL_MANAGERS):
        for incident in participant.unblinding_incidents.select_related("person"):
            entries.append(
                TimelineEntry(
                    incident.learned_on,
                    "Unblinding reported",
                    f"{incident.person.get_username()}: {incident.get_how_display()}",
                    reverse("randomization:incidents"),
                )
            )
    return entries


def _incidents_for_viewer(viewer: Viewer) -> Q | None:
    """The same rule as `incidents_visible_to`: trial managers see every report, blinded staff
    the reports about themselves or made by them."""
    if access.has_role(viewer, *TRIAL_MANAGERS):
        return Q()
    if access.has_role(viewer, *BLINDED_ROLES):
        return Q(person_id=viewer.pk) | Q(reported_by_id=viewer.pk)
    return None


def participant_audit_sources() -> list[AuditSource]:
    """The allocation (arm, code, when, by whom) only for viewers who may see allocation: for
    blinded viewers the randomisation shows only as the participant's status. The blinding
    guesses hold no arm and are shown to everyone who reads the history. Unblinding reports
    about the participant as the unblinding-report pages show them."""
    return [
        AuditSource(
            event_model(Allocation),
            "participant_id",
            "Randomisation",
            blinded_may_see=False,
            # The slot names a position in the concealed list; the key is a client's token.
            hidden_fields=frozenset({"participant", "slot", "idempotency_key"}),
            describe=lambda e: "Randomisation",
        ),
        AuditSource(
            event_model(BlindingGuess),
            "participant_id",
            "Blinding guess",
            blinded_may_see=True,
            hidden_fields=frozenset({"participant"}),
            describe=lambda e: gettext("Blinding guess ({timepoint})").format(
                timepoint=e.get_timepoint_display()
            ),
        ),
        AuditSource(
            event_model(UnblindingIncident),
            "participant_id",
            "Unblinding report",
            blinded_may_see=True,
            hidden_fields=frozenset({"participant"}),
            describe=lambda e: gettext("Unblinding report {number}").format(number=e.pgh_obj_id),
            field_labels={"person": _("Person unblinded"), "learned_on": _("Learned on")},
            rows=_incidents_for_viewer,
        ),
    ]


def overview_panel(participant: Participant, user: Viewer) -> Panel:
    """The participant overview's randomisation panel: the coordinator's way into
    randomisation and the assessor's links to the blinding guesses. What it shows depends on
    the user's role and on whether the participant is randomised, never on the arm."""
    randomized = allocation_of(participant) is not None
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
    return Panel("randomization/_participant_panel.html", panel)
