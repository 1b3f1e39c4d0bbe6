"""Reads for assessments, already limited to what the user may see. Nothing here returns an
arm: visit windows use the randomisation date only, which is arm-free."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import connection
from django.db.models import Count, Exists, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from assessments import contributions, permissions, windows
from assessments import worklist as worklist_module
from assessments.models import (
    MHRM_SPIRITUALITY,
    UNRESOLVED_QUERY_STATUSES,
    FieldVerification,
    InstrumentResponse,
    Query,
    QueryMessage,
    QueryStatus,
    RegisterImport,
    ResponseStatus,
    ServiceUsePeriod,
    Timepoint,
    progress_bit,
)
from instruments import registry
from instruments.base import Instrument
from instruments.service_use import WINDOWS
from participants.models import Participant, randomization_day
from trial import access
from trial.access import Viewer
from trial.audit import event_model, events_of
from trial.audit_trail import AuditSource
from trial.errors import NotFound
from trial.models import Site
from trial.timeline import TimelineEntry

# What randomisation needs at baseline when RANDOMIZATION_REQUIRES_BASELINE is on (API.md):
# the demographics and the clinician-rated interview.
BASELINE_REQUIRED_FOR_RANDOMIZATION = ("DEMOG", "GAF", "PSP", "PANSS", "HAMD6", "YMRS")

DONE = (ResponseStatus.COMPLETE, ResponseStatus.VERIFIED)

BASELINE_DONE = """
    SELECT instrument FROM assessments_instrumentresponse
    WHERE participant_id = %s AND timepoint = %s AND instrument = ANY(%s) AND status = ANY(%s)
"""


def baseline_missing(participant: Any) -> list[str]:
    """Instrument codes of the required baseline forms that are not complete yet."""
    # Plain SQL: the randomise request asks this under the participant's row lock, and the
    # ORM's compiling of the statement cost more than running it.
    with connection.cursor() as cursor:
        cursor.execute(
            BASELINE_DONE,
            [
                participant.pk,
                Timepoint.BASELINE.value,
                list(BASELINE_REQUIRED_FOR_RANDOMIZATION),
                [status.value for status in DONE],
            ],
        )
        done = {code for (code,) in cursor.fetchall()}
    return [code for code in BASELINE_REQUIRED_FOR_RANDOMIZATION if code not in done]


# -- participants and responses ----------------------------------------------------------------
def participants_for_assessments(user: Viewer) -> QuerySet[Participant]:
    return Participant.objects.filter(
        site_id__in=access.site_ids(user, *permissions.READERS)
    ).select_related("site")


def participant_get(*, user: Viewer, pk: Any) -> Participant:
    """The participant, or NotFound when unknown or outside the user's sites (404)."""
    try:
        return participants_for_assessments(user).get(pk=int(pk))
    except (Participant.DoesNotExist, ValueError, TypeError):
        raise NotFound(_("No such participant at your sites.")) from None


def parse_timepoint(value: str) -> str:
    """The API's timepoint names; T0/T1/T2 of SPEC.md are accepted too."""
    aliases = {"t0": Timepoint.BASELINE, "t1": Timepoint.POST, "t2": Timepoint.FOLLOWUP}
    text = (value or "").strip().lower()
    text = aliases.get(text, text)
    if text not in Timepoint.values:
        raise NotFound(
            _("Unknown timepoint {value!r}; use baseline, post or followup.").format(
                value=value,
            )
        )
    return text


def form_instrument(code: str, timepoint: str) -> Instrument:
    """The instrument of a form at a timepoint, or NotFound (404) when the schedule has no
    such form: an unknown code, register data, or e.g. CSQ-8 at baseline."""
    instrument = registry.find((code or "").strip().upper())
    if instrument is None:
        raise NotFound(_("Unknown instrument {code!r}.").format(code=code))
    if not instrument.form_entry:
        raise NotFound(
            _("{code} is register data: it is imported, not entered.").format(
                code=instrument.code,
            )
        )
    if timepoint not in instrument.timepoints:
        raise NotFound(
            _("{code} is not collected at {Timepoint}.").format(
                code=instrument.code, Timepoint=Timepoint(timepoint).label.lower()
            )
        )
    return instrument


