"""Pages: the worklist, a participant's forms, the instrument forms, queries and the register
import. Thin: access through assessments.permissions and the selectors, writes through the
services; every form keeps what the user typed when something is refused."""

from __future__ import annotations

import importlib
from datetime import date
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.uploadhandler import MemoryFileUploadHandler, StopUpload
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_POST

from assessments import contributions, permissions, selectors, services, windows
from assessments import forms as entry_forms
from assessments import worklist as worklist_module
from assessments.api.responses import derived_values
from assessments.models import (
    FIELD_LABELS,
    QueryStatus,
    RegisterImport,
    ResponseStatus,
    Timepoint,
)
from assessments.register import COLUMNS
from assessments.services.queries import MESSAGE_MAX_LENGTH
from instruments import psp, registry
from instruments.base import Instrument
from participants.models import Participant
from trial import access, paging
from trial.access import Viewer
from trial.errors import Conflict, Forbidden, Invalid, TrialError
from trial.inputs import whole_number
from trial.selectors import lock_level


def _require(request: HttpRequest, *roles: str) -> None:
    if not access.has_role(request.user, *roles):
        raise Forbidden(_("Your role does not give access to this page."))


# -- worklist ------------------------------------------------------------------------------------
@login_required
def worklist(request: HttpRequest) -> HttpResponse:
    """One page of the user's visits, most urgent first; it opens on those that still need
    forms (due, open, overdue), completed ones behind the state filter."""
    _require(request, *permissions.ENTERING_ROLES)
    state = request.GET.get("state", "active")
    site = request.GET.get("site", "")
    states = worklist_module.parse_states(state)
    number = paging.page_number(request)
    found = selectors.worklist_page(
        user=request.user,
        states=states,
        site=site,
        offset=(number - 1) * paging.PAGE_SIZE,
        limit=paging.PAGE_SIZE,
    )
    pager = paging.pager(request, number=number, count=found.count)
    if pager.number != number:  # past the last page: show the last one
        found = selectors.worklist_page(
            user=request.user,
            states=states,
            site=site,
            offset=(pager.number - 1) * paging.PAGE_SIZE,
            limit=paging.PAGE_SIZE,
        )
    # Links are built from one reversed prefix, not a {% url %} per form.
    prefix = reverse("assessments:participant", kwargs={"pk": 0}).removesuffix("0/")
    return render(
        request,
        "assessments/worklist.html",
        {
            "rows": list(
                zip(
                    found.rows,
                    _forms_cells(prefix, found.rows),
                    _row_dates(found.rows),
                    strict=True,
                )
            ),
            "counts": found.counts,
            "pager": pager,
            "filters": {"state": state if state in STATE_FILTERS else "", "site": site},
            "sites": selectors.worklist_sites(request.user),
            "states": STATE_FILTERS,
            "participants_prefix": prefix,
        },
    )


# The worklist's state filter: the visits still to do (the default), each state, everything.
STATE_FILTERS = ("active", "due", "open", "overdue", "completed", "all")


def _forms_cells(prefix: str, rows: list[worklist_module.WorklistRow]) -> list[str]:
    """Each row's form links as HTML. A page of 50 visits has some 450 forms: template tags
    per form, or format_html per form (ten escapes each), cost more than the rest of the
    page, so a value of the fixed vocabularies (codes, statuses, names, labels) is escaped
    once per page and a row's own (its visit's link, its study ID) once per row."""
    labels = {
        "not_started": _("not started"),
        "draft": _("draft"),
        "complete": _("complete"),
    }
    verified = _("verified")
    escaped: dict[str, str] = {}

    def safe(value: str) -> str:
        if value not in escaped:
            escaped[value] = escape(value)
        return escaped[value]

    cells: list[str] = []
    for row in rows:
        visit = safe(row.timepoint)
        link = f"{safe(prefix)}{int(row.participant_id)}/{visit}/"
        form_id = f"{escape(row.study_id)}-{visit}-"
        cells.append(
            mark_safe(  # noqa: S308 (every value escaped above)
                "".join(
                    f'<li><a href="{link}{safe(form.code)}/" class="form-link '
                    f'status-{safe(form.status)}" data-form="{form_id}{safe(form.code)}">'
                    f"{safe(form.name)}</a> "
                    f'<span class="muted small">{safe(labels.get(form.status, verified))}'
                    "</span></li>"
                    for form in row.forms
                )
            )
        )
    return cells


