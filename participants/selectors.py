"""Reads for participants, already limited to what the user may see."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Model, QuerySet
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from participants.models import CLOSED_STATUSES, EligibilityScreening, Participant, Status
from participants.studyid import STUDY_ID_PATTERN, is_valid_study_id
from trial import access
from trial.access import Viewer
from trial.audit import event_model
from trial.audit_trail import AuditEntry, AuditSource, participant_trail
from trial.errors import Forbidden, Invalid, NotFound
from trial.models import Site
from trial.roles import Role
from trial.timeline import TimelineEntry

# Roles that work with individual participants (fidelity raters rate groups; admins manage
# accounts). Site-scoped roles see their own sites only.
PARTICIPANT_READERS = (
    Role.COORDINATOR,
    Role.ASSESSOR,
    Role.CLINICIAN,
    Role.INSTRUCTOR,
    Role.DATA_MANAGER,
    Role.STATISTICIAN,
    Role.MONITOR,
    Role.INVESTIGATOR,
)
# Who reads a participant's audit history: the data manager and the monitor (both blinded,
# so the history leaves out everything that could reveal an arm).
AUDIT_READERS = (Role.DATA_MANAGER, Role.MONITOR)
# Who records the end of participation: coordinators (any of the three statuses) and data
# managers (loss to follow-up and death, which they often learn from registers).
STATUS_RECORDERS = (Role.COORDINATOR, Role.DATA_MANAGER)


def sites_visible_to(user: Viewer) -> QuerySet[Site]:
    if access.has_role(user, Role.ADMIN):
        return Site.objects.all()
    return Site.objects.filter(pk__in=access.site_ids(user))


def participants_visible_to(user: Viewer) -> QuerySet[Participant]:
    ids = access.site_ids(user, *PARTICIPANT_READERS)
    return Participant.objects.filter(site_id__in=ids).select_related("site")


def study_id_problem(text: str | None) -> str | None:
    """What is wrong with a typed study ID that is complete but cannot be right (its check
    character does not match), or None. Fragments ("BAL-00") are fine: they are searches."""
    typed = (text or "").strip().upper()
    if STUDY_ID_PATTERN.match(typed) and not is_valid_study_id(typed):
        return (
            f"{typed} is not a valid study ID: its check character does not match the rest. "
            "Look for a mistyped character."
        )
    return None


def participant_list(
    *, user: Viewer, site: str | None = None, status: str | None = None, search: str | None = None
) -> QuerySet[Participant]:
    """The user's participants, filtered. Invalid when a filter cannot mean anything: an
    unknown site or status, or a complete study ID with a wrong check character."""
    errors: dict[str, list[str]] = {}
    site_code = (site or "").strip().upper()
    if site_code and not Site.objects.filter(code=site_code).exists():
        errors["site"] = [
            _("Unknown site {site_code!r}; use BAL, GLA or FRB.").format(
                site_code=site_code,
            )
        ]
    if status and status not in Status.values:
        errors["status"] = [
            _("Unknown status {status!r}; use one of {join}.").format(
                status=status,
                join=", ".join(Status.values),
            )
        ]
    problem = study_id_problem(search)
    if problem:
        errors["search"] = [problem]
    if errors:
        raise Invalid(_("The filter has errors."), fields=errors)
    queryset = participants_visible_to(user)
    if site_code:
        queryset = queryset.filter(site__code=site_code)
    if status:
        queryset = queryset.filter(status=status)
    if search:
        text = search.strip().upper()
        # A complete study ID must match exactly; a fragment finds every ID containing it.
        queryset = (
            queryset.filter(study_id=text)
            if STUDY_ID_PATTERN.match(text)
            else queryset.filter(study_id__contains=text)
        )
    return queryset


def columns_sql(model: type[Model], alias: str) -> str:
    """The model's columns, qualified by `alias`, in the order of its concrete fields (what
    Model.from_db() takes)."""
    return ", ".join(f'{alias}."{field.column}"' for field in model._meta.concrete_fields)


# What participants_visible_to(user).get(pk=...) reads, in one statement compiled once: every
# page and endpoint about one participant starts here (the randomise request among them),
# and compiling the ORM query cost more than PostgreSQL's answering it.
# (Built from the models' own column names; the values are parameters.)
PARTICIPANT_AT_SITES = f"""
    SELECT {columns_sql(Participant, "p")}, {columns_sql(Site, "s")}
    FROM {Participant._meta.db_table} p JOIN {Site._meta.db_table} s ON s.id = p.site_id
    WHERE p.id = %s AND p.site_id = ANY(%s)