def response_find(participant: Participant, timepoint: str, code: str) -> InstrumentResponse | None:
    return (
        InstrumentResponse.objects.filter(
            participant=participant, timepoint=timepoint, instrument=code
        )
        .select_related("rater", "verified_by")
        .first()
    )


def responses_of(participant: Participant) -> dict[tuple[str, str], InstrumentResponse]:
    return {
        (r.timepoint, r.instrument): r
        for r in InstrumentResponse.objects.filter(participant=participant)
    }


# -- source-data verification ------------------------------------------------------------------
def field_verifications(response: InstrumentResponse) -> dict[str, FieldVerification]:
    """Per field: the verification mark of the response's current version (older versions'
    marks no longer hold: the form changed since)."""
    return {
        mark.item: mark
        for mark in FieldVerification.objects.filter(
            response=response, version=response.version
        ).select_related("verified_by")
    }


@dataclass(frozen=True)
class SdvRow:
    response: InstrumentResponse
    site: str
    study_id: str
    completed_at: Any
    fields_verified: int

    @property
    def url(self) -> str:
        return reverse(
            "assessments:form",
            kwargs={
                "pk": self.response.participant_id,
                "timepoint": self.response.timepoint,
                "code": self.response.instrument,
            },
        )


def _verifies(user: Viewer) -> tuple[list[str], list[int]]:
    """The forms the user may verify and the sites where (both empty for non-verifiers): the
    SDV worklist and its counts per site. Forms a blinded user may not read (IMRS_C) are
    left out."""
    if not access.has_role(user, *permissions.VERIFIERS):
        return [], []
    forms = [i.code for i in registry.forms() if permissions.may_verify(user, i)]
    return forms, sorted(access.site_ids(user, *permissions.VERIFIERS))


def _sdv_waiting(*, user: Viewer, site: str = "") -> QuerySet[InstrumentResponse]:
    """Complete forms not yet source-verified at the sites where the user verifies."""
    forms, sites = _verifies(user)
    if not forms:
        return InstrumentResponse.objects.none()
    responses = InstrumentResponse.objects.filter(
        status=ResponseStatus.COMPLETE, instrument__in=forms, participant__site_id__in=sites
    )
    if site:
        responses = responses.filter(participant__site__code=site)
    return responses


def sdv_responses(*, user: Viewer, site: str = "") -> QuerySet[InstrumentResponse]:
    """The SDV worklist, oldest first (the time the current version was saved), with how many
    fields of each form's current version are verified. A queryset: a page of it is one
    sliced SELECT, without the forms' values; the count is a subquery per row of the page."""
    verified = (
        FieldVerification.objects.filter(response=OuterRef("pk"), version=OuterRef("version"))
        .order_by()
        .values("response")
        .annotate(n=Count("id"))
        .values("n")
    )
    return (
        _sdv_waiting(user=user, site=site)
        .select_related("participant__site")
        .defer("items", "missing", "comments", "scores")
        .annotate(fields_verified=Coalesce(Subquery(verified, output_field=IntegerField()), 0))
        .order_by("updated_at", "id")
    )


# The forms waiting for verification, counted from the visits' progress rows (one per visit,
# kept by a trigger in the responses' own statements): the done forms that are not verified,
# among those the user may verify. A scan of every waiting form (200,000 at 10,000
# participants) was most of the SDV page's time.
SDV_WAITING_PER_SITE = """
    SELECT site.code, sum(bit_count(
               (progress.done_mask & ~progress.verified_mask & %(forms)s)::bit(64)))
    FROM assessments_visitprogress progress
    JOIN participants_participant participant ON participant.id = progress.participant_id
    JOIN trial_site site ON site.id = participant.site_id
    WHERE participant.site_id = ANY(%(sites)s)
      AND progress.done_mask & ~progress.verified_mask & %(forms)s <> 0
    GROUP BY site.code, site.number
    ORDER BY site.number
"""


def sdv_waiting_per_site(*, user: Viewer) -> dict[str, int]:
    """Forms waiting for verification per site code, in site order (sites with none left
    out): the count of `sdv_responses`, from one row per visit."""
    forms, sites = _verifies(user)
    if not forms:
        return {}
    mask = sum(progress_bit(code) for code in forms)
    with connection.cursor() as cursor:
        cursor.execute(SDV_WAITING_PER_SITE, {"forms": mask, "sites": sites})
        return {code: int(n) for code, n in cursor.fetchall()}