def _row_dates(rows: list[worklist_module.WorklistRow]) -> list[dict[str, str]]:
    """Each row's dates as the page shows them (the `date` filter's SHORT_DATE_FORMAT),
    each distinct date formatted once: the rows of a page share most of their dates."""
    shown: dict[date, str] = {}

    def show(day: date | None) -> str:
        if day is None:
            return ""
        if day not in shown:
            shown[day] = formats.date_format(day, "SHORT_DATE_FORMAT")
        return shown[day]

    return [{"closes": show(r.closes), "due": show(r.due), "opens": show(r.opens)} for r in rows]


# -- a participant's forms -----------------------------------------------------------------------
def blinding_guess_panel(request: HttpRequest, participant: Participant, timepoint: str) -> str:
    """The assessor's blinding guess (IMR / TAU / don't know) at post-intervention and
    follow-up belongs to the randomisation app. When it provides
    `randomization.views.blinding_guess_panel(request, participant, timepoint) -> str`
    (rendered HTML, empty when not applicable), it is shown in this page's slot."""
    if timepoint == Timepoint.BASELINE:
        return ""
    try:
        module = importlib.import_module("randomization.views")
    except ImportError:
        return ""
    panel = getattr(module, "blinding_guess_panel", None)
    return panel(request, participant, timepoint) if panel is not None else ""


@login_required
def participant_forms(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, *permissions.READERS)
    participant = selectors.participant_get(user=request.user, pk=pk)
    saved = selectors.responses_of(participant)
    flags = (
        selectors.unblinding_flags(saved.values())
        if permissions.may_see_unblinding_flag(request.user)
        else {}
    )
    randomized_on = windows.randomization_date(participant)
    today = timezone.localdate()
    # While frozen or locked no form can be saved: none is offered for entry (the banner
    # says why); saved ones can still be viewed.
    entry_open = lock_level() == "open"
    timepoints = []
    for timepoint in Timepoint.values:
        visit = windows.window(participant, timepoint, randomized_on=randomized_on)
        forms: list[dict[str, Any]] = []
        for instrument in registry.for_timepoint(timepoint):
            response = saved.get((timepoint, instrument.code))
            forms.append(
                {
                    "instrument": instrument,
                    "response": response,
                    "may_read": permissions.may_read_values(
                        request.user, participant.site_id, instrument
                    ),
                    "may_enter": permissions.may_enter(
                        request.user, participant.site_id, instrument
                    ),
                    "unblinding_flag": bool(response and flags.get(response.pk)),
                }
            )
            forms[-1]["offer_entry"] = entry_open and forms[-1]["may_enter"]
        # The state is that of the forms the user enters (as on their worklist), else of all.
        entered = [f for f in forms if f["may_enter"]] or forms
        done = all(f["response"] is not None and f["response"].is_done for f in entered)
        timepoints.append(
            {
                "code": timepoint,
                "label": Timepoint(timepoint).label,
                "window": visit,
                "state": visit.state(done=done, today=today) if visit.due else "",
                # Said on the page: a coordinator's "completed" (demographics) is not the visit's.
                "own_forms_only": len(entered) < len(forms),
                "forms": forms,
                "blinding_guess": blinding_guess_panel(request, participant, timepoint),
                # What the apps above add (the casebooks app: signatures, printed CRFs).
                "panels": mark_safe(  # noqa: S308 (rendered by the contributing app's template)
                    contributions.visit_panel_html(request, participant, timepoint)
                ),
            }
        )
    return render(
        request,
        "assessments/participant.html",
        {
            "participant": participant,
            "randomized_on": randomized_on,
            "timepoints": timepoints,
            "queries": selectors.query_list(user=request.user, participant=participant.pk).order_by(
                "status", "-raised_at"
            )
            if access.has_role(request.user, *permissions.QUERY_READERS)
            else [],
        },
    )


