"""Pages for coordinators and everyone who looks participants up. Every page asks the
selectors for the participant (404 outside the user's sites, 403 for a role that may not
act) and the services for every change."""

from __future__ import annotations

from datetime import date

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from participants import contributions, cpr, eligibility, selectors, services
from participants.forms import ConsentForm, RegistrationForm, ScreeningForm, StatusForm
from participants.models import CLOSED_STATUSES, Participant, Sex, Status
from participants.services import OPEN_BEFORE_RANDOMIZATION
from trial import access, audit_trail, timeline
from trial.access import Viewer
from trial.errors import Forbidden, Invalid, TrialError
from trial.roles import Role
from trial.selectors import lock_level

PAGE_SIZE = 50


def _require_reader(request: HttpRequest) -> None:
    if not access.has_role(request.user, *selectors.PARTICIPANT_READERS):
        raise Forbidden(_("Your role does not give access to participants."))


def _show_errors(form: forms.Form, error: TrialError) -> None:
    """A service's refusal, on the form: field messages at their fields, the rest on top."""
    for field, field_messages in (error.fields or {"__all__": [error.message]}).items():
        for message in field_messages:
            form.add_error(field if field in form.fields else None, message)


@login_required
def participant_list(request: HttpRequest) -> HttpResponse:
    _require_reader(request)
    filters = {
        "site": request.GET.get("site", ""),
        "status": request.GET.get("status", ""),
        "q": request.GET.get("q", "").strip(),
    }
    problems: list[str] = []
    try:
        queryset = selectors.participant_list(
            user=request.user, site=filters["site"], status=filters["status"], search=filters["q"]
        )
    except Invalid as error:
        problems = [m for field_messages in (error.fields or {}).values() for m in field_messages]
        queryset = Participant.objects.none()
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "participants/list.html",
        {
            "page": page,
            "participants": page.object_list,
            "problems": problems,
            "sites": selectors.sites_visible_to(request.user),
            "statuses": Status.choices,
            "filters": filters,
            # While frozen or locked nothing can be saved: such forms are not offered (the
            # banner of every page says why).
            "can_register": access.has_role(request.user, Role.COORDINATOR)
            and lock_level() == "open",
        },
    )


@never_cache
@sensitive_post_parameters("cpr")
@login_required
@require_http_methods(["GET", "POST"])
def participant_register(request: HttpRequest) -> HttpResponse:
    sites = selectors.sites_visible_to(request.user).filter(
        pk__in=access.site_ids(request.user, Role.COORDINATOR)
    )
    if not access.has_role(request.user, Role.COORDINATOR) or not sites.exists():
        raise Forbidden(_("Only coordinators register participants."))
    form = RegistrationForm(request.POST or None, sites=sites)
    status = 200
    sex_warning = ""
    if request.method == "POST":
        if form.is_valid() and not (sex_warning := _sex_warning(form)):
            try:
                participant = services.participant_register(
                    user=request.user,
                    site_code=form.cleaned_data["site"].code,
                    cpr=form.cleaned_data["cpr"],
                    sex=form.cleaned_data["sex"],
                )
            except TrialError as error:
                _show_errors(form, error)
                status = error.status
            else:
                messages.success(
                    request,
                    _("Registered as {study_id}. Next: eligibility screening.").format(
                        study_id=participant.study_id,
                    ),
                )
                return redirect("participants:overview", pk=participant.pk)
        elif not sex_warning:
            status = 400
    return render(
        request,
        "participants/register.html",
        {"form": form, "sex_warning": sex_warning},
        status=status,
    )


def _sex_warning(form: RegistrationForm) -> str:
    """A warning (nothing saved yet) when the sex chosen differs from the one the CPR number's
    last digit gives, unless the user confirmed it; "" when there is nothing to warn about."""
    try:
        given = cpr.sex_of(cpr.parse_cpr(form.cleaned_data["cpr"]))
    except cpr.InvalidCpr:
        return ""  # the service refuses the number with its own message
    if given == form.cleaned_data["sex"] or form.cleaned_data.get("sex_confirmed"):
        return ""
    return _(
        "The CPR number's last digit is that of a %(given)s, but %(chosen)s is chosen. Check "
        "the sex; if it is right, tick the box below and register again. Nothing is saved yet."
    ) % {"given": Sex(given).label.lower(), "chosen": Sex(form.cleaned_data["sex"]).label.lower()}