def sdv_rows(responses: Any) -> list[SdvRow]:
    """Rows of (a page of) `sdv_responses`."""
    return [
        SdvRow(
            response=r,
            site=r.participant.site.code,
            study_id=r.participant.study_id,
            completed_at=r.updated_at,
            fields_verified=r.fields_verified,
        )
        for r in responses
    ]


def sdv_worklist(*, user: Viewer, site: str = "") -> list[SdvRow]:
    """Every row of the SDV worklist (the page shows one page of `sdv_responses`)."""
    return sdv_rows(sdv_responses(user=user, site=site))


def unblinding_flags(responses: Any) -> dict[int, bool]:
    """Per response id: True when its rater had reported being unblinded on or before the day
    of the assessment (the randomization app flags them: assessments.contributions). One query
    for any number of responses. Show it only to `permissions.may_see_unblinding_flag` users."""
    return contributions.unblinding_flags(list(responses))


def response_history(response: InstrumentResponse) -> list[dict[str, Any]]:
    """Every saved version with who, when and why (the pghistory events)."""
    rows = []
    for event in events_of(response).order_by("pgh_id"):
        context = event.pgh_context or {}
        rows.append(
            {
                "version": event.version,
                "label": event.pgh_label,
                "at": event.pgh_created_at,
                "status": event.status,
                "user": context.get("username", ""),
                "reason": context.get("reason", ""),
            }
        )
    return rows


# -- the worklist: assessments/worklist.py (computed in SQL) --------------------------------
worklist = worklist_module.worklist
worklist_page = worklist_module.worklist_page
worklist_closing_counts = worklist_module.closing_counts
WORKLIST_ACTIVE_STATES = worklist_module.ACTIVE_STATES
worklist_sites = worklist_module.worklist_sites


# -- queries -----------------------------------------------------------------------------------
def queries_visible_to(user: Viewer) -> QuerySet[Query]:
    """Data managers see every query (those on IMRS_C too, whose values they never see);
    site staff and monitors see the queries on forms they may read."""
    queryset = Query.objects.select_related(
        "response", "response__participant", "response__participant__site", "raised_by"
    )
    if access.has_role(user, *permissions.QUERY_MANAGERS):
        return queryset
    site_ids = access.site_ids(
        user, *[r for r in permissions.QUERY_READERS if r not in permissions.QUERY_MANAGERS]
    )
    # Staff of every site need no site filter; leaving it out spares the query a join through
    # every response before the page is cut.
    if len(site_ids) < Site.objects.count():
        queryset = queryset.filter(response__participant__site_id__in=site_ids)
    hidden = [i.code for i in registry.all() if not i.blinded_readable]
    if access.is_blinded(user) and hidden:
        # NOT EXISTS rather than a join to every query's response: counting a blinded
        # user's queries then reads the hidden forms' ids from an index (30,000 at 10,000
        # participants) instead of scanning all the responses.
        queryset = queryset.exclude(
            Exists(
                InstrumentResponse.objects.filter(pk=OuterRef("response_id"), instrument__in=hidden)
            )
        )
    return queryset


def query_list(
    *,
    user: Viewer,
    status: str = "",
    site: str = "",
    participant: Any = None,
    unresolved: bool = False,
) -> QuerySet[Query]:
    queryset = queries_visible_to(user)
    if status:
        queryset = queryset.filter(status=status)
    if unresolved:
        queryset = queryset.filter(status__in=UNRESOLVED_QUERY_STATUSES)
    if site:
        queryset = queryset.filter(response__participant__site__code=site.upper())
    if participant:
        queryset = queryset.filter(response__participant_id=participant)
    return queryset


def query_get(*, user: Viewer, pk: Any) -> Query:
    try:
        return queries_visible_to(user).prefetch_related("messages__author").get(pk=int(pk))
    except (Query.DoesNotExist, ValueError, TypeError):
        raise NotFound(_("No such query.")) from None


def open_query_count() -> int:
    """Queries not closed yet (open or answered), trial-wide. The lock requires an override
    reason when this is not zero."""
    return Query.objects.filter(status__in=UNRESOLVED_QUERY_STATUSES).count()