"""  # noqa: S608
_PARTICIPANT_FIELDS = [field.attname for field in Participant._meta.concrete_fields]
_SITE_FIELDS = [field.attname for field in Site._meta.concrete_fields]


def participant_get(*, user: Viewer, pk: Any) -> Participant:
    """The participant (with its site), or NotFound when unknown or outside the user's sites
    (API.md: 404)."""
    try:
        key = int(pk)
    except (ValueError, TypeError):
        raise NotFound(_("No such participant at your sites.")) from None
    with connection.cursor() as cursor:
        cursor.execute(
            PARTICIPANT_AT_SITES, [key, sorted(access.site_ids(user, *PARTICIPANT_READERS))]
        )
        row = cursor.fetchone()
    if row is None:
        raise NotFound(_("No such participant at your sites."))
    split = len(_PARTICIPANT_FIELDS)
    participant = Participant.from_db(connection.alias, _PARTICIPANT_FIELDS, row[:split])
    site = Site.from_db(connection.alias, _SITE_FIELDS, row[split:])
    Participant._meta.get_field("site").set_cached_value(participant, site)
    return participant


def participant_for_action(
    *, user: Viewer, pk: Any, roles: tuple[str, ...], what: str | Promise
) -> Participant:
    """The participant a user wants to act on: 403 when none of the user's roles allows the
    action anywhere, 404 when the participant is unknown or outside the user's sites, 403 when
    the user sees the participant through another role but may not act at that site."""
    if not access.has_role(user, *roles):
        raise Forbidden(_("Your role does not allow {what}.").format(what=what))
    participant = participant_get(user=user, pk=pk)
    if not access.has_role_at(user, participant.site_id, *roles):
        raise Forbidden(
            _("Your role does not allow {what} at {name}.").format(
                what=what,
                name=participant.site.name,
            )
        )
    return participant


def may_act(user: Viewer, participant: Participant, *roles: str) -> bool:
    return access.has_role_at(user, participant.site_id, *roles)


def screenings_of(participant: Participant) -> QuerySet[EligibilityScreening]:
    return participant.screenings.select_related("screened_by").order_by("-screened_at", "-id")


def participant_audit_trail(*, user: Viewer, pk: Any) -> tuple[Participant, list[AuditEntry]]:
    participant = participant_for_action(
        user=user, pk=pk, roles=AUDIT_READERS, what=_("reading the audit history")
    )
    return participant, participant_trail(participant=participant, user=user)


# --- contributions to the overview and the audit history (trial.timeline,
# trial.audit_trail) ----------------------------------------------------------------------


def participant_timeline(participant: Participant, user: Viewer) -> list[TimelineEntry]:
    """Registration, every screening, consent and the end of participation. Nothing here
    depends on the arm. The screening and consent entries link to their pages only for the
    coordinators of the participant's site, the only ones who may open them."""
    coordinator_here = may_act(user, participant, Role.COORDINATOR)
    screening_url = (
        reverse("participants:screening", args=[participant.pk]) if coordinator_here else ""
    )
    consent_url = reverse("participants:consent", args=[participant.pk]) if coordinator_here else ""
    registered_by = participant.registered_by.get_username() if participant.registered_by else ""
    entries = [
        TimelineEntry(
            participant.registered_at,
            gettext("Registered"),
            _("at {site} by {user}").format(site=participant.site.name, user=registered_by),
        )
    ]
    for screening in screenings_of(participant):
        if screening.eligible:
            title, detail = gettext("Screened: eligible"), ""
        else:
            title = gettext("Screened: not eligible")
            detail = " ".join(gettext(reason) for reason in screening.reasons)
        who = screening.screened_by.get_username()
        entries.append(
            TimelineEntry(
                screening.screened_at,
                title,
                _("{detail} (by {user})").format(detail=detail, user=who).strip(),
                screening_url,
            )
        )
    # Consent and each move to withdrawn, lost to follow-up or deceased come from the
    # participant's history, which also says when they were recorded (a withdrawn participant
    # may later be recorded as deceased: both stay on the timeline).
    previous: Any = None
    users = dict(
        get_user_model()
        .objects.filter(
            pk__in=[participant.consent_recorded_by_id]
            if participant.consent_recorded_by_id
            else []
        )
        .values_list("pk", "username")
    )
    for event in (
        event_model(Participant).objects.filter(pgh_obj_id=participant.pk).order_by("pgh_id")
    ):
        if event.consent_date and (previous is None or previous.consent_date != event.consent_date):
            corrected = previous is not None and previous.consent_date is not None
            who = users.get(event.consent_recorded_by_id, "")
            entries.append(
                TimelineEntry(
                    event.consent_date,
                    gettext("Consent date corrected")
                    if corrected
                    else gettext("Written informed consent"),
                    _("recorded by {user}").format(user=who) if who else "",
                    consent_url,
                    recorded_at=event.pgh_created_at,
                )
            )
        if event.status in CLOSED_STATUSES and (
            previous is None or event.status != previous.status
        ):
            entries.append(
                TimelineEntry(
                    event.status_date or event.pgh_created_at,
                    str(Status(event.status).label),
                    event.status_reason,
                    recorded_at=event.pgh_created_at,
                )
            )
        previous = event
    return entries


def participant_audit_sources() -> list[AuditSource]:
    return [
        AuditSource(
            event_model(Participant),
            "pgh_obj_id",
            _("Participant"),
            blinded_may_see=True,
            encrypted_fields=frozenset({"cpr_ciphertext"}),
            # The number within the site is part of the study ID; the hash is never shown.
            hidden_fields=frozenset({"cpr_hash", "number"}),
            field_labels={"cpr_ciphertext": _("CPR number"), "study_id": _("Study ID")},
            describe=lambda event: gettext("Participant {study_id}").format(
                study_id=event.study_id
            ),
        ),
        AuditSource(
            event_model(EligibilityScreening),
            "participant_id",
            _("Eligibility screening"),
            blinded_may_see=True,
            hidden_fields=frozenset({"participant"}),
            describe=lambda event: gettext("Eligibility screening {number}").format(
                number=event.pgh_obj_id
            ),
        ),
    ]