@login_required
def participant_overview(request: HttpRequest, pk: int) -> HttpResponse:
    _require_reader(request)
    participant = selectors.participant_get(user=request.user, pk=pk)
    user = request.user
    entry_open = lock_level() == "open"
    coordinator_here = entry_open and selectors.may_act(user, participant, Role.COORDINATOR)
    return render(
        request,
        "participants/overview.html",
        {
            "participant": participant,
            "latest_screening": selectors.screenings_of(participant).first(),
            "allocation": contributions.fields_for(participant, user),
            "panels": contributions.panels_for(participant, user),
            "timeline": list(reversed(timeline.collect(participant, user))),
            "can_screen": coordinator_here and participant.status in OPEN_BEFORE_RANDOMIZATION,
            "can_consent": coordinator_here
            and participant.status in (Status.ELIGIBLE, Status.CONSENTED),
            "can_change_status": entry_open
            and selectors.may_act(user, participant, *selectors.STATUS_RECORDERS)
            and participant.status != Status.DECEASED,
            "can_read_audit": access.has_role(user, *selectors.AUDIT_READERS),
        },
    )


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def participant_screening(request: HttpRequest, pk: int) -> HttpResponse:
    participant = selectors.participant_for_action(
        user=request.user, pk=pk, roles=(Role.COORDINATOR,), what=_("eligibility screening")
    )
    today = timezone.localdate()
    age = cpr.age_on(participant.date_of_birth, today)
    form = ScreeningForm(request.POST or None, derived={"age_18_or_over": age >= 18})
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                screening = services.participant_screen(
                    user=request.user, participant=participant, answers=form.answers()
                )
            except TrialError as error:
                _show_errors(form, error)
                status = error.status
            else:
                if screening.eligible:
                    messages.success(
                        request, _("{study_id} is eligible.").format(study_id=participant.study_id)
                    )
                else:
                    messages.warning(
                        request,
                        _("{study_id} is not eligible.").format(study_id=participant.study_id),
                    )
                return redirect("participants:screening", pk=participant.pk)
        else:
            status = 400
    return render(
        request,
        "participants/screening.html",
        {
            "participant": participant,
            "form": form,
            "screenings": selectors.screenings_of(participant),
            "open": participant.status in OPEN_BEFORE_RANDOMIZATION,
            "diagnosis_reason": eligibility.DIAGNOSIS_REASON,
            "age": age,
        },
        status=status,
    )


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def participant_consent(request: HttpRequest, pk: int) -> HttpResponse:
    participant = selectors.participant_for_action(
        user=request.user, pk=pk, roles=(Role.COORDINATOR,), what=_("recording consent")
    )
    initial = {"consent_date": participant.consent_date} if participant.consent_date else {}
    form = ConsentForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.participant_record_consent(
                    user=request.user,
                    participant=participant,
                    consent_date=form.cleaned_data["consent_date"],
                    reason=form.cleaned_data["reason"],
                )
            except TrialError as error:
                _show_errors(form, error)
                status = error.status
            else:
                messages.success(
                    request,
                    _("Consent recorded for {study_id}.").format(study_id=participant.study_id),
                )
                return redirect("participants:overview", pk=participant.pk)
        else:
            status = 400
    return render(
        request,
        "participants/consent.html",
        {
            "participant": participant,
            "form": form,
            "open": participant.status in (Status.ELIGIBLE, Status.CONSENTED),
        },
        status=status,
    )


def _statuses_for(user: Viewer, participant: Participant) -> list[str]:
    allowed = []
    if selectors.may_act(user, participant, Role.COORDINATOR):
        allowed.append(Status.WITHDRAWN)
    if selectors.may_act(user, participant, *selectors.STATUS_RECORDERS):
        allowed += [Status.LOST_TO_FOLLOW_UP, Status.DECEASED]
    return [s for s in allowed if s != participant.status]


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def participant_status(request: HttpRequest, pk: int) -> HttpResponse:
    participant = selectors.participant_for_action(
        user=request.user,
        pk=pk,
        roles=selectors.STATUS_RECORDERS,
        what=_("recording withdrawal, loss to follow-up or death"),
    )
    statuses = _statuses_for(request.user, participant)
    form = StatusForm(request.POST or None, statuses=statuses)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.participant_close(
                    user=request.user,
                    participant=participant,
                    status=form.cleaned_data["status"],
                    on=form.cleaned_data["date"],
                    reason=form.cleaned_data["reason"],
                )
            except TrialError as error:
                _show_errors(form, error)
                status = error.status
            else:
                messages.success(
                    request,
                    _("{study_id} is recorded as {Status}.").format(
                        study_id=participant.study_id,
                        Status=Status(form.cleaned_data["status"]).label.lower(),
                    ),
                )
                return redirect("participants:overview", pk=participant.pk)
        else:
            status = 400
    return render(
        request,
        "participants/status.html",
        {
            "participant": participant,
            "form": form,
            "closed": participant.status == Status.DECEASED or not statuses,
            "closing_statuses": CLOSED_STATUSES,
        },
        status=status,
    )


@login_required
def participant_audit(request: HttpRequest, pk: int) -> HttpResponse:
    """One row per change, newest first, 50 a page; filtered by record (form, query ...),
    field, user, kind of change and a date range (Copenhagen dates)."""
    participant, entries = selectors.participant_audit_trail(user=request.user, pk=pk)
    query = request.GET
    problems: list[str] = []

    def day(name: str) -> date | None:
        text = query.get(name, "").strip()
        if not text:
            return None
        try:
            return date.fromisoformat(text)
        except ValueError:
            problems.append(_("%(text)s is not a date (YYYY-MM-DD).") % {"text": text[:20]})
            return None

    wanted = audit_trail.TrailFilter(
        record=query.get("record", ""),
        field=query.get("field", ""),
        who=query.get("who", ""),
        action=query.get("action", ""),
        since=day("since"),
        until=day("until"),
    )
    shown = [entry for entry in entries if wanted.matches(entry)]
    page = Paginator(shown, AUDIT_PAGE_SIZE).get_page(query.get("page"))
    rest = query.copy()
    rest.pop("page", None)
    return render(
        request,
        "participants/audit.html",
        {
            "participant": participant,
            "page": page,
            "entries": page.object_list,
            "total": len(shown),
            "everything": len(entries),
            "choices": audit_trail.filter_choices(entries),
            "filters": wanted,
            "filter_query": rest.urlencode(),
            "problems": problems,
        },
    )


AUDIT_PAGE_SIZE = 50