def open_queries_by_site(user: Viewer) -> list[dict[str, Any]]:
    rows = (
        queries_visible_to(user)
        .filter(status__in=UNRESOLVED_QUERY_STATUSES)
        .values("response__participant__site__code", "response__participant__site__name")
        .annotate(
            open=Count("id", filter=Q(status=QueryStatus.OPEN)),
            answered=Count("id", filter=Q(status=QueryStatus.ANSWERED)),
        )
        .order_by("response__participant__site__number")
    )
    return [dict(row) for row in rows]


def open_queries_by_participant(user: Viewer) -> QuerySet[Query, Any]:
    """Unresolved queries per participant, most first (a queryset: slice it for a page)."""
    return (
        queries_visible_to(user)
        .filter(status__in=UNRESOLVED_QUERY_STATUSES)
        .values(
            "response__participant_id",
            "response__participant__study_id",
            "response__participant__site__code",
        )
        .annotate(
            open=Count("id", filter=Q(status=QueryStatus.OPEN)),
            answered=Count("id", filter=Q(status=QueryStatus.ANSWERED)),
            unresolved=Count("id"),
        )
        .order_by("-unresolved", "response__participant__study_id")
    )


def mhrm_spirituality_skips() -> dict[str, int]:
    """SPEC §7 asks to monitor how often the two spirituality items of the MHRM are skipped
    (plausibly often in a secular Danish sample): forms done, and forms with either skipped.
    Both counts are read from indexes (InstrumentResponse.Meta.indexes), not the responses."""
    done = InstrumentResponse.objects.filter(instrument="MHRM", status__in=DONE)
    return {
        "forms": done.count(),
        "skipped": done.filter(missing__has_any_keys=MHRM_SPIRITUALITY).count(),
    }


# -- register data -----------------------------------------------------------------------------
def current_register_import() -> RegisterImport | None:
    return RegisterImport.objects.filter(superseded_by__isnull=True).order_by("-id").first()


@dataclass(frozen=True)
class WindowCounts:
    """Service use of one participant in one analysis window. `status`: ok, not_linked (no
    line for the participant in the current import: linkage failed), crosses_boundary (a
    period runs across the window's first or last day, so its counts cannot be attributed),
    not_randomised."""

    window: str
    start: date | None
    end: date | None
    status: str
    ADM_N: int | None = None
    ADM_DAYS: int | None = None
    ER_N: int | None = None
    OPC_N: int | None = None


def service_use_by_window(participants: Any = None) -> dict[int, dict[str, WindowCounts]]:
    """For the exports: per participant (id) and window (W_PRE, W1, W2, W_ALL), the summed
    counts of the current register import. No record in a window means 0 (SPEC §11).

    `participants` (people or ids) limits the work to them: the export asks for a few thousand
    at a time, so that memory stays flat however many periods the import holds. Periods are
    read as plain tuples, not model instances (a million of them at 100,000 participants)."""
    current = current_register_import()
    people = Participant.objects.all()
    periods = ServiceUsePeriod.objects.filter(register_import=current)
    if participants is not None:
        ids = [getattr(p, "pk", p) for p in participants]
        people = people.filter(pk__in=ids)
        periods = periods.filter(participant_id__in=ids)
    own: dict[int, list[tuple[date, date, int, int, int, int]]] = defaultdict(list)
    if current is not None:
        for pid, *period in periods.order_by().values_list(
            "participant_id",
            "period_start",
            "period_end",
            "admissions",
            "admission_days",
            "emergency_visits",
            "outpatient_contacts",
        ):
            own[pid].append(tuple(period))  # type: ignore[arg-type]
    result: dict[int, dict[str, WindowCounts]] = {}
    for pk, randomized_at in people.order_by().values_list("pk", "randomized_at"):
        randomized_on = randomization_day(randomized_at)
        if randomized_on is None:
            result[pk] = {w: WindowCounts(w, None, None, "not_randomised") for w in WINDOWS}
            continue
        result[pk] = _windows_of(own.get(pk, []), windows.service_use_windows(randomized_on))
    return result