# -- the instrument form -------------------------------------------------------------------------
def _form_context(
    request: HttpRequest,
    participant: Participant,
    timepoint: str,
    instrument: Instrument,
    *,
    rows: list[entry_forms.Row],
    meta: dict[str, Any],
    errors: dict[str, list[str]] | None = None,
    typed: dict[str, Any] | None = None,
) -> dict[str, Any]:
    response = selectors.response_find(participant, timepoint, instrument.code)
    may_enter = permissions.may_enter(request.user, participant.site_id, instrument)
    level = lock_level()
    scores = []
    if response is not None:
        for score in instrument.scores:
            scores.append({"score": score, "value": response.scores.get(score.code)})
    item_values = typed if typed is not None else (response.items if response else {})
    editable = may_enter and level == "open"
    marks = selectors.field_verifications(response) if response else {}
    for row in rows:
        row.verification = marks.get(row.item.code)
    return {
        "participant": participant,
        "timepoint": timepoint,
        "timepoint_label": Timepoint(timepoint).label,
        "instrument": instrument,
        "response": response,
        "sections": entry_forms.sections(rows),
        "meta": meta,
        "errors": errors or {},
        "error_summary": entry_forms.error_summary(rows, errors or {}),
        "scores": scores,
        "editable": editable,
        # Autosave writes drafts without a reason, so only on a form never completed: after
        # the first completion every change needs a reason and is saved by the user.
        "autosave": editable and (response is None or response.first_completed_at is None),
        "next_form": _next_form(request.user, participant, timepoint, instrument)
        if response is not None
        else None,
        "may_enter": may_enter,
        "lock_level": level,
        "needs_reason": response is not None and response.first_completed_at is not None,
        "may_verify": permissions.may_verify(request.user, instrument)
        and response is not None
        and response.status == ResponseStatus.COMPLETE
        and level != "lock",
        "may_verify_fields": permissions.may_verify(request.user, instrument)
        and response is not None
        and response.is_done
        and level != "lock",
        "interview_date_mark": marks.get("interview_date"),
        "may_raise_query": permissions.may_manage_queries(request.user)
        and response is not None
        and level != "lock",
        "query_draft": _query_draft(request, participant, timepoint, instrument),
        "query_max_length": MESSAGE_MAX_LENGTH,
        "query_fields": [
            *((code, label) for code, label in FIELD_LABELS.items() if code != "status"),
            *((item.code, item.code) for item in instrument.entered_items),
        ],
        "queries": list(response.queries.order_by("status", "-raised_at")) if response else [],
        "history": selectors.response_history(response) if response else [],
        "psp_interval": psp.interval(item_values) if instrument.code == "PSP" else None,
        "psp_decile": psp.domain_decile(item_values) if instrument.code == "PSP" else None,
        "is_psp": instrument.code == "PSP",
        "unblinding_flag": response is not None
        and permissions.may_see_unblinding_flag(request.user)
        and selectors.unblinding_flags([response])[response.pk],
        "missing_reasons": entry_forms.MissingReason.choices,
    }


def _next_form(
    user: Viewer, participant: Participant, timepoint: str, instrument: Instrument
) -> Instrument | None:
    """The next form of this visit the user enters and has not completed: the first after
    this one in form order, else the first before it; None when all are done."""
    saved = selectors.responses_of(participant)
    mine = [
        candidate
        for candidate in registry.for_timepoint(timepoint)
        if candidate.form_entry and permissions.may_enter(user, participant.site_id, candidate)
    ]
    if instrument not in mine:
        return None
    here = mine.index(instrument)
    for candidate in mine[here + 1 :] + mine[:here]:
        response = saved.get((timepoint, candidate.code))
        if response is None or not response.is_done:
            return candidate
    return None


# A query that was refused comes back to the form's page with what the data manager typed.
QUERY_DRAFT = "assessments.query_draft"