def _windows_of(
    own: list[tuple[date, date, int, int, int, int]], spans: dict[str, tuple[date, date]]
) -> dict[str, WindowCounts]:
    per_window: dict[str, WindowCounts] = {}
    for name in WINDOWS:
        start, end = spans[name]
        if not own:
            per_window[name] = WindowCounts(name, start, end, "not_linked")
            continue
        # One pass over the periods (the export asks this for every participant): sum those
        # inside the window; one that overlaps it without being inside makes it cross.
        admissions = admission_days = emergency = outpatient = 0
        crosses = False
        for first, last, adm_n, adm_days, er_n, opc_n in own:
            if start <= first and last <= end:
                admissions += adm_n
                admission_days += adm_days
                emergency += er_n
                outpatient += opc_n
            elif first <= end and last >= start:
                crosses = True
                break
        if crosses:
            per_window[name] = WindowCounts(name, start, end, "crosses_boundary")
            continue
        per_window[name] = WindowCounts(
            name,
            start,
            end,
            "ok",
            ADM_N=admissions,
            ADM_DAYS=admission_days,
            ER_N=emergency,
            OPC_N=outpatient,
        )
    return per_window


# -- the participant overview's timeline (trial.timeline contract) --------------------------
def participant_timeline(participant: Any, user: Viewer) -> list[TimelineEntry]:
    if not access.has_role_at(user, participant.site_id, *permissions.READERS):
        return []
    entries: list[TimelineEntry] = []
    for response in InstrumentResponse.objects.filter(participant=participant).order_by("id"):
        instrument = registry.find(response.instrument)
        if instrument is None:
            continue
        url = reverse(
            "assessments:form",
            kwargs={"pk": participant.pk, "timepoint": response.timepoint, "code": instrument.code},
        )
        when = response.interview_date or timezone.localdate(response.updated_at)
        entries.append(
            TimelineEntry(
                when=when,
                title=f"{instrument.short_name} · {Timepoint(response.timepoint).label}",
                detail=response.get_status_display(),
                url=url
                if permissions.may_read_values(user, participant.site_id, instrument)
                else "",
            )
        )
    randomized_on = windows.randomization_date(participant)
    if randomized_on is not None:
        for timepoint in (Timepoint.POST, Timepoint.FOLLOWUP):
            visit = windows.window(participant, timepoint, randomized_on=randomized_on)
            assert visit.due and visit.opens and visit.closes
            entries.append(
                TimelineEntry(
                    when=visit.due,
                    title=gettext("{timepoint} due").format(timepoint=Timepoint(timepoint).label),
                    detail=gettext("Window {opens} – {closes}").format(
                        opens=date_format(visit.opens, "SHORT_DATE_FORMAT"),
                        closes=date_format(visit.closes, "SHORT_DATE_FORMAT"),
                    ),
                    url=reverse("assessments:participant", kwargs={"pk": participant.pk}),
                )
            )
    return entries


# -- the participant's audit history (trial.audit_trail contract) ---------------------------
RESPONSE_VALUE_FIELDS = frozenset({"items", "missing", "comments", "scores"})
VALUES_WITHHELD = _("(not shown: blinded staff do not see this form's values)")


def unreadable_when_blinded() -> list[str]:
    """Codes of the instruments blinded users may not read (IMRS_C)."""
    return [i.code for i in registry.all() if not i.blinded_readable]


def _form_label(instrument: str, timepoint: str) -> str:
    found = registry.find(instrument)
    name = found.short_name if found is not None else instrument
    label = Timepoint(timepoint).label if timepoint in Timepoint.values else timepoint
    return f"{name} · {label}"


def _readable_responses(viewer: Viewer, prefix: str = "") -> Q:
    """The rows about forms the viewer may read (every form, or all but IMRS_C)."""
    if access.may_see_allocation(viewer):
        return Q()
    return ~Q(**{f"{prefix}instrument__in": unreadable_when_blinded()})


def _withheld_responses(viewer: Viewer) -> Q | None:
    """Blinded viewers see that IMRS_C was entered or changed, and when, by whom: not what."""
    if access.may_see_allocation(viewer):
        return None
    return Q(instrument__in=unreadable_when_blinded())


def _visible_queries(viewer: Viewer, prefix: str) -> Q:
    """The same rule as `queries_visible_to`: data managers see every query; other blinded
    viewers not those on forms they may not read."""
    if access.has_role(viewer, *permissions.QUERY_MANAGERS):
        return Q()
    return _readable_responses(viewer, prefix)