def _query_draft(
    request: HttpRequest, participant: Participant, timepoint: str, instrument: Instrument
) -> dict[str, str]:
    draft = request.session.get(QUERY_DRAFT)
    if not draft or draft.get("form") != [participant.pk, timepoint, instrument.code]:
        return {"item": "", "message": ""}
    del request.session[QUERY_DRAFT]
    return {"item": draft["item"], "message": draft["message"]}


@login_required
def form(request: HttpRequest, pk: int, timepoint: str, code: str) -> HttpResponse:
    _require(request, *permissions.READERS, *permissions.ENTERING_ROLES)
    participant = selectors.participant_get(user=request.user, pk=pk)
    timepoint = selectors.parse_timepoint(timepoint)
    instrument = selectors.form_instrument(code, timepoint)
    if not permissions.may_read_values(request.user, participant.site_id, instrument):
        raise Forbidden(
            _(
                "{code} is rated by the participant's own clinician, who is not blinded; "
                "blinded staff cannot open it."
            ).format(
                code=instrument.code,
            )
        )
    response = selectors.response_find(participant, timepoint, instrument.code)
    derived = (
        derived_values(response, instrument)
        if response
        else (
            {k: v for k, v in instrument.derive(participant).items()} if instrument.derive else {}
        )
    )
    if request.method == "POST":
        rows, items, missing, comments = entry_forms.rows_from_post(
            instrument, request.POST, derived
        )
        meta_form = entry_forms.EntryMetaForm(request.POST)
        meta: dict[str, Any] = {
            "interview_date": request.POST.get("interview_date", ""),
            "version": request.POST.get("version", ""),
            "reason": request.POST.get("reason", ""),
        }
        status_code = 400
        errors: dict[str, list[str]] = {}
        if not meta_form.is_valid():
            errors = {k: [str(m) for m in v] for k, v in meta_form.errors.items()}
        else:
            data = meta_form.cleaned_data
            try:
                result = services.response_save(
                    user=request.user,
                    participant=participant,
                    timepoint=timepoint,
                    code=instrument.code,
                    items=items,
                    missing=missing,
                    comments=comments,
                    status=data["status"],
                    version=data["version"],
                    reason=data["reason"],
                    interview_date=data["interview_date"],
                )
            except (Invalid, Conflict) as error:
                status_code = error.status
                errors = dict(error.fields or {"__all__": [error.message]})
            else:
                saved = result.response
                text = (
                    f"Saved {instrument.short_name} as {saved.get_status_display().lower()} "
                    f"(version {saved.version})."
                    if result.changed
                    else "Nothing changed."
                )
                messages.success(request, text)
                for finding in result.queries_opened:
                    messages.warning(
                        request, _("Query opened: {message}").format(message=finding.message)
                    )
                return redirect(request.path)
        rest = entry_forms.attach_errors(rows, errors)
        typed = {k: v for k, v in items.items() if isinstance(v, int | float)}
        context = _form_context(
            request,
            participant,
            timepoint,
            instrument,
            rows=rows,
            meta=meta,
            errors=rest,
            typed=typed,
        )
        return render(request, "assessments/form.html", context, status=status_code)

    rows = entry_forms.rows_from_response(instrument, response, derived)
    meta = {
        "interview_date": entry_forms.initial_interview_date(response, timezone.localdate()),
        "version": response.version if response else 0,
        "reason": "",
    }
    return render(
        request,
        "assessments/form.html",
        _form_context(request, participant, timepoint, instrument, rows=rows, meta=meta),
    )


@login_required
@require_POST
def autosave(request: HttpRequest, pk: int, timepoint: str, code: str) -> HttpResponse:
    """The form's automatic draft save (htmx, a moment after each change): what is typed is
    saved as a draft version without a reason. Never on a form that was completed once: from
    then on every change needs a reason, so the user saves it with one. The answer is the
    autosave line of the page, plus the new version for the form (out of band)."""
    _require(request, *permissions.ENTERING_ROLES)
    participant = selectors.participant_get(user=request.user, pk=pk)
    timepoint = selectors.parse_timepoint(timepoint)
    instrument = selectors.form_instrument(code, timepoint)
    response = selectors.response_find(participant, timepoint, instrument.code)
    context: dict[str, Any] = {"response": response, "saved": False}
    if response is not None and response.first_completed_at is not None:
        context["problem"] = _(
            "Not saved automatically: this form was completed before, so a change needs a "
            "reason. Give it below and save."
        )
        return render(request, "assessments/_autosave.html", context, status=409)
    derived = derived_values(response, instrument) if response else {}
    _rows, items, missing, comments = entry_forms.rows_from_post(instrument, request.POST, derived)
    meta_form = entry_forms.EntryMetaForm({**request.POST.dict(), "status": "draft"})
    if not meta_form.is_valid():
        context["problem"] = _("Draft not saved: the interview date is not a date.")
        return render(request, "assessments/_autosave.html", context, status=400)
    data = meta_form.cleaned_data
    try:
        result = services.response_save(
            user=request.user,
            participant=participant,
            timepoint=timepoint,
            code=instrument.code,
            items=items,
            missing=missing,
            comments=comments,
            status=ResponseStatus.DRAFT,
            version=data["version"],
            reason="",
            interview_date=data["interview_date"],
        )
    except TrialError as error:
        problems = [m for ms in (error.fields or {}).values() for m in ms] or [error.message]
        context["problem"] = _("Draft not saved: %(problems)s") % {"problems": " ".join(problems)}
        return render(request, "assessments/_autosave.html", context, status=error.status)
    context.update(response=result.response, saved=True, at=timezone.localtime())
    return render(request, "assessments/_autosave.html", context)


@login_required
@require_GET
def psp_interval(request: HttpRequest) -> HttpResponse:
    """The interval the PSP domain ratings allow, for the form's live hint (htmx)."""
    _require(request, *permissions.READERS, *permissions.ENTERING_ROLES)
    values: dict[str, Any] = {}
    for code in (*psp.DOMAINS, "PSP_D9_PROMPT", "PSP_D10_SURVIVAL"):
        raw = request.GET.get(f"item-{code}", "").strip()
        if (value := whole_number(raw)) is not None:
            values[code] = value
    domains_ok = all(values.get(c) in range(1, 7) for c in psp.DOMAINS)
    return render(
        request,
        "assessments/_psp_interval.html",
        {
            "psp_interval": psp.interval(values) if domains_ok else None,
            "psp_decile": psp.domain_decile(values) if domains_ok else None,
        },
    )


@login_required
@require_POST
def verify(request: HttpRequest, pk: int, timepoint: str, code: str) -> HttpResponse:
    _require(request, *permissions.VERIFIERS)
    participant = selectors.participant_get(user=request.user, pk=pk)
    timepoint = selectors.parse_timepoint(timepoint)
    instrument = selectors.form_instrument(code, timepoint)
    response = selectors.response_find(participant, timepoint, instrument.code)
    if response is None:
        raise Invalid(_("Nothing is saved to verify."))
    version = request.POST.get("version", "")
    try:
        services.response_verify(
            user=request.user,
            response=response,
            version=whole_number(version),
        )
    except TrialError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            _("Version {version} marked as source-verified.").format(
                version=response.version,
            ),
        )
    return redirect("assessments:form", pk=pk, timepoint=timepoint, code=instrument.code)


@login_required
@require_POST
def verify_fields(request: HttpRequest, pk: int, timepoint: str, code: str) -> HttpResponse:
    """Field-level source-data verification: the fields ticked on the form's page."""
    _require(request, *permissions.VERIFIERS)
    participant = selectors.participant_get(user=request.user, pk=pk)
    timepoint = selectors.parse_timepoint(timepoint)
    instrument = selectors.form_instrument(code, timepoint)
    response = selectors.response_find(participant, timepoint, instrument.code)
    if response is None:
        raise Invalid(_("Nothing is saved to verify."))
    try:
        marks = services.response_verify_fields(
            user=request.user,
            response=response,
            version=whole_number(request.POST.get("version", "")),
            fields=request.POST.getlist("field"),
        )
    except TrialError as error:
        for message in [m for ms in (error.fields or {}).values() for m in ms] or [error.message]:
            messages.error(request, message)
    else:
        messages.success(
            request,
            _("%(count)d fields of version %(version)d marked as source-verified.")
            % {"count": len(marks), "version": response.version},
        )
    return redirect("assessments:form", pk=pk, timepoint=timepoint, code=instrument.code)