def _register_imports_of(participant_id: Any) -> Q:
    return Q(
        pgh_obj_id__in=ServiceUsePeriod.objects.filter(participant_id=participant_id).values(
            "register_import_id"
        )
    )


def participant_audit_sources() -> list[AuditSource]:
    """Every version of every form (old and new item values, the reason), verification,
    queries and their conversation, and the register data. Nothing here depends on the arm;
    IMRS_C (rated by the unblinded clinician) shows its values and reasons only to viewers who
    may see allocation: blinded viewers see the entry without values or reasons."""
    response_fields = {
        "items": _("Item"),
        "missing": _("Missing"),
        "comments": _("Comment"),
        "scores": _("Score"),
        "rater_role": _("Rater's role"),
        "first_completed_at": _("First completed"),
    }
    return [
        AuditSource(
            event_model(InstrumentResponse),
            "participant_id",
            _("Assessment"),
            blinded_may_see=True,
            hidden_fields=frozenset({"participant", "created_at", "updated_at"}),
            describe=lambda e: _form_label(e.instrument, e.timepoint),
            field_labels=response_fields,
            rows=_readable_responses,
        ),
        AuditSource(
            event_model(InstrumentResponse),
            "participant_id",
            _("Assessment"),
            blinded_may_see=True,
            hidden_fields=frozenset(
                {"participant", "created_at", "updated_at", *RESPONSE_VALUE_FIELDS}
            ),
            describe=lambda e: gettext("{form} (values not shown to blinded staff)").format(
                form=_form_label(e.instrument, e.timepoint)
            ),
            field_labels=response_fields,
            rows=_withheld_responses,
            reason_withheld=VALUES_WITHHELD,
        ),
        AuditSource(
            event_model(Query),
            "response__participant_id",
            "Query",
            blinded_may_see=True,
            hidden_fields=frozenset({"response"}),
            describe=lambda e: (
                f"Query {e.pgh_obj_id} on "
                f"{_form_label(e.response.instrument, e.response.timepoint)}"
            ),
            field_labels={"item": _("Field"), "edit_check": _("Edit check")},
            rows=lambda viewer: _visible_queries(viewer, "response__"),
            related=("response",),
        ),
        AuditSource(
            event_model(QueryMessage),
            "query__response__participant_id",
            "Query message",
            blinded_may_see=True,
            hidden_fields=frozenset({"query"}),
            describe=lambda e: gettext("Query {number}: {action}").format(
                number=e.query_id, action=e.get_action_display().lower()
            ),
            field_labels={"author_role": _("Author's role")},
            rows=lambda viewer: _visible_queries(viewer, "query__response__"),
        ),
        AuditSource(
            event_model(ServiceUsePeriod),
            "participant_id",
            "Register data",
            blinded_may_see=True,
            hidden_fields=frozenset({"participant"}),
            # The dates' format is the translation's (dd-mm-åååå in Danish).
            describe=lambda e: gettext(
                "Register data {start:%Y-%m-%d} – {end:%Y-%m-%d} (import {number}, line {line})"
            ).format(
                start=e.period_start, end=e.period_end, number=e.register_import_id, line=e.line
            ),
            field_labels={"register_import": _("Import"), "line": _("Line in the file")},
        ),
        AuditSource(
            event_model(FieldVerification),
            "response__participant_id",
            "Field verification",
            blinded_may_see=True,
            hidden_fields=frozenset({"response"}),
            describe=lambda e: (
                f"{_form_label(e.response.instrument, e.response.timepoint)}: "
                f"{e.item} source-verified (version {e.version})"
            ),
            field_labels={"item": "Field", "version": "Version"},
            rows=lambda viewer: _readable_responses(viewer, "response__"),
            related=("response",),
        ),
        AuditSource(
            event_model(RegisterImport),
            _register_imports_of,
            "Register import",
            blinded_may_see=True,
            # The keyed hash of the file identifies it to the system only.
            hidden_fields=frozenset({"file_sha256"}),
            describe=lambda e: gettext("Register import {number}").format(number=e.pgh_obj_id),
            field_labels={
                "participants": _("Participants linked"),
                "lines": _("Lines in the file"),
            },
        ),
    ]