@login_required
def sdv_worklist(request: HttpRequest) -> HttpResponse:
    """Monitors' and data managers' source-data verification worklist: complete forms not yet
    verified, per site, oldest first."""
    _require(request, *permissions.VERIFIERS)
    site = request.GET.get("site", "")
    # The counts per site are one aggregate, which also gives the list's length; a page of
    # forms is one sliced SELECT.
    per_site = selectors.sdv_waiting_per_site(user=request.user)
    count = per_site.get(site, 0) if site else sum(per_site.values())
    pager = paging.pager(request, number=paging.page_number(request), count=count)
    start = (pager.number - 1) * paging.PAGE_SIZE
    responses = selectors.sdv_responses(user=request.user, site=site)
    return render(
        request,
        "assessments/sdv.html",
        {
            "rows": selectors.sdv_rows(responses[start : start + paging.PAGE_SIZE]),
            "total": count,
            "pager": pager,
            "per_site": per_site,
            "site": site,
        },
    )


@login_required
@require_POST
def raise_query(request: HttpRequest, pk: int, timepoint: str, code: str) -> HttpResponse:
    _require(request, *permissions.QUERY_MANAGERS)
    participant = selectors.participant_get(user=request.user, pk=pk)
    timepoint = selectors.parse_timepoint(timepoint)
    instrument = selectors.form_instrument(code, timepoint)
    try:
        response = services.response_for_query(
            participant=participant, timepoint=timepoint, code=instrument.code
        )
        query = services.query_raise(
            user=request.user,
            response=response,
            item=request.POST.get("item", ""),
            message=request.POST.get("message", ""),
        )
    except TrialError as error:
        details = [m for ms in (error.fields or {}).values() for m in ms] or [error.message]
        for detail in details:
            messages.error(request, detail)
        request.session[QUERY_DRAFT] = {
            "form": [participant.pk, timepoint, instrument.code],
            "item": request.POST.get("item", ""),
            "message": request.POST.get("message", ""),
        }
        return redirect("assessments:form", pk=pk, timepoint=timepoint, code=instrument.code)
    messages.success(request, _("Query {pk} raised.").format(pk=query.pk))
    return redirect("assessments:query", query_id=query.pk)


# -- queries -------------------------------------------------------------------------------------
@login_required
def query_list(request: HttpRequest) -> HttpResponse:
    _require(request, *permissions.QUERY_READERS)
    status = request.GET.get("status", "")
    site = request.GET.get("site", "")
    participant = request.GET.get("participant", "")
    show_all = status == "all"
    queryset = selectors.query_list(
        user=request.user,
        status="" if show_all else status,
        site=site,
        participant=whole_number(participant),
        unresolved=not status,
    ).order_by("raised_at", "id")
    page, pager = paging.paginate(request, queryset)
    by_participant = selectors.open_queries_by_participant(request.user)
    return render(
        request,
        "assessments/queries.html",
        {
            "queries": page.object_list,
            "pager": pager,
            "by_site": selectors.open_queries_by_site(request.user),
            # The participants with most unresolved queries first, one page of them.
            "by_participant": by_participant[: paging.PAGE_SIZE],
            "by_participant_count": by_participant.count(),
            "filters": {"status": status, "site": site, "participant": participant},
            "statuses": [("", _("Open and answered")), *QueryStatus.choices, ("all", _("All"))],
            "is_manager": permissions.may_manage_queries(request.user),
            "spirituality": selectors.mhrm_spirituality_skips()
            if permissions.may_manage_queries(request.user)
            else None,
        },
    )


@login_required
def query_detail(request: HttpRequest, query_id: int) -> HttpResponse:
    _require(request, *permissions.QUERY_READERS)
    query = selectors.query_get(user=request.user, pk=query_id)
    response = query.response
    instrument = registry.get(response.instrument)
    site_id = response.participant.site_id
    typed = ""
    error_message = ""
    status_code = 200
    if request.method == "POST":
        action = request.POST.get("action", "")
        typed = request.POST.get("text", "")
        try:
            if action == "answer":
                services.query_answer(user=request.user, query=query, text=typed)
            elif action == "close":
                services.query_close(user=request.user, query=query, text=typed)
            elif action == "reopen":
                services.query_reopen(user=request.user, query=query, text=typed)
            else:
                raise Invalid(_("Unknown action."))
        except TrialError as error:
            status_code = error.status
            error_message = (
                " ".join(m for ms in (error.fields or {}).values() for m in ms) or error.message
            )
        else:
            messages.success(
                request, _("Query {pk}: {action} recorded.").format(pk=query.pk, action=action)
            )
            return redirect("assessments:query", query_id=query.pk)
        query = selectors.query_get(user=request.user, pk=query_id)
    return render(
        request,
        "assessments/query.html",
        {
            "query": query,
            "instrument": instrument,
            "form_url": reverse(
                "assessments:form",
                kwargs={
                    "pk": response.participant_id,
                    "timepoint": response.timepoint,
                    "code": response.instrument,
                },
            )
            if permissions.may_read_values(request.user, site_id, instrument)
            else "",
            "may_answer": permissions.may_answer_query(request.user, site_id, instrument)
            and query.status != QueryStatus.CLOSED,
            "may_manage": permissions.may_manage_queries(request.user),
            "unblinded_writer": not access.is_blinded(request.user),
            "typed": typed,
            # What was typed goes back into the form it was typed in.
            "typed_for": "answer" if request.POST.get("action") == "answer" else "manage",
            "max_length": MESSAGE_MAX_LENGTH,
            "error_message": error_message,
            "locked": lock_level() == "lock",
        },
        status=status_code,
    )


# -- register data -------------------------------------------------------------------------------
class InMemoryUploadHandler(MemoryFileUploadHandler):
    """Keeps the uploaded register file in memory whatever its size (up to the limit): it
    holds CPR numbers, which must never land in a temporary file on disk."""

    def handle_raw_input(
        self, input_data: Any, META: Any, content_length: int, boundary: Any, encoding: Any = None
    ) -> None:
        from django.conf import settings

        if content_length > settings.REGISTER_IMPORT_MAX_BYTES + 64 * 1024:
            raise StopUpload(connection_reset=True)
        self.activated = True


@csrf_exempt
def register_import(request: HttpRequest) -> HttpResponse:
    # The upload handlers must be set before anything reads request.POST, and the CSRF
    # middleware would read it: so CSRF is checked here, after the handler is in place.
    request.upload_handlers = [InMemoryUploadHandler(request)]
    return _register_import(request)


@csrf_protect
@login_required
def _register_import(request: HttpRequest) -> HttpResponse:
    _require(request, *permissions.REGISTER_IMPORTERS)
    errors: list[str] = []
    note = ""
    status_code = 200
    if request.method == "POST":
        note = request.POST.get("note", "")
        upload = request.FILES.get("file")
        try:
            record = services.register_import(
                user=request.user, content=upload.read() if upload else b"", note=note
            )
        except TrialError as error:
            status_code = error.status
            errors = [m for ms in (error.fields or {}).values() for m in ms] or [error.message]
        else:
            messages.success(
                request,
                _(
                    "Imported {lines} lines for {participants} participants; the previous "
                    "import is superseded."
                ).format(
                    lines=record.lines,
                    participants=record.participants,
                ),
            )
            return redirect("assessments:register_import")
    return render(
        request,
        "assessments/register.html",
        {
            "imports": RegisterImport.objects.select_related("imported_by")[:50],
            "errors": errors,
            "note": note,
            "columns": ", ".join(COLUMNS),
        },
        status=status_code,
    )
